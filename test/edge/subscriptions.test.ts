/**
 * Subscribers that stop reading, with real sockets: a raw HTTP client on SSE and a graphql-ws
 * client, each pausing its socket so the kernel buffers fill and the server's writer stalls.
 * The fan-out must cut them off when their queue passes API_FEED_MAX_QUEUE although they never pull
 * again: the subscriber gauge drops at once; a client that reads again within the grace period
 * gets SLOW_CONSUMER with a cursor it can resume from; one that never does is disconnected.
 */
import { execFileSync } from "node:child_process";
import { connect, type Socket } from "node:net";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { subscribeSse } from "../../harness/graphql";
import { waitUntil, patience } from "../../harness/wait";
import { runScenario } from "../../harness/scenario";
import { metricValue } from "../../harness/metrics";
import { stakingCursor, startEdgeWithReplica, type EdgeWithReplica } from "./helpers";

const databaseUrl = process.env.DATABASE_URL;

/**
 * Each event carries its recipient's latest 100 payouts twenty times over (~66 KB): loopback's
 * kernel buffers take megabytes before a stalled reader makes the server's socket buffer anything.
 */
const HEAVY = `subscription ($after: String) { payouts(after: $after) { cursor ${Array.from(
  { length: 20 },
  (_, index) => `p${index}: payout { recipientAccount { payouts(first: 100) { edges { node { id recipient amount usdValue transactionHash timestamp stream } } } } }`,
).join(" ")} } }`;

