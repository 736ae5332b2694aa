/**
 * Answers to queries, cached for the indexed state they were computed at, with an ETag.
 *
 * Chain data changes only when the indexer commits, so an answer holds until the next commit.
 * An answer's key is its indexed state (the latest block and the version of Ponder's checkpoint
 * row, which every commit writes: api/db.ts) followed by the SHA-256 of its document, operation
 * name and variables. It is only ever served for that state: a new block, a newly finalized block
 * or a block that replaced another after a reorg makes every later request a miss, and nothing
 * needs invalidating. The state is read once per request, before the lookup (requests arriving
 * together share one read that started after they arrived), and the request's resolvers answer
 * from it (api/context.ts); a client that saw block N asks after it, so it is answered at N or
 * later. An answer is stored under the state it was read at: like any answer, it may also hold
 * rows of a block committed while it was computed, never older ones.
 *
 * Identical requests arriving together compute once (single flight): the first computes, the
 * others wait for its answer to be stored and are answered from the cache. A request with
 * `Cache-Control: no-cache` or `no-store` bypasses the cache: no lookup, no store, no ETag.
 *
 * Yoga's plugin looks the key up before parsing (a hit skips parsing, validation, the limits and
 * execution), stores answers without errors, and sends the key as the ETag; a request whose
 * If-None-Match names an answer of the current state still cached gets 304. Queries only, over
 * HTTP: subscriptions and mutations are never stored, nor are graphql-ws operations (their
 * requests carry no key). Answers selecting a field that reads something else than the indexed
 * tables (UNCACHED_FIELDS) are never stored.
 *
 * With REDIS_URL the answers are in Redis, shared by every replica and the embedded API, each
 * expiring after API_RESPONSE_CACHE_TTL_MS; without it, in this process, at most
 * API_RESPONSE_CACHE_MAX_ENTRIES of them (least recently used go first).
 */
import { createHash } from "node:crypto";
import { createRedisCache } from "@envelop/response-cache-redis";
import { createInMemoryCache, useResponseCache as useYogaResponseCache, type Cache } from "@graphql-yoga/plugin-response-cache";
import type { Plugin } from "graphql-yoga";
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import type { ApiConfig } from "../config";
import { readIndexingStatus, type ApiDb, type IndexingStatus } from "../db";
import { connectRedis } from "./redis";
import { metric } from "./use-metrics";

/** Fields answered from something else than the indexed tables: an answer selecting one is never stored. */
const UNCACHED_FIELDS: Record<string, number> = {
  // The chain's head (api/status.ts) and the wall clock.
  "IndexingStatus.headBlock": 0,
  "IndexingStatus.lagBlocks": 0,
  "IndexingStatus.synced": 0,
  "IndexingStatus.lagSeconds": 0,
  // Asks the chain where a transaction was mined before the index has it: read-your-write's probe.
  "Query.transaction": 0,
};

/** How Yoga's plugin marks an answer it served from the cache. */
const SERVED_FROM_CACHE = Symbol.for("servedFromResponseCache");

/** How every key (and ETag) of an answer computed at this indexed state begins. */
const stateTag = (status: IndexingStatus) => `"${status.latest.number}-${status.version}-`;

function keyOf(status: IndexingStatus, operation: { documentString: string; operationName?: string | null; variableValues?: Record<string, unknown> | null }): string {
  // A JSON array, not a joined string: no document, name and variables can spell another's.
  const text = JSON.stringify([operation.documentString, operation.operationName ?? null, operation.variableValues ?? {}]);
  return `${stateTag(status)}${createHash("sha256").update(text).digest("hex")}"`;
}

/**
 * `Cache-Control: no-cache` or `no-store` on a request: the client wants it computed, not looked
 * up. Not on a conditional request: the Fetch standard adds `Cache-Control: no-cache` to every
 * request that carries If-None-Match, which asks to revalidate, and the check against the
 * current state is that revalidation.
 */
const wantsFresh = (request: Request) => !request.headers.has("if-none-match") && /\bno-(?:cache|store)\b/i.test(request.headers.get("cache-control") ?? "");

/**
 * One read of the indexed state for every request that arrives while another read is under
 * way: they share the next read, which starts once the current one is over, so each is answered
 * by a read that started after it arrived (a client that has seen block N is never given an
 * older state) and at most one read runs at a time, however many requests come.
 */
function sharedReads<T>(read: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  let queued: Promise<T> | undefined;
  const start = () => {
    const reading = read();
    running = reading;
    const over = () => {
      if (running === reading) running = undefined;
    };
    reading.then(over, over);
    return reading;
  };
  return () => {
    // Not started yet: it starts after this caller arrived.
    if (queued) return queued;
    if (!running) return start();
    const next = running.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      queued = undefined;
      return start();
    });
    queued = next;
    return next;
  };
}

/**
 * The store under Yoga's plugin. Keys carry their state, so nothing is invalidated and the
 * entities Yoga collects for invalidation are not kept; an answer is stored under the state it
 * was computed at; a store that fails (Redis away) is a miss, never an error. `stored` is how
 * far the last store of each key has got, for the requests waiting on it (single flight).
 */
function stateKeyedCache(store: Cache, logger: Logger, stored: Map<string, Promise<unknown>>): Cache {
  return {
    get: async (key) => {
      try {
        return await store.get(key);
      } catch (error) {
        logger.debug({ msg: "Response cache lookup failed; answering uncached", err: error });
        return undefined;
      }
    },
    set: (key, result, _entities, ttl) => {
      const storing = Promise.resolve(store.set(key, result, [], ttl)).catch((error: unknown) => logger.debug({ msg: "Response cache store failed", err: error }));
      stored.set(key, storing);
      void storing.finally(() => stored.get(key) === storing && stored.delete(key));
    },
    invalidate: () => {},
  };
}

