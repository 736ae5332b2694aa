/**
 * Bounded work and coded errors at the public edge, against the embedded API (Ponder on
 * Postgres) and a replica over the same tables: cost with variables, one series budget per
 * request, list lengths, every bad input coded on HTTP, SSE and graphql-ws, clipped messages,
 * a WebSocket that survives a bad operation, transactionIndexed that ends, bounded labels.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { graphql, subscribeSse, subscribeWs, type SubscriptionHandle } from "../../harness/graphql";
import { waitUntil, patience } from "../../harness/wait";
import { stakingCursor, startEdgeWithReplica, type EdgeWithReplica } from "./helpers";

const databaseUrl = process.env.DATABASE_URL;
const TX_WAIT_MS = 1_500;
const MAX_OPERATIONS = 20;

type ErrorLike = { message?: string; extensions?: { code?: string } };

/** The codes of a request's errors over HTTP, SSE or graphql-ws; graphql-ws reports an operation's errors as one array. */
async function codesOver(transport: "http" | "sse" | "ws", url: string, query: string, variables: Record<string, unknown> = {}) {
  if (transport === "http") return ((await graphql(url, query, variables)).errors ?? []).map((error) => error.extensions?.code);
  const handle: SubscriptionHandle<unknown> = transport === "sse" ? subscribeSse(url, query, variables) : subscribeWs(url, query, variables);
  await handle.ended;
  handle.close();
  return (handle.errors.flat() as ErrorLike[]).map((error) => error.extensions?.code);
}

const nestedPayouts = `query ($n: Int) { payouts(first: $n) { edges { node { recipientAccount { payouts(first: $n) { edges { node { recipientAccount { payouts(first: $n) { edges { node { id } } } } } } } } } } } }`;
const series = (alias: string, days: number) =>
  `${alias}: revenueSeries(interval: DAY, from: "2020-01-01T00:00:00Z", to: "${new Date(Date.UTC(2020, 0, 1) + days * 86_400_000).toISOString()}") { amount }`;