/** A raw HTTP/1.1 SSE request whose socket reads nothing until `resume()`. */
function stalledSse(url: string, query: string, variables: Record<string, unknown>) {
  const { hostname, port, pathname } = new URL(url);
  const body = JSON.stringify({ query, variables });
  const socket: Socket = connect(Number(port), hostname);
  socket.pause();
  let text = "";
  let closed = false;
  socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
  socket.on("close", () => (closed = true));
  socket.on("error", () => (closed = true));
  socket.write(
    `POST ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  return { socket, text: () => text, closed: () => closed, resume: () => void socket.resume() };
}

/**
 * Whether the server still holds this client's connection, asked of the kernel about the
 * server's end: a paused client learns nothing itself, and a FIN queued behind unread data
 * never reaches it, but the server's end leaves ESTABLISHED as soon as the server closes it.
 */
function established(socket: Socket): boolean {
  const filter = `( sport = :${socket.remotePort} and dport = :${socket.localPort} )`;
  return execFileSync("ss", ["-tnH", "state", "established", filter], { encoding: "utf8" }).trim().length > 0;
}

/** The cursor a SLOW_CONSUMER message tells the client to resume from. */
function resumeCursor(text: string): string | undefined {
  return /SLOW_CONSUMER/.test(text) ? /after: \\?"([A-Za-z0-9_-]+)\\?"/.exec(text)?.[1] : undefined;
}

describe.skipIf(!databaseUrl)("slow subscribers are cut off without reading again (SSE and graphql-ws)", () => {
  let edge: EdgeWithReplica;
  let early: { embedded: string; replica: string };

  async function settle(steps: number, seed: number) {
    await runScenario({ rpcUrl: edge.chain.anvil.rpcUrl, publicClient: edge.chain.publicClient, manifest: edge.chain.manifest, seed, steps, label: `slow-${seed}` });
    await edge.ponder.waitForBlock(await edge.chain.publicClient.getBlockNumber(), 600_000);
  }

  beforeAll(async () => {
    edge = await startEdgeWithReplica({
      databaseUrl: databaseUrl!,
      steps: 20,
      // A grace long enough for the test to see both cut off and resume the reader on a busy machine.
      env: { API_FEED_MAX_QUEUE: "3", API_FEED_STALL_GRACE_MS: String(patience(10_000)), API_MAX_COST: "100000000", API_WS_KEEPALIVE_MS: "600000" },
    });
    // A cursor from before the history below, on each feed: resuming from it replays all of it.
    early = { embedded: await stakingCursor(edge, edge.embeddedUrl), replica: await stakingCursor(edge, edge.replicaGraphql) };
    await settle(150, 21);
  }, patience(1_200_000));
  afterAll(async () => {
    await edge?.stop();
  });

  // Each settles 60 more steps and waits out the grace: minutes on a busy machine.
  it("over SSE: frees the subscriber at once, tells a client that reads again, drops one that does not", { timeout: patience(240_000) }, async () => {
    const base = edge.ponder.baseUrl;
    const before = (await metricValue(base, "graphql_feed_subscribers")) ?? 0;
    const cutBefore = (await metricValue(base, "graphql_feed_slow_consumers_total")) ?? 0;
    const reader = stalledSse(edge.embeddedUrl, HEAVY, { after: early.embedded });
    const silent = stalledSse(edge.embeddedUrl, HEAVY, { after: early.embedded });
    await waitUntil(async () => ((await metricValue(base, "graphql_feed_subscribers")) ?? 0) >= before + 2, "both subscribers to be counted");
    // Live events while both are stalled in their replay: their queues pass the bound.
    await settle(60, 22);
    await waitUntil(async () => ((await metricValue(base, "graphql_feed_subscribers")) ?? 0) <= before, "the fan-out to free both stalled subscribers", 60_000);
    // Operators see them counted, once each (FarSubscribersCutSlow reads it).
    expect(await metricValue(base, "graphql_feed_slow_consumers_total")).toBe(cutBefore + 2);

    reader.resume();
    await waitUntil(() => reader.closed() || /event: complete/.test(reader.text()), "the reader's stream to end");
    const cursor = resumeCursor(reader.text());
    expect(cursor, reader.text().slice(-500)).toBeDefined();
    // The cursor resumes: everything after it replays without error.
    const resumed = subscribeSse<{ cursor: string }>(edge.embeddedUrl, `subscription ($after: String) { payouts(after: $after) { cursor } }`, { after: cursor });
    await waitUntil(() => resumed.received.length > 0 || resumed.errors.length > 0, "the resumed subscription's first event");
    resumed.close();
    expect(resumed.errors).toEqual([]);

    await waitUntil(() => !established(silent.socket), "the server to drop the connection that never reads", 60_000);
    silent.socket.destroy();
    reader.socket.destroy();
  });

  it("over graphql-ws: the same, with the connection's socket paused", { timeout: patience(240_000) }, async () => {
    const base = edge.replicaUrl;
    const before = (await metricValue(base, "graphql_feed_subscribers")) ?? 0;
    const cutBefore = (await metricValue(base, "graphql_feed_slow_consumers_total")) ?? 0;
    const clients = [0, 1].map(() => {
      const state: { ws?: WebSocket; socket?: Socket; errors: unknown[]; ended: boolean; reading: boolean } = { errors: [], ended: false, reading: false };
      const client = createClient({
        url: edge.replicaGraphql.replace(/^http/, "ws"),
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: false,
        on: {
          connected: (socket) => {
            state.ws = socket as WebSocket;
            state.socket = (socket as unknown as { _socket: Socket })._socket;
          },
        },
      });
      client.subscribe({ query: HEAVY, variables: { after: early.replica } }, {
        next: (payload) => {
          // ws's own pause: a paused net.Socket alone is resumed by ws when its parser drains.
          if (!state.reading) state.ws?.pause();
          if (payload.errors) state.errors.push(...payload.errors);
        },
        error: (error) => {
          state.errors.push(error);
          state.ended = true;
        },
        complete: () => void (state.ended = true),
      });
      return { client, state };
    });
    const [reader, silent] = clients as [(typeof clients)[number], (typeof clients)[number]];
    await waitUntil(async () => ((await metricValue(base, "graphql_feed_subscribers")) ?? 0) >= before + 2, "both subscribers to be counted");
    await waitUntil(() => Boolean(reader.state.socket && silent.state.socket), "both sockets");
    await settle(60, 23);
    await waitUntil(async () => ((await metricValue(base, "graphql_feed_subscribers")) ?? 0) <= before, "the fan-out to free both stalled subscribers", 60_000);
    expect(await metricValue(base, "graphql_feed_slow_consumers_total")).toBe(cutBefore + 2);

    // The reader reads again (and keeps reading): its operation ends with SLOW_CONSUMER and a cursor.
    reader.state.reading = true;
    reader.state.ws!.resume();
    const keepReading = setInterval(() => reader.state.ws?.resume(), 10);
    await waitUntil(() => reader.state.ended, "the reader's operation to end");
    clearInterval(keepReading);
    const message = JSON.stringify(reader.state.errors);
    expect(message).toContain("SLOW_CONSUMER");
    expect(resumeCursor(message)).toBeDefined();

    await waitUntil(() => !established(silent.state.socket!), "the server to drop the connection that never reads", 60_000);
    for (const { client } of clients) await client.dispose();
  });
});
