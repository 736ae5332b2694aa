/**
 * The response cache, its ETags and persisted queries (api/plugins/use-response-cache.ts,
 * use-persisted-queries.ts), over the indexer's tables in an in-memory PGlite whose
 * `_ponder_checkpoint` the test writes itself, in the same transaction as the rows, as Ponder
 * does when it commits a block. Through `yoga.fetch`, and over real HTTP for the conditional
 * requests and subscriptions; with Redis (REDIS_URL) two API instances share what they cache,
 * each test under a key prefix of its own.
 */
import { createHash } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { isTable, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/pglite";
import type { PgTable } from "drizzle-orm/pg-core";
import { Hono } from "hono";
import { Redis } from "ioredis";
import { pino } from "pino";
import { Registry, type Counter } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadApiConfig } from "../../api/config";
import { createApi } from "../../api/create-api";
import { countingDb, readIndexingStatus } from "../../api/db";
import { startFeed } from "../../api/feed";
import { mountApi } from "../../api/http";
import * as schema from "../../schema";
import { subscribeSse } from "../../harness/graphql";
import { waitUntil } from "../../harness/wait";
import { tablesInMemory } from "../unit/indexer-tables";

const redisUrl = process.env.REDIS_URL;
const logger = pino({ level: process.env.TEST_LOG ?? "silent" });
const ALICE = "0x00000000000000000000000000000000000a11ce";

let tables: Awaited<ReturnType<typeof tablesInMemory>>;
/** Snake-case columns, as the replica's and Ponder's own drizzle instances read them. */
let db: ReturnType<typeof drizzle>;
let block = 0;
/** Statements reading the indexing status take; a cache hit runs nothing else. */
let statusStatements = 0;

/** Ponder's encoding: block timestamp (10 digits), chain id (16), block number (16), then the position in the block. */
const checkpointOf = (number: number) => `${String(1_700_000_000 + number).padStart(10, "0")}${"31337".padStart(16, "0")}${String(number).padStart(16, "0")}${"9".repeat(33)}`;

function payoutAt(number: number, index: number) {
  return {
    id: `p${number}-${index}`,
    stream: "NODE_PAYMENT" as const,
    recipient: ALICE as `0x${string}`,
    amount: BigInt(number * 1_000 + index) * 10n ** 18n,
    usdValue: 1n,
    farUsdPrice: 1n,
    taskId: null,
    node: null,
    blockNumber: number,
    logIndex: index,
    timestamp: 1_700_000_000 + number,
    transactionHash: `0x${"ab".repeat(32)}` as `0x${string}`,
    blockHash: `0x${"cd".repeat(32)}` as `0x${string}`,
  };
}

/**
 * Commits a block as Ponder does: its rows and the checkpoint in one transaction. `replace`
 * commits the latest block again (a reorg's replacement of the same number), `finalized` where
 * the finalized block is.
 */
async function commit({ rows = 1, replace = false, finalized = 0 }: { rows?: number; replace?: boolean; finalized?: number } = {}) {
  if (!replace) block += 1;
  await db.transaction(async (tx) => {
    if (replace) await tx.execute(sql`DELETE FROM payout WHERE block_number = ${block}`);
    for (let index = 0; index < rows; index++) await tx.insert(schema.payout).values(payoutAt(block, replace ? index + 100 : index));
    await tx.execute(sql`
      INSERT INTO _ponder_checkpoint VALUES ('anvil', 31337, ${checkpointOf(block)}, ${checkpointOf(block)}, ${checkpointOf(finalized)})
      ON CONFLICT (chain_name) DO UPDATE SET safe_checkpoint = excluded.safe_checkpoint, latest_checkpoint = excluded.latest_checkpoint, finalized_checkpoint = excluded.finalized_checkpoint`);
  });
}

type Reply = {
  status: number;
  etag: string | null;
  cacheControl: string | null;
  body: {
    data?: Record<string, any>;
    errors?: { message: string; extensions?: { code?: string } }[];
    extensions?: { sqlStatements?: number; responseCache?: { hit?: boolean; didCache?: boolean } };
  };
};

