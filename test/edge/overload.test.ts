/**
 * Load shedding on both servers (the embedded API inside `ponder start`, and a replica), with
 * one slot and a queue of one so that every outcome is decided by counting, not by timing: an
 * operation is kept in its slot for as long as the test wants — on the replica by a Postgres
 * lock on the payout table, on the embedded API (whose database reads give up on a lock after
 * 500 ms) by a stopped chain its `transaction(hash)` query waits on. Beyond the queue, OVERLOADED (503, Retry-After) comes at once; a client that leaves
 * frees its slot or its place in the queue; subscriptions take no slot; the optional per-client
 * rate limit answers RATE_LIMITED (429, Retry-After).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { post, subscribeSse, type GraphQLReply } from "../../harness/graphql";
import { waitUntil, patience } from "../../harness/wait";
import { CHEAP_QUERY, codesOf, PAYOUTS_QUERY, stallChain, STALLING_QUERY, startEdge, type Edge } from "./helpers";

const databaseUrl = process.env.DATABASE_URL;
/**
 * One slot, one queued; a queued operation waits long enough that only the test decides its fate.
 * No response cache: an answer cached by an earlier test would take no slot.
 */
const LIMITS = { API_MAX_CONCURRENT: "1", API_MAX_QUEUED: "1", API_QUEUE_TIMEOUT_MS: "100000", API_RESPONSE_CACHE: "false" };

type Target = { graphqlUrl: string; metricsUrl: string };

