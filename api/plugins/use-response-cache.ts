/**
 * Answers to queries, cached for the indexed state they were computed at, with an ETag.
 *
 * Chain data changes only when the indexer commits, so an answer holds until the next commit.
 * An answer's key is its indexed state (the latest block and the version of Ponder's checkpoint
 * row, which every commit writes: api/db.ts) followed by the SHA-256 of its document, operation
 * name and variables. It is only ever served for that state: a new block, a newly finalized block
 * or a block that replaced another after a reorg makes every later request a miss, and nothing
 * needs invalidating. The state is read once per request, before the lookup, and the request's
 * resolvers answer from it (api/context.ts); a client that saw block N asks after it, so it is
 * answered at N or later. An answer is stored only if its state is still the latest once it is
 * computed, so no stored answer holds rows of a block committed meanwhile.
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
import type { ChainFinality } from "../../common/finality";
import type { ApiConfig } from "../config";
import { readIndexingStatus, type ApiDb, type IndexingStatus } from "../db";
import { connectRedis } from "./redis";
import { metric } from "./use-metrics";

/** Fields answered from something else than the indexed tables: an answer selecting one is never stored. */
const UNCACHED_FIELDS: Record<string, number> = {
  // The chain's head (api/status.ts) and the wall clock.
  "IndexingStatus.headBlock": 0,
  "IndexingStatus.lagBlocks": 0,
  "IndexingStatus.safeLagBlocks": 0,
  "IndexingStatus.finalizedLagBlocks": 0,
  "IndexingStatus.synced": 0,
  "IndexingStatus.lagSeconds": 0,
  // Asks the chain where a transaction was mined before the index has it: read-your-write's probe.
  "Query.transaction": 0,
};

/** How Yoga's plugin marks an answer it served from the cache. */
const SERVED_FROM_CACHE = Symbol.for("servedFromResponseCache");

/**
 * How every key (and ETag) of an answer computed at this indexed state begins. The finalized
 * block is part of it: the chain's finality tag (api/db.ts) can move without a commit.
 */
const stateTag = (status: IndexingStatus) => `"${status.latest.number}-${status.version}-${status.finalized.number}-`;

function keyOf(status: IndexingStatus, operation: { documentString: string; operationName?: string | null; variableValues?: Record<string, unknown> | null }): string {
  // A JSON array, not a joined string: no document, name and variables can spell another's.
  const text = JSON.stringify([operation.documentString, operation.operationName ?? null, operation.variableValues ?? {}]);
  return `${stateTag(status)}${createHash("sha256").update(text).digest("hex")}"`;
}

/**
 * The store under Yoga's plugin. Keys carry their state, so nothing is invalidated and the
 * entities Yoga collects for invalidation are not kept; an answer is stored only if its state is
 * still the latest once computed; a store that fails (Redis away) is a miss, never an error.
 */
function stateKeyedCache(store: Cache, readStatus: () => Promise<IndexingStatus | undefined>, logger: Logger): Cache {
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
      // After the answer is sent: the re-read delays no one.
      void (async () => {
        const status = await readStatus();
        if (status && key.startsWith(stateTag(status))) await store.set(key, result, [], ttl);
      })().catch((error: unknown) => logger.debug({ msg: "Response cache store failed", err: error }));
    },
    invalidate: () => {},
  };
}

export function createResponseCache({ db, finality, config, logger, registry }: { db: ApiDb; finality?: ChainFinality; config: ApiConfig; logger: Logger; registry: Registry }) {
  const readStatus = () => readIndexingStatus(db, finality);
  /** The state each request's key was built from: absent where it carries no key (graphql-ws, no checkpoint yet, a failed read). */
  const statusOf = new WeakMap<Request, IndexingStatus>();
  /** Requests whose If-None-Match names another state than the current one: not for Yoga's 304. */
  const staleTags = new WeakSet<Request>();
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
  const redis = config.REDIS_URL ? connectRedis(config.REDIS_URL, `${config.API_FEED_PREFIX}:response:`, logger) : undefined;
  const store = redis ? createRedisCache({ redis }) : createInMemoryCache({ max: config.API_RESPONSE_CACHE_MAX_ENTRIES });
  const requests = metric(registry, "graphql_response_cache_requests_total", () =>
    new Counter({
      name: "graphql_response_cache_requests_total",
      help: "GraphQL queries over HTTP the response cache answered (hit), had executed (miss), or answered 304 Not Modified (not_modified)",
      labelNames: ["outcome"],
      registers: [registry],
    }),
  );

  const plugin: Plugin = {
    onPluginInit({ addPlugin }) {
      // Added right after this plugin: this one's hooks run first.
      addPlugin(
        useYogaResponseCache({
          cache: stateKeyedCache(store, readStatus, logger),
          // Every answer is public: the API knows no users.
          session: () => null,
          enabled: (request) => statusOf.has(request) && !staleTags.has(request),
          buildResponseCacheKey: async ({ request, ...operation }) => {
            const status = await readFor(request);
            // No state, no lookup (`enabled` is false): the key only has to be a string.
            return status ? keyOf(status, operation) : "";
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
      if (!statusOf.has(request) || !result || Symbol.asyncIterator in result) return;
      requests.inc({ outcome: SERVED_FROM_CACHE in result ? "hit" : "miss" });
    },
    onResponse({ response }) {
      if (response.status === 304) requests.inc({ outcome: "not_modified" });
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