type Operation = { query?: string; variables?: Record<string, unknown>; operationName?: string; extensions?: Record<string, unknown> };

async function replyOf(response: Response): Promise<Reply> {
  const text = await response.text();
  return { status: response.status, etag: response.headers.get("etag"), cacheControl: response.headers.get("cache-control"), body: text ? (JSON.parse(text) as Reply["body"]) : {} };
}

const started: { stop: () => Promise<void> }[] = [];

/** An API over the test's tables with `env`'s settings, counting every statement it runs (its cache key's included). */
/** An API of its own for the tests of the enclosing describe block, started before them: `api()` is it. */
function apiOfSuite() {
  let api: Api | undefined;
  beforeAll(async () => {
    api = await startApi();
  });
  return () => api!;
}

async function startApi(env: Record<string, string> = {}, { withFeed = false } = {}) {
  let statements = 0;
  const config = loadApiConfig({ API_EXPOSE_SQL_COUNT: "true", API_FEED_POLL_MS: "50", ...env });
  const registry = new Registry();
  const counted = countingDb(db, () => (statements += 1));
  const feed = withFeed ? startFeed({ db: counted, config, logger }) : undefined;
  const { yoga } = createApi({ db: counted, config, logger, registry, feed });
  let server: Server | undefined;
  const api = {
    yoga,
    config,
    statements: () => statements,
    async post(operation: Operation, headers: Record<string, string> = {}) {
      return replyOf(
        await yoga.fetch("http://api/graphql", {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json", ...headers },
          body: JSON.stringify(operation),
        }),
      );
    },
    /** The cache's counter by outcome: hit, miss, not_modified. */
    async outcomes(): Promise<Record<string, number>> {
      const counter = registry.getSingleMetric("graphql_response_cache_requests_total") as Counter | undefined;
      const values = counter ? (await counter.get()).values : [];
      return Object.fromEntries(values.map((value) => [String(value.labels.outcome), value.value]));
    },
    /** Asks until the answer comes from the cache (an answer is stored once computed, after it is sent). */
    async cached(operation: Operation): Promise<Reply> {
      return waitUntil(async () => {
        const reply = await api.post(operation);
        return reply.body.extensions?.responseCache?.hit ? reply : undefined;
      }, "the answer to be cached", 10_000, 20);
    },
    /** Serves it over HTTP as both servers do (api/http.ts); returns its GraphQL URL. */
    async listen(): Promise<string> {
      const app = new Hono();
      mountApi(app, { yoga, config, logger, db: counted });
      const listening = await new Promise<Server>((resolve) => {
        const created = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(created as Server));
      });
      server = listening;
      return `http://127.0.0.1:${(listening.address() as AddressInfo).port}/graphql`;
    },
    async stop() {
      if (server) {
        server.closeAllConnections();
        await new Promise((resolve) => server!.close(resolve));
      }
      await yoga.dispose();
      await feed?.stop();
    },
  };
  started.push(api);
  return api;
}

type Api = Awaited<ReturnType<typeof startApi>>;