describe.skipIf(!databaseUrl)("load shedding", () => {
  let edge: Edge;
  const targets: Record<string, Target> = {};
  let rateLimitedUrl: string;

  beforeAll(async () => {
    edge = await startEdge({ databaseUrl: databaseUrl!, ponderEnv: LIMITS });
    const replica = await edge.startReplica(LIMITS);
    const limited = await edge.startReplica({ API_RATE_LIMIT: "3", API_RATE_LIMIT_WINDOW_MS: "60000" });
    targets.embedded = { graphqlUrl: edge.embeddedUrl, metricsUrl: `${edge.ponder.baseUrl}/metrics` };
    targets.replica = { graphqlUrl: replica.graphqlUrl, metricsUrl: `${replica.baseUrl}/metrics` };
    rateLimitedUrl = limited.graphqlUrl;
  }, patience(600_000));
  afterAll(async () => {
    await edge?.stop();
  });

  /** Keeps whatever starts `query` waiting until released; `query` then holds the one slot. */
  async function hold(name: string): Promise<{ query: string; release: () => Promise<void> }> {
    if (name === "replica") return { query: PAYOUTS_QUERY, release: await edge.lockPayouts() };
    const resume = stallChain(edge);
    return { query: STALLING_QUERY, release: async () => resume() };
  }

  /** Starts `query` and returns once it holds the slot (its reply still to come). */
  async function occupySlot(target: Target, query: string, signal?: AbortSignal) {
    const reply = post(target.graphqlUrl, query, { signal }).catch((error: unknown) => error as Error);
    await waitUntil(async () => (await gauge(target, "graphql_operations_running")) === 1, "the operation to hold the slot");
    return { reply };
  }

  async function gauge(target: Target, name: string): Promise<number> {
    const text = await (await fetch(target.metricsUrl)).text();
    return Number(new RegExp(`^${name} (\\d+)`, "m").exec(text)?.[1] ?? NaN);
  }

  /** Runs `test` against `name`'s server while `query` there holds its slot (see hold), releasing it however `test` ends. */
  async function whileHeld(name: string, test: (target: Target, query: string, release: () => Promise<void>) => Promise<void>) {
    const { query, release } = await hold(name);
    try {
      await test(targets[name]!, query, release);
    } finally {
      await release();
    }
  }

  const overloaded = (reply: GraphQLReply) => reply.status === 503 && codesOf(reply).join() === "OVERLOADED" && Number(reply.headers.get("retry-after")) > 0;

  for (const name of ["embedded", "replica"]) {
    describe(name, () => {
      it("answers a burst beyond its slot and queue with OVERLOADED at once, then serves what it admitted and a cheap query", () =>
        whileHeld(name, async (target, query, release) => {
          const { reply: first } = await occupySlot(target, query);
          const burst = Array.from({ length: 10 }, () => post(target.graphqlUrl, query));
          const answered: GraphQLReply[] = [];
          for (const reply of burst) void reply.then((value) => answered.push(value));
          // One of the ten takes the queue's place; the other nine are refused while the lock still holds the slot.
          await waitUntil(() => answered.length >= 9, "nine refusals while the slot is held");
          expect(answered.every(overloaded), JSON.stringify(answered.map((reply) => [reply.status, reply.body]))).toBe(true);
          expect(answered[0]!.body.errors![0]!.extensions).toEqual({ code: "OVERLOADED" });
          expect(await gauge(target, "graphql_operations_queued")).toBe(1);
          await release();
          const all = await Promise.all(burst);
          expect(all.filter((reply) => reply.status === 200 && reply.body.data && !reply.body.errors)).toHaveLength(1);
          const held = await first;
          expect(held instanceof Error ? held.message : held.status).toBe(200);
          expect((await post(target.graphqlUrl, CHEAP_QUERY)).body.data?.indexingStatus).toBeDefined();
        }),
      );

      it("frees the slot of a client that went away mid-request, while its statement would still be waiting", () =>
        whileHeld(name, async (target, query) => {
          const abort = new AbortController();
          await occupySlot(target, query, abort.signal);
          // On the replica the statement itself waits in Postgres.
          if (name === "replica") await waitUntil(async () => (await edge.waitingOnLock()) === 1, "the statement to wait on the lock");
          abort.abort();
          await waitUntil(async () => (await gauge(target, "graphql_operations_running")) === 0, "the slot to be released");
          const cheap = await post(target.graphqlUrl, CHEAP_QUERY);
          expect(cheap.status).toBe(200);
          expect(cheap.body.data?.indexingStatus).toBeDefined();
          // The replica cancels the statement too (postgres.js), while the lock is still held.
          if (name === "replica") await waitUntil(async () => (await edge.waitingOnLock()) === 0, "the abandoned statement to be cancelled");
        }),
      );

      it("drops a queued request whose client went away, so the queue takes the next one", () =>
        whileHeld(name, async (target, query, release) => {
          const { reply: first } = await occupySlot(target, query);
          const abort = new AbortController();
          const leaving = post(target.graphqlUrl, query, { signal: abort.signal }).catch((error: unknown) => error);
          await waitUntil(async () => (await gauge(target, "graphql_operations_queued")) === 1, "the request to be queued");
          abort.abort();
          await leaving;
          await waitUntil(async () => (await gauge(target, "graphql_operations_queued")) === 0, "the request to leave the queue");
          // Queued, not refused: the place is free again.
          const next = post(target.graphqlUrl, query);
          await waitUntil(async () => (await gauge(target, "graphql_operations_queued")) === 1, "the next request to be queued");
          await release();
          const answered = await next;
          expect(answered.status).toBe(200);
          expect(answered.body.errors).toBeUndefined();
          await first;
        }),
      );

      it("keeps subscriptions out of the slots: one starts while the slot and the queue are full", () =>
        whileHeld(name, async (target, query, release) => {
          const subscription = subscribeSse<{ latestBlock: { number: number } }>(target.graphqlUrl, `subscription { indexingStatus { latestBlock { number } } }`);
          try {
            const { reply: first } = await occupySlot(target, query);
            const queued = post(target.graphqlUrl, query);
            await waitUntil(async () => (await gauge(target, "graphql_operations_queued")) === 1, "the queue to fill");
            expect(overloaded(await post(target.graphqlUrl, CHEAP_QUERY))).toBe(true);
            await waitUntil(() => subscription.received.length > 0 || subscription.errors.length > 0, "the subscription's first event");
            expect(subscription.errors).toEqual([]);
            await release();
            await Promise.all([first, queued]);
          } finally {
            subscription.close();
          }
        }),
      );
    });
  }

  it("limits requests per client when API_RATE_LIMIT is set: RATE_LIMITED, 429, Retry-After", async () => {
    const replies: GraphQLReply[] = [];
    for (let i = 0; i < 5; i++) replies.push(await post(rateLimitedUrl, CHEAP_QUERY));
    expect(replies.slice(0, 3).map((reply) => reply.status)).toEqual([200, 200, 200]);
    for (const reply of replies.slice(3)) {
      expect(reply.status).toBe(429);
      expect(codesOf(reply)).toEqual(["RATE_LIMITED"]);
      expect(Number(reply.headers.get("retry-after"))).toBeGreaterThan(0);
    }
  });
});