describe.skipIf(!databaseUrl)("limits and error codes at the edge (embedded and replica)", () => {
  let edge: EdgeWithReplica;
  let cursor: string;

  beforeAll(async () => {
    edge = await startEdgeWithReplica({ databaseUrl: databaseUrl!, steps: 60, env: { API_TX_WAIT_TIMEOUT_MS: String(TX_WAIT_MS), API_METRICS_MAX_OPERATIONS: String(MAX_OPERATIONS) } });
    cursor = await stakingCursor(edge, edge.embeddedUrl);
  }, patience(1_200_000));
  afterAll(async () => {
    await edge?.stop();
  });

  const servers = () => [
    ["embedded", edge.embeddedUrl],
    ["replica", edge.replicaGraphql],
  ] as const;

  it("refuses nested lists sized by variables by cost, before any resolver runs", async () => {
    for (const [server, url] of servers()) {
      expect(await codesOver("http", url, nestedPayouts, { n: 100 }), server).toEqual(["QUERY_TOO_COMPLEX"]);
      expect(await codesOver("http", url, nestedPayouts, { n: 2 }), server).toEqual([]);
    }
    const subscription = `subscription ($n: Int) { payouts { payout { recipientAccount { payouts(first: $n) { edges { node { recipientAccount { payouts(first: $n) { edges { node { id } } } } } } } } } } }`;
    expect(await codesOver("sse", edge.embeddedUrl, subscription, { n: 100 })).toEqual(["QUERY_TOO_COMPLEX"]);
    expect(await codesOver("ws", edge.replicaGraphql, subscription, { n: 100 })).toEqual(["QUERY_TOO_COMPLEX"]);
  });

  it("holds revenue series to one point budget per request, across aliases", async () => {
    for (const [server, url] of servers()) {
      expect(await codesOver("http", url, `{ ${series("a", 1500)} }`), server).toEqual([]);
      const codes = await codesOver("http", url, `{ ${series("a", 1500)} ${series("b", 1500)} }`);
      expect(codes, server).toEqual(["TOO_MANY_SERIES_POINTS"]);
      const many = Array.from({ length: 20 }, (_, index) => series(`s${index}`, 200)).join(" ");
      expect(await codesOver("http", url, `{ ${many} }`), server).toContain("TOO_MANY_SERIES_POINTS");
    }
  });

  it("refuses long list arguments, in variables and in the query", async () => {
    const streams = `query ($s: [RevenueStream!]) { revenueSeries(interval: DAY, from: "2025-01-01T00:00:00Z", to: "2025-01-02T00:00:00Z", streams: $s) { amount } }`;
    for (const [server, url] of servers()) {
      // Ten times the cap (the unit test takes a million items; a body that size is the body limit's to refuse).
      expect(await codesOver("http", url, streams, { s: Array.from({ length: 1_000 }, () => "NODE_PAYMENT") }), server).toEqual(["LIST_TOO_LONG"]);
      expect(await codesOver("http", url, streams, { s: ["NODE_PAYMENT", "STAKING_REWARD"] }), server).toEqual([]);
      const literal = `{ revenueSeries(interval: DAY, from: "2025-01-01T00:00:00Z", to: "2025-01-02T00:00:00Z", streams: [${"NODE_PAYMENT ".repeat(101)}]) { amount } }`;
      expect(await codesOver("http", url, literal), server).toEqual(["LIST_TOO_LONG"]);
    }
    const subscription = `subscription ($s: [RevenueStream!]) { payouts(streams: $s) { cursor } }`;
    expect(await codesOver("sse", edge.embeddedUrl, subscription, { s: Array.from({ length: 1_000 }, () => "NODE_PAYMENT") })).toEqual(["LIST_TOO_LONG"]);
    expect(await codesOver("ws", edge.replicaGraphql, subscription, { s: Array.from({ length: 1_000 }, () => "NODE_PAYMENT") })).toEqual(["LIST_TOO_LONG"]);
  });

  it("answers every bad query input with its code, quoting at most a short prefix", async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      [`query ($n: Int) { tasks(first: $n) { edges { cursor } } }`, { n: "ten" }, "BAD_USER_INPUT"],
      [`query ($a: Address!) { account(address: $a) { balance } }`, {}, "BAD_USER_INPUT"],
      [`query ($f: PayoutFilter) { payouts(filter: $f) { edges { cursor } } }`, { f: { nosuch: 1 } }, "BAD_USER_INPUT"],
      [`query ($s: [RevenueStream!]) { revenueSeries(interval: DAY, from: "2025-01-01T00:00:00Z", to: "2025-01-02T00:00:00Z", streams: $s) { amount } }`, { s: ["NOPE"] }, "BAD_USER_INPUT"],
      [`query ($a: Address!) { account(address: $a) { balance } }`, { a: 5 }, "INVALID_ADDRESS"],
      [`{ tasks(after: "not-a-cursor") { edges { cursor } } }`, {}, "INVALID_CURSOR"],
      [`{ tasks(first: `, {}, "GRAPHQL_PARSE_FAILED"],
      [`{ nosuch }`, {}, "GRAPHQL_VALIDATION_FAILED"],
    ];
    for (const [server, url] of servers()) {
      for (const [query, variables, code] of cases) expect(await codesOver("http", url, query, variables), `${server}: ${query}`).toEqual([code]);
      const long = "x".repeat(10_000);
      for (const [query, variables] of [
        [`query ($a: Address!) { account(address: $a) { balance } }`, { a: long }],
        [`query ($n: Int) { tasks(first: $n) { edges { cursor } } }`, { n: long }],
        [`{ ${long} }`, {}],
      ] as const) {
        const { errors } = await graphql(url, query, variables);
        expect(errors?.[0]?.extensions?.code, server).toBeDefined();
        expect(errors![0]!.message.length, `${server}: ${errors![0]!.message.slice(0, 100)}`).toBeLessThan(300);
      }
    }
  });

  it("answers every bad subscription input with its code, over SSE and graphql-ws", async () => {
    const [epochPart, seq] = (() => {
      const [, epoch, position] = Buffer.from(cursor, "base64url").toString().split(":");
      return [epoch!, position!];
    })();
    const withSeq = (position: string) => Buffer.from(`feed:${epochPart}:${position}`).toString("base64url");
    const beyond = seq.includes("-") ? `${Number(seq.split("-")[0]) + 1e9}-0` : String(Number(seq) + 1e6);
    const payouts = `subscription ($after: String) { payouts(after: $after) { cursor } }`;
    const cases: [string, Record<string, unknown>, string][] = [
      [`subscription ($s: [RevenueStream!]) { payouts(streams: $s) { cursor } }`, { s: "NODE_PAYMENT!" }, "BAD_USER_INPUT"],
      [`subscription ($h: Bytes32!) { transactionIndexed(hash: $h) { hash } }`, {}, "BAD_USER_INPUT"],
      [`subscription ($h: Bytes32!) { transactionIndexed(hash: $h) { hash } }`, { h: "0x12" }, "INVALID_BYTES32"],
      [payouts, { after: "not-a-cursor" }, "INVALID_CURSOR"],
      [payouts, { after: withSeq("zz") }, "INVALID_CURSOR"],
      [payouts, { after: withSeq(beyond) }, "INVALID_CURSOR"],
      [`subscription { payouts(`, {}, "GRAPHQL_PARSE_FAILED"],
      [`subscription { nosuch }`, {}, "GRAPHQL_VALIDATION_FAILED"],
    ];
    for (const [query, variables, code] of cases) expect(await codesOver("sse", edge.embeddedUrl, query, variables), `SSE: ${query} ${JSON.stringify(variables)}`).toEqual([code]);
    // The replica keeps its own feed log: its cursors have their own epoch (another feed's is CURSOR_EXPIRED).
    expect(await codesOver("ws", edge.replicaGraphql, payouts, { after: cursor })).toEqual(["CURSOR_EXPIRED"]);
    const replicaCursor = await stakingCursor(edge, edge.replicaGraphql);
    const [, replicaEpoch, replicaSeq] = Buffer.from(replicaCursor, "base64url").toString().split(":");
    const replicaWith = (position: string) => Buffer.from(`feed:${replicaEpoch}:${position}`).toString("base64url");
    const replicaBeyond = replicaSeq!.includes("-") ? `${Number(replicaSeq!.split("-")[0]) + 1e9}-0` : String(Number(replicaSeq) + 1e6);
    for (const [query, variables, code] of cases) {
      const adapted = variables.after === withSeq("zz") ? { after: replicaWith("zz") } : variables.after === withSeq(beyond) ? { after: replicaWith(replicaBeyond) } : variables;
      for (const transport of ["sse", "ws"] as const) {
        expect(await codesOver(transport, edge.replicaGraphql, query, adapted), `${transport}: ${query} ${JSON.stringify(adapted)}`).toEqual([code]);
      }
    }
  });

  it("ends transactionIndexed with TRANSACTION_NOT_INDEXED when the hash never comes", async () => {
    const query = `subscription ($h: Bytes32!) { transactionIndexed(hash: $h) { hash } }`;
    const h = `0x${"ab".repeat(32)}`;
    expect(await codesOver("sse", edge.embeddedUrl, query, { h })).toEqual(["TRANSACTION_NOT_INDEXED"]);
    expect(await codesOver("ws", edge.replicaGraphql, query, { h })).toEqual(["TRANSACTION_NOT_INDEXED"]);
  });

  it("keeps a WebSocket and its other subscriptions up when one operation is bad", async () => {
    const live = subscribeWs<{ latestBlock: { number: number } }>(edge.replicaGraphql, `subscription { indexingStatus { latestBlock { number } } }`);
    await waitUntil(() => live.received.length > 0, "the first status");
    const failures: unknown[] = [];
    for (const query of [`subscription { payouts(`, `subscription { nosuch }`, `{ tasks(first: "x") { edges { cursor } } }`]) {
      await new Promise<void>((resolve) => live.client.subscribe({ query }, { next: () => {}, error: (error) => (failures.push(error), resolve()), complete: resolve }));
    }
    expect((failures.flat() as ErrorLike[]).map((error) => error.extensions?.code)).toEqual(["GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "GRAPHQL_VALIDATION_FAILED"]);
    const before = live.received.at(-1)!.latestBlock.number;
    await edge.chain.testClient.mine({ blocks: 3 });
    await waitUntil(() => live.received.at(-1)!.latestBlock.number > before, "the status subscription to keep receiving on the same connection");
    expect(live.errors).toEqual([]);
    live.close();
  });

  it("bounds /metrics operation labels however many names clients invent", async () => {
    for (let index = 0; index < 3 * MAX_OPERATIONS; index++) await graphql(edge.replicaGraphql, `query Invented${index} { indexingStatus { chainId } }`);
    const text = await (await fetch(`${edge.replicaUrl}/metrics`)).text();
    const labels = new Set([...text.matchAll(/graphql_requests_total\{operation="([^"]*)"/g)].map((match) => match[1]));
    expect(labels.size).toBeLessThanOrEqual(MAX_OPERATIONS + 1);
    expect(labels).toContain("other");
    expect(text).not.toContain(`Invented${3 * MAX_OPERATIONS - 1}`);
  });
});
