/**
 * The transports' own bounds, on the embedded API (inside `ponder start`) and a replica: a
 * request body over API_MAX_BODY_BYTES is refused with 413 and a GraphQL error carrying
 * BODY_TOO_LARGE (announced by Content-Length or not), a WebSocket message over it closes the
 * connection with 1009, and a replica with no API_HOST listens on loopback only.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { post } from "../../harness/graphql";
import { listeningAddresses } from "../../harness/ports";
import { CHEAP_QUERY, codesOf, startEdge, type Edge } from "./helpers";
import { patience } from "../../harness/wait";

const databaseUrl = process.env.DATABASE_URL;
const MAX_BODY_BYTES = 20_000;

describe.skipIf(!databaseUrl)("transport limits", () => {
  let edge: Edge;
  let replica: Awaited<ReturnType<Edge["startReplica"]>>;
  const urls: Record<string, string> = {};

  beforeAll(async () => {
    edge = await startEdge({ databaseUrl: databaseUrl!, ponderEnv: { API_MAX_BODY_BYTES: String(MAX_BODY_BYTES) } });
    replica = await edge.startReplica({ API_MAX_BODY_BYTES: String(MAX_BODY_BYTES) });
    urls.embedded = edge.embeddedUrl;
    urls.replica = replica.graphqlUrl;
  }, patience(600_000));
  afterAll(async () => {
    await edge?.stop();
  });

  /** A legal query padded with whitespace to `bytes`: only its size is wrong. */
  const padded = (bytes: number) => JSON.stringify({ query: CHEAP_QUERY.padEnd(bytes, " ") });

  for (const name of ["embedded", "replica"]) {
    it(`${name}: refuses a body over the limit with 413 BODY_TOO_LARGE, with or without Content-Length, and takes one under it`, async () => {
      const url = urls[name]!;
      const headers = { "content-type": "application/json" };
      const declared = await fetch(url, { method: "POST", headers, body: padded(MAX_BODY_BYTES * 5) });
      expect(declared.status).toBe(413);
      expect(await declared.json()).toEqual({ errors: [{ message: `The request body exceeds ${MAX_BODY_BYTES} bytes`, extensions: { code: "BODY_TOO_LARGE" } }] });

      // Chunked: the size is only known while reading. Just over the limit, in one chunk: the
      // client has written it all before the answer, so the answer is never lost to a write into
      // a connection the server has already closed (EPIPE), which a larger body races.
      const body = new TextEncoder().encode(padded(MAX_BODY_BYTES + 100));
      const stream = new ReadableStream({
        start(controller) {
          controller.enqueue(body);
          controller.close();
        },
      });
      const chunked = await fetch(url, { method: "POST", headers, body: stream, duplex: "half" } as RequestInit);
      expect(chunked.status).toBe(413);
      expect(((await chunked.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe("BODY_TOO_LARGE");

      const under = await fetch(url, { method: "POST", headers, body: padded(MAX_BODY_BYTES - 100) });
      expect(under.status).toBe(200);
      expect(codesOf({ status: 200, headers: under.headers, body: await under.json() })).toEqual([]);
    });
  }

  it("replica: closes a WebSocket whose message exceeds the limit with 1009 (Message Too Big)", async () => {
    const socket = new WebSocket(replica.graphqlUrl.replace(/^http/, "ws"), "graphql-transport-ws");
    const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    const acknowledged = new Promise<void>((resolve) => socket.once("message", () => resolve()));
    socket.send(JSON.stringify({ type: "connection_init" }));
    await acknowledged;
    socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: CHEAP_QUERY.padEnd(MAX_BODY_BYTES * 2, " ") } }));
    expect(await closed).toBe(1009);
  });

  it("replica: without API_HOST, listens on 127.0.0.1 only", async () => {
    expect(await listeningAddresses(replica.port)).toEqual(["127.0.0.1"]);
    expect((await post(replica.graphqlUrl, CHEAP_QUERY)).status).toBe(200);
  });
});