/** A key prefix of its own for each Redis-using API, removed afterwards. */
const prefixes: string[] = [];
function redisEnv(): Record<string, string> {
  const prefix = `far-test-cache-${process.pid}-${Date.now()}-${prefixes.length}`;
  prefixes.push(prefix);
  return { REDIS_URL: redisUrl!, API_FEED_PREFIX: prefix };
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

const PAYOUTS = `query Payouts($first: Int) { indexingStatus { latestBlock { number } } payouts(first: $first) { edges { node { id amount blockNumber finalized } } } }`;
const ids = (reply: Reply) => (reply.body.data!.payouts.edges as { node: { id: string } }[]).map((edge) => edge.node.id);
/** The indexed block an ETag names. */
const blockOf = (etag: string | null) => Number(/^"(\d+)-/.exec(etag ?? "")?.[1]);

beforeAll(async () => {
  tables = await tablesInMemory(Object.values(schema).filter((value) => isTable(value)) as unknown as PgTable[]);
  db = drizzle(tables.db.$client, { casing: "snake_case" });
  await tables.db.$client.exec(`
    CREATE TABLE _ponder_checkpoint (chain_name text PRIMARY KEY, chain_id bigint NOT NULL, safe_checkpoint varchar(75) NOT NULL, latest_checkpoint varchar(75) NOT NULL, finalized_checkpoint varchar(75) NOT NULL);
    CREATE TABLE _ponder_meta (key text PRIMARY KEY, value jsonb NOT NULL);
    INSERT INTO _ponder_meta VALUES ('app', '{"is_ready": 1}');`);
  await commit({ rows: 2 });
  await readIndexingStatus(countingDb(db, () => (statusStatements += 1)));
});

afterAll(async () => {
  for (const api of started) await api.stop();
  if (redisUrl && prefixes.length > 0) {
    const redis = new Redis(redisUrl);
    for (const prefix of prefixes) {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    redis.disconnect();
  }
  await tables?.close();
});

describe("the response cache, in process", () => {
  const api = apiOfSuite();

  it("answers a repeated query from the cache, running nothing but the read of the indexed block", async () => {
    const first = await api().post({ query: PAYOUTS, variables: { first: 10 } });
    expect(first.body.extensions?.responseCache).toMatchObject({ hit: false, didCache: true });
    // The page of payouts: its resolvers answer from the indexed block read for its key.
    expect(first.body.extensions?.sqlStatements).toBe(1);
    const hit = await api().cached({ query: PAYOUTS, variables: { first: 10 } });
    expect(hit.body.data).toEqual(first.body.data);
    expect(hit.etag).toBe(first.etag);
    expect(blockOf(hit.etag)).toBe(block);
    expect(hit.body.data!.indexingStatus.latestBlock.number).toBe(block);
    const before = { statements: api().statements(), outcomes: await api().outcomes() };
    const again = await api().post({ query: PAYOUTS, variables: { first: 10 } });
    expect(again.body.extensions?.responseCache?.hit).toBe(true);
    expect(again.body.extensions?.sqlStatements).toBe(0);
    expect(Object.keys(again.body.extensions!).sort()).toEqual(["responseCache", "sqlStatements"]);
    expect(api().statements() - before.statements).toBe(statusStatements);
    const after = await api().outcomes();
    expect([after.hit! - before.outcomes.hit!, after.miss! - before.outcomes.miss!]).toEqual([1, 0]);
  });

  it("answers afresh once a block is committed: the new block's rows are in the answer, under a new ETag", async () => {
    const old = await api().cached({ query: PAYOUTS, variables: { first: 10 } });
    await commit();
    const fresh = await api().post({ query: PAYOUTS, variables: { first: 10 } });
    expect(fresh.body.extensions?.responseCache?.hit).toBe(false);
    expect(ids(fresh)).toEqual([`p${block}-0`, ...ids(old)]);
    expect(fresh.body.data!.indexingStatus.latestBlock.number).toBe(block);
    expect(blockOf(fresh.etag)).toBe(block);
    expect(fresh.etag).not.toBe(old.etag);
    // And that answer is cached for the new block in turn.
    expect((await api().cached({ query: PAYOUTS, variables: { first: 10 } })).body.data).toEqual(fresh.body.data);
  });

  it("answers afresh when a block replaces one of the same number (a reorg), or when only the finalized block moves", async () => {
    const before = await api().cached({ query: PAYOUTS, variables: { first: 10 } });
    await commit({ replace: true });
    const replaced = await api().post({ query: PAYOUTS, variables: { first: 10 } });
    expect(replaced.body.extensions?.responseCache?.hit).toBe(false);
    expect(replaced.body.data!.indexingStatus.latestBlock.number).toBe(before.body.data!.indexingStatus.latestBlock.number);
    expect(ids(replaced)[0]).toBe(`p${block}-100`);
    expect(ids(before)[0]).toBe(`p${block}-0`);
    expect(replaced.etag).not.toBe(before.etag);
    expect(blockOf(replaced.etag)).toBe(blockOf(before.etag));

    const unfinalized = await api().cached({ query: PAYOUTS, variables: { first: 10 } });
    expect(unfinalized.body.data!.payouts.edges.every((edge: { node: { finalized: boolean } }) => !edge.node.finalized)).toBe(true);
    await commit({ replace: true, finalized: block });
    const finalized = await api().post({ query: PAYOUTS, variables: { first: 10 } });
    expect(finalized.body.extensions?.responseCache?.hit).toBe(false);
    expect(finalized.body.data!.payouts.edges.every((edge: { node: { finalized: boolean } }) => edge.node.finalized)).toBe(true);
  });

  it("never caches what reads the chain's head or the clock; the indexed block alone is cached", async () => {
    const live = `{ indexingStatus { latestBlock { number } synced lagSeconds } }`;
    for (let i = 0; i < 3; i++) expect((await api().post({ query: live })).body.extensions?.responseCache).toMatchObject({ hit: false, didCache: false });
    const tx = `{ transaction(hash: "0x${"cd".repeat(32)}") { blockNumber } }`;
    for (let i = 0; i < 2; i++) expect((await api().post({ query: tx })).body.extensions?.responseCache).toMatchObject({ hit: false, didCache: false });
    expect((await api().cached({ query: `{ indexingStatus { latestBlock { number } } }` })).body.data).toEqual({ indexingStatus: { latestBlock: { number: block } } });
  });

  it("keeps apart what differs in variables, operation or document, and caches no error", async () => {
    const one = await api().cached({ query: PAYOUTS, variables: { first: 1 } });
    const two = await api().post({ query: PAYOUTS, variables: { first: 2 } });
    expect(two.body.extensions?.responseCache?.hit).toBe(false);
    expect([ids(one).length, ids(two).length]).toEqual([1, 2]);
    expect(ids((await api().post({ query: PAYOUTS, variables: { first: 1 } })))).toHaveLength(1);

    const spaced = await api().post({ query: `${PAYOUTS} `, variables: { first: 1 } });
    expect(spaced.body.extensions?.responseCache?.hit).toBe(false);
    expect(spaced.etag).not.toBe(one.etag);

    const both = `query A { payouts(first: 1) { edges { node { id } } } } query B { indexingStatus { latestBlock { number } } }`;
    const a = await api().cached({ query: both, operationName: "A" });
    const b = await api().post({ query: both, operationName: "B" });
    expect(b.body.extensions?.responseCache?.hit).toBe(false);
    expect(Object.keys(a.body.data!)).toEqual(["payouts"]);
    expect(Object.keys(b.body.data!)).toEqual(["indexingStatus"]);

    for (let i = 0; i < 2; i++) {
      const refused = await api().post({ query: PAYOUTS, variables: { first: 1_000 } });
      expect(refused.body.errors?.[0]?.extensions?.code).toBe("PAGE_TOO_LARGE");
      expect(refused.etag).toBeNull();
    }
    // The schema has no mutations: refused, whatever the cache holds.
    for (let i = 0; i < 2; i++) {
      const mutation = await api().post({ query: `mutation { payouts { totalCount } }` });
      expect(mutation.body.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
      expect(mutation.body.extensions?.responseCache?.hit).not.toBe(true);
      expect(mutation.etag).toBeNull();
    }
  });
});

describe("bypass and single flight", () => {
  const api = apiOfSuite();

  it("computes a request that says Cache-Control: no-cache or no-store, without looking up or storing, and counts it as a bypass", async () => {
    const cached = await api().cached({ query: PAYOUTS, variables: { first: 5 } });
    for (const header of ["no-cache", "no-store", "max-age=0, No-Cache"]) {
      const before = await api().outcomes();
      const fresh = await api().post({ query: PAYOUTS, variables: { first: 5 } }, { "cache-control": header });
      expect(fresh.status).toBe(200);
      // Executed (its page of payouts read), not looked up: no cache metadata, no ETag.
      expect(fresh.body.extensions?.sqlStatements, header).toBeGreaterThan(0);
      expect(fresh.body.extensions?.responseCache, header).toBeUndefined();
      expect(fresh.etag, header).toBeNull();
      expect(fresh.body.data).toEqual(cached.body.data);
      const after = await api().outcomes();
      expect([(after.bypass ?? 0) - (before.bypass ?? 0), (after.hit ?? 0) - (before.hit ?? 0), (after.miss ?? 0) - (before.miss ?? 0)], header).toEqual([1, 0, 0]);
    }
    // Nothing was stored or evicted by the bypasses: the cached answer is still there.
    expect((await api().post({ query: PAYOUTS, variables: { first: 5 } })).body.extensions?.responseCache?.hit).toBe(true);
    // A conditional request is a revalidation, not a bypass: fetch adds Cache-Control: no-cache to every one.
    const conditional = await api().post({ query: PAYOUTS, variables: { first: 5 } }, { "cache-control": "no-cache", "if-none-match": cached.etag! });
    expect(conditional.status).toBe(304);
    // Any other Cache-Control is an ordinary request.
    expect((await api().post({ query: PAYOUTS, variables: { first: 5 } }, { "cache-control": "max-age=60" })).body.extensions?.responseCache?.hit).toBe(true);
  });

  it("computes N identical concurrent misses once: one execution, the others answered from its stored answer", async () => {
    for (const first of [6, 7]) {
      const before = { outcomes: await api().outcomes(), statements: api().statements() };
      const replies = await Promise.all(Array.from({ length: 8 }, () => api().post({ query: PAYOUTS, variables: { first } })));
      const executed = replies.filter((reply) => reply.body.extensions?.responseCache?.hit === false);
      expect(executed).toHaveLength(1);
      // The one execution ran the page's statement; the seven hits ran none.
      expect(replies.map((reply) => reply.body.extensions?.sqlStatements).sort()).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
      for (const reply of replies) {
        expect(reply.body.data).toEqual(executed[0]!.body.data);
        expect(reply.etag).toBe(executed[0]!.etag);
      }
      const after = await api().outcomes();
      expect([after.miss! - (before.outcomes.miss ?? 0), after.hit! - (before.outcomes.hit ?? 0)]).toEqual([1, 7]);
      // And the eight shared their reads of the indexed block: fewer than one each, besides the one page.
      expect(api().statements() - before.statements - 1).toBeLessThan(8 * statusStatements);
      await commit();
    }
  });

  it("never answers older than the block its ETag names, with blocks committed among concurrent identical requests", async () => {
    const query = `{ indexingStatus { latestBlock { number } } payouts(first: 3) { edges { node { id blockNumber } } } }`;
    const replies: Reply[] = [];
    for (let round = 0; round < 3; round++) {
      const asked = Array.from({ length: 6 }, () => api().post({ query }));
      await commit();
      asked.push(...Array.from({ length: 6 }, () => api().post({ query })));
      replies.push(...(await Promise.all(asked)));
      // After the commit, a new request is answered at the new block.
      const after = await api().post({ query });
      expect(blockOf(after.etag)).toBe(block);
      expect(after.body.data!.payouts.edges[0].node.blockNumber).toBe(block);
      replies.push(after);
    }
    for (const reply of replies) {
      const tagged = blockOf(reply.etag);
      expect(reply.body.data!.indexingStatus.latestBlock.number).toBe(tagged);
      // Every block commits a payout: the newest one is at least the ETag's block.
      expect(reply.body.data!.payouts.edges[0].node.blockNumber).toBeGreaterThanOrEqual(tagged);
    }
    expect(new Set(replies.map((reply) => blockOf(reply.etag))).size).toBeGreaterThan(1);
  });
});

describe("the in-process bound", () => {
  it("holds the last API_RESPONSE_CACHE_MAX_ENTRIES answers, however many distinct queries come", async () => {
    const api = await startApi({ API_RESPONSE_CACHE_MAX_ENTRIES: "5" });
    const query = (i: number) => `# ${i}\n{ payouts(first: 1) { edges { node { id } } } }`;
    for (let i = 0; i < 200; i++) await api.post({ query: query(i) });
    // Stored in order, each after its answer: the last one stored, all are.
    await api.cached({ query: query(199) });
    for (let i = 195; i < 200; i++) expect((await api.post({ query: query(i) })).body.extensions?.responseCache?.hit, `query ${i}`).toBe(true);
    for (const i of [0, 100, 194]) expect((await api.post({ query: query(i) })).body.extensions?.responseCache?.hit, `query ${i}`).toBe(false);
  });
});

describe("ETag and If-None-Match over HTTP", () => {
  let url: string;
  let api: Api;
  beforeAll(async () => {
    api = await startApi({ API_EXPOSE_SQL_COUNT: "false" });
    url = await api.listen();
  });

  const QUERY = `{ indexingStatus { latestBlock { number } } payouts(first: 3) { edges { node { id } } } }`;
  const post = async (etag?: string) =>
    replyOf(await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...(etag ? { "if-none-match": etag } : {}) }, body: JSON.stringify({ query: QUERY }) }));
  const get = async (etag?: string) => replyOf(await fetch(`${url}?query=${encodeURIComponent(QUERY)}`, { headers: { accept: "application/json", ...(etag ? { "if-none-match": etag } : {}) } }));

  it("answers 304 to GET and POST naming the current block's answer, and 200 with a new ETag once the block moves", async () => {
    const first = await post();
    expect(first.status).toBe(200);
    expect(blockOf(first.etag)).toBe(block);
    // Kept by browsers and proxies, but asked again (with If-None-Match) before each use.
    expect(first.cacheControl).toBe("no-cache");
    const notModified = await waitUntil(async () => {
      const reply = await post(first.etag!);
      return reply.status === 304 ? reply : undefined;
    }, "a 304");
    expect(notModified.etag).toBe(first.etag);
    expect(notModified.body).toEqual({});
    // GET asks the same query with the same (no) variables: the same answer, the same ETag.
    expect((await get()).etag).toBe(first.etag);
    expect((await get(first.etag!)).status).toBe(304);
    expect((await api.outcomes()).not_modified).toBeGreaterThanOrEqual(2);

    await commit();
    // The old answer is still cached, but for a block that is no longer the latest.
    for (const ask of [post, get]) {
      const moved = await ask(first.etag!);
      expect(moved.status).toBe(200);
      expect(moved.etag).not.toBe(first.etag);
      expect(blockOf(moved.etag)).toBe(block);
      expect(moved.body.data!.indexingStatus.latestBlock.number).toBe(block);
      expect(moved.body.data!.payouts.edges[0].node.id).toBe(`p${block}-0`);
    }
    const current = (await post()).etag!;
    await waitUntil(async () => (await get(current)).status === 304, "a 304 for the new block");
    expect((await post("\"some-other-tag\"")).status).toBe(200);
  });
});

describe("subscriptions", () => {
  it("streams subscriptions uncached, each event at its own block", async () => {
    const live = await startApi({}, { withFeed: true });
    const liveUrl = await live.listen();
    {
      const subscription = subscribeSse<{ latestBlock: { number: number } }>(liveUrl, `subscription { indexingStatus { latestBlock { number } } }`);
      await waitUntil(() => subscription.received.length >= 1, "the first status");
      const seen = subscription.received.at(-1)!.latestBlock.number;
      expect(seen).toBe(block);
      await commit();
      await waitUntil(() => subscription.received.some((status) => status.latestBlock.number === block), "the next block's status");
      subscription.close();
      expect(subscription.errors).toEqual([]);
      expect(await live.outcomes()).toEqual({});
    }
  });
});

describe("automatic persisted queries, in process", () => {
  it("refuses an unknown hash, registers a hash sent with its query, then answers the hash alone (POST and GET)", async () => {
    const api = await startApi();
    const query = `{ payouts(first: 2) { edges { node { id } } } }`;
    const persistedQuery = { version: 1, sha256Hash: sha256(query) };
    const unknown = await api.post({ extensions: { persistedQuery } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.errors?.[0]).toMatchObject({ message: "PersistedQueryNotFound", extensions: { code: "PERSISTED_QUERY_NOT_FOUND" } });
    const mismatch = await api.post({ query: `${query} `, extensions: { persistedQuery } });
    expect(mismatch.body.errors?.[0]?.extensions?.code).toBe("PERSISTED_QUERY_MISMATCH");
    const registered = await api.post({ query, extensions: { persistedQuery } });
    expect(registered.body.data?.payouts.edges).toHaveLength(2);
    const byHash = await api.post({ extensions: { persistedQuery } });
    expect(byHash.body.data).toEqual(registered.body.data);
    const overGet = await replyOf(await api.yoga.fetch(`http://api/graphql?extensions=${encodeURIComponent(JSON.stringify({ persistedQuery }))}`, { headers: { accept: "application/json" } }));
    expect(overGet.body.data).toEqual(registered.body.data);
    // The hash stands for the query's text: the same cached answer.
    expect(overGet.etag).toBe(registered.etag);
  });
});

describe.skipIf(!redisUrl)("shared through Redis", () => {
  it("lets a second API answer from what the first cached, with nothing but the read of the indexed block", async () => {
    const env = redisEnv();
    const [first, second] = [await startApi(env), await startApi(env)];
    const asked = await first.cached({ query: PAYOUTS, variables: { first: 3 } });
    const before = second.statements();
    const shared = await second.post({ query: PAYOUTS, variables: { first: 3 } });
    expect(shared.body.extensions?.responseCache?.hit).toBe(true);
    expect(second.statements() - before).toBe(statusStatements);
    expect(shared.body.data).toEqual(asked.body.data);
    expect(shared.etag).toBe(asked.etag);
    expect(await second.outcomes()).toEqual({ hit: 1 });

    await commit();
    const moved = await second.post({ query: PAYOUTS, variables: { first: 3 } });
    expect(moved.body.extensions?.responseCache?.hit).toBe(false);
    expect(moved.body.data!.indexingStatus.latestBlock.number).toBe(block);
    expect((await first.cached({ query: PAYOUTS, variables: { first: 3 } })).body.data).toEqual(moved.body.data);
  });

  it("keeps deployments apart: another key prefix shares nothing", async () => {
    const mine = await startApi(redisEnv());
    const theirs = await startApi(redisEnv());
    await mine.cached({ query: PAYOUTS, variables: { first: 4 } });
    expect((await theirs.post({ query: PAYOUTS, variables: { first: 4 } })).body.extensions?.responseCache?.hit).toBe(false);
  });

  it("shares persisted queries: registered on one API, answered by hash on another", async () => {
    const env = redisEnv();
    const [first, second] = [await startApi(env), await startApi(env)];
    const query = `{ payouts(first: 1) { edges { node { id amount } } } }`;
    const persistedQuery = { version: 1, sha256Hash: sha256(query) };
    expect((await second.post({ extensions: { persistedQuery } })).body.errors?.[0]?.extensions?.code).toBe("PERSISTED_QUERY_NOT_FOUND");
    const registered = await first.post({ query, extensions: { persistedQuery } });
    expect(registered.body.data?.payouts.edges).toHaveLength(1);
    expect((await second.post({ extensions: { persistedQuery } })).body.data).toEqual(registered.body.data);
  });
});