type Outcome = "hit" | "miss" | "not_modified" | "bypass";

export function createResponseCache({ db, config, logger, registry }: { db: ApiDb; config: ApiConfig; logger: Logger; registry: Registry }) {
  /** The state each request's key was built from: absent where it carries no key (graphql-ws, a bypass, no checkpoint yet, a failed read). */
  const statusOf = new WeakMap<Request, IndexingStatus>();
  /** Requests whose If-None-Match names another state than the current one: not for Yoga's 304. */
  const staleTags = new WeakSet<Request>();
  /** Requests that asked not to be answered from the cache (`Cache-Control: no-cache|no-store`). */
  const bypassed = new WeakSet<Request>();
  const readStatus = sharedReads(() => readIndexingStatus(db));
  const readFor = async (request: Request): Promise<IndexingStatus | undefined> => {
    const known = statusOf.get(request);
    if (known) return known;
    const status = await readStatus().catch((error: unknown) => {
      logger.debug({ msg: "Indexing status unreadable; answering uncached", err: error });
      return undefined;
    });
    if (status) statusOf.set(request, status);
    return status;
  };
  /**
   * Single flight: the key each computing request is the first to compute, and what the others
   * asking for the same key at the same time wait on before they look it up. One computation per
   * key and state, however many ask at once; the wait ends when the answer is stored, or when
   * its request ends without storing one (an error, an uncached field), and then each computes.
   */
  const computing = new Map<string, { request: Request; done: Promise<void>; release: () => void }>();
  const stored = new Map<string, Promise<unknown>>();
  const release = (request: Request) => {
    const key = keyFor.get(request);
    const flight = key === undefined ? undefined : computing.get(key);
    if (!flight || flight.request !== request) return;
    computing.delete(key!);
    void (stored.get(key!) ?? Promise.resolve()).finally(flight.release);
  };
  const keyFor = new WeakMap<Request, string>();
  const redis = config.REDIS_URL ? connectRedis(config.REDIS_URL, `${config.API_FEED_PREFIX}:response:`, logger) : undefined;
  const store = redis ? createRedisCache({ redis }) : createInMemoryCache({ max: config.API_RESPONSE_CACHE_MAX_ENTRIES });
  const requests = metric(registry, "graphql_response_cache_requests_total", () =>
    new Counter({
      name: "graphql_response_cache_requests_total",
      help:
        "GraphQL queries over HTTP the response cache answered (hit), had executed (miss), answered 304 Not Modified (not_modified), " +
        "or left to execute because the request said Cache-Control: no-cache or no-store (bypass)",
      labelNames: ["outcome"],
      registers: [registry],
    }),
  );
  const count = (outcome: Outcome) => requests.inc({ outcome });

  const plugin: Plugin = {
    onPluginInit({ addPlugin }) {
      // Added right after this plugin: this one's hooks run first.
      addPlugin(
        useYogaResponseCache({
          cache: stateKeyedCache(store, logger, stored),
          // Every answer is public: the API knows no users.
          session: () => null,
          enabled: (request) => statusOf.has(request) && !staleTags.has(request),
          buildResponseCacheKey: async ({ request, ...operation }) => {
            if (bypassed.has(request)) return "";
            const status = await readFor(request);
            // No state, no lookup (`enabled` is false): the key only has to be a string.
            if (!status) return "";
            const key = keyOf(status, operation);
            keyFor.set(request, key);
            const flight = computing.get(key);
            if (flight) await flight.done;
            else {
              let done!: () => void;
              const waiting = new Promise<void>((resolve) => (done = resolve));
              computing.set(key, { request, done: waiting, release: done });
            }
            return key;
          },
          ttl: config.API_RESPONSE_CACHE_TTL_MS,
          ttlPerSchemaCoordinate: UNCACHED_FIELDS,
          // Entities serve invalidation, which keys by state make needless: no `id` is added to documents.
          idFields: [],
          includeExtensionMetadata: config.API_EXPOSE_SQL_COUNT,
        }),
      );
    },
    /**
     * Yoga's plugin answers 304 whenever the If-None-Match key is still cached, even once the
     * indexer moved on: it may check only a key of the current state, which `enabled` allows.
     */
    async onRequest({ request }) {
      if (wantsFresh(request)) {
        bypassed.add(request);
        return;
      }
      const tag = request.headers.get("if-none-match");
      if (!tag) return;
      const status = await readFor(request);
      if (status && !tag.startsWith(stateTag(status))) staleTags.add(request);
    },
    onParams({ request }) {
      // Past Yoga's If-None-Match check: the lookup and the store may go on at the current state.
      staleTags.delete(request);
    },
    onExecutionResult({ request, result }) {
      if (!result || Symbol.asyncIterator in result) return;
      if (bypassed.has(request)) return count("bypass");
      if (!statusOf.has(request)) return;
      // A hit, or a miss whose answer is being stored: those waiting on this key may look it up.
      release(request);
      count(SERVED_FROM_CACHE in result ? "hit" : "miss");
    },
    onResponse({ request, response }) {
      // Whatever became of the request (an error before execution included), nobody waits on it any longer.
      release(request);
      if (response.status === 304) count("not_modified");
      // A browser or proxy may keep an answer with an ETag, but must ask again (If-None-Match) before each use.
      if (response.headers.has("etag")) response.headers.set("cache-control", "no-cache");
    },
    onDispose: async () => {
      await redis?.quit();
    },
  };
  return {
    plugin,
    /** The state this request's key was built from, for its resolvers to answer from (api/context.ts). */
    indexingStatusFor: (request: Request | undefined) => (request ? statusOf.get(request) : undefined),
  };
}
