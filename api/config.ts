/**
 * The API's settings, validated once when a server starts. The same values drive the embedded
 * API (inside Ponder) and the standalone replica; the database settings matter only to the latter.
 */
import { z } from "zod";
import { bearerToken, flag, logLevel, parseEnv, rpcUrlList, settingNames } from "../common/config";
import { ConfigError } from "../common/errors";

const positive = z.coerce.number().int().positive();
const nonnegative = z.coerce.number().int().nonnegative();

const apiSchema = z.object({
  API_GRAPHIQL: flag.default(true),
  API_INTROSPECTION: flag.default(true),
  /** The live revenue dashboard at /dashboard (api/dashboard/), read through /graphql like any client. */
  API_DASHBOARD: flag.default(true),
  /** Adds `extensions.sqlStatements` to every response; for tests and profiling. */
  API_EXPOSE_SQL_COUNT: flag.default(false),
  API_DEFAULT_PAGE_SIZE: positive.default(20),
  API_MAX_PAGE_SIZE: positive.default(100),
  API_MAX_DEPTH: positive.default(12),
  API_MAX_COST: positive.default(10_000),
  API_MAX_ALIASES: positive.default(20),
  API_MAX_TOKENS: positive.default(2_000),
  API_MAX_SERIES_POINTS: positive.default(2_000),
  /** Items a list argument (in variables or in the query) may hold. */
  API_MAX_LIST_LENGTH: positive.default(100),
  /** A transactionIndexed subscription whose transaction is not indexed by then ends with TRANSACTION_NOT_INDEXED. */
  API_TX_WAIT_TIMEOUT_MS: positive.default(120_000),
  /** Distinct operation names /metrics labels; later names are counted as "other". */
  API_METRICS_MAX_OPERATIONS: positive.default(100),
  API_LOG_LEVEL: logLevel.default("info"),
  /** With Redis, every replica shares one change feed, response cache and persisted queries; without it, each process keeps its own. */
  REDIS_URL: z.string().url().optional(),
  /** Starts every Redis key of this deployment (feed, response cache, persisted queries): distinct per deployment sharing a Redis. */
  API_FEED_PREFIX: z.string().min(1).default("far"),
  /** Caches each query's answer for the indexed block it was computed at (api/plugins/use-response-cache.ts). */
  API_RESPONSE_CACHE: flag.default(true),
  /** The longest a cached answer is kept; it is only ever served while its block is still the latest. */
  API_RESPONSE_CACHE_TTL_MS: positive.default(10_000),
  /** Answers the in-process cache (without Redis) holds at most; the least recently used go first. */
  API_RESPONSE_CACHE_MAX_ENTRIES: positive.default(1_000),
  /** Automatic persisted queries: once registered, a client sends a query's SHA-256 hash instead of its text. */
  API_PERSISTED_QUERIES: flag.default(true),
  API_PERSISTED_QUERIES_TTL_MS: positive.default(86_400_000),
  /** Queries the in-process store (without Redis) holds at most; the least recently used go first. */
  API_PERSISTED_QUERIES_MAX_ENTRIES: positive.default(1_000),
  /**
   * Runs the feed writer here (one holds the lease per log). Unset: on when embedded, and on a
   * replica only without Redis (its own log has no other writer); with Redis replicas only tail.
   */
  API_FEED_WRITER: flag.optional(),
  /** The feed writer and status steps wake when the indexer commits; this is the fallback poll. */
  API_FEED_POLL_MS: positive.default(250),
  API_FEED_MAX_QUEUE: positive.default(10_000),
  /** How long a subscriber cut off as too slow has to read its SLOW_CONSUMER error before its connection is dropped. */
  API_FEED_STALL_GRACE_MS: positive.default(5_000),
  /** Subscribers asking the same operation and variables share one execution per event, written straight to their sockets; false: Yoga executes each. */
  API_FEED_GROUPING: flag.default(true),
  API_FEED_RETAIN: positive.default(200_000),
  API_MAX_SUBSCRIPTIONS_PER_CONNECTION: positive.default(20),
  /** A WebSocket that completes no graphql-ws handshake within this long is closed. */
  API_WS_INIT_TIMEOUT_MS: positive.default(10_000),
  API_WS_KEEPALIVE_MS: positive.default(12_000),
  /** SQL over HTTP at /sql/db (embedded, Postgres only): off unless set, and then only with API_SQL_TOKEN. */
  API_SQL: flag.default(false),
  API_SQL_TOKEN: bearerToken.optional(),
  /** Unset: DATABASE_URL. Better: the read-only analyst role's URL (README, "For analysts"). */
  API_SQL_DATABASE_URL: z.string().url().optional(),
  API_SQL_TIMEOUT_MS: positive.default(5_000),
  API_SQL_MAX_ROWS: positive.default(10_000),
  API_SQL_MAX_BYTES: positive.default(10_000_000),
  /** /export/<table>.csv|ndjson (api/export.ts): more matching rows is refused up front with EXPORT_TOO_LARGE (413). */
  API_EXPORT_MAX_ROWS: positive.default(1_000_000),
  /** An export still streaming after this long is cut off (its response ends unfinished). */
  API_EXPORT_TIMEOUT_MS: positive.default(300_000),
  /** Exports streaming at once per process; more are answered TOO_MANY_EXPORTS (429). */
  API_EXPORT_MAX_CONCURRENT: positive.default(2),
  /** The largest request body (HTTP) or WebSocket message accepted: 413 BODY_TOO_LARGE, or close 1009. */
  API_MAX_BODY_BYTES: positive.default(100 * 1024),
  /** Operations (not subscriptions) executing at once per process; more wait in a queue of API_MAX_QUEUED. */
  API_MAX_CONCURRENT: positive.default(16),
  API_MAX_QUEUED: nonnegative.default(64),
  /** A queued operation that gets no slot within this long is answered OVERLOADED. */
  API_QUEUE_TIMEOUT_MS: positive.default(2_000),
  /** Requests per client address per API_RATE_LIMIT_WINDOW_MS; 0: no rate limit. */
  API_RATE_LIMIT: nonnegative.default(0),
  API_RATE_LIMIT_WINDOW_MS: positive.default(1_000),
  /** Behind one reverse proxy (docker-compose's api-proxy): the client is the last X-Forwarded-For address. */
  API_TRUST_PROXY: flag.default(false),
  /** Synced (and /ready) while the indexed block is at most this many blocks behind the chain's head. */
  API_SYNCED_MAX_LAG_BLOCKS: nonnegative.default(10),
  /** indexingStatus.lagCause is RPC_HEAD_STALE once the RPC's head block has not moved for this long; 0: never. */
  API_HEAD_STALE_MS: nonnegative.default(30_000),
});

const replicaSchema = apiSchema.extend({
  DATABASE_URL: z.string().url(),
  DATABASE_SCHEMA: z.string().min(1),
  API_PORT: z.coerce.number().int().nonnegative().default(4000),
  /** Loopback unless set: docker-compose.yml sets 0.0.0.0 so that api-proxy reaches the replicas. */
  API_HOST: z.string().min(1).default("127.0.0.1"),
  API_DB_POOL_SIZE: positive.default(10),
  RPC_URL: rpcUrlList.optional(),
});

export const API_SETTINGS = settingNames(apiSchema, replicaSchema);

type Resolved = { API_FEED_WRITER: boolean };
export type ApiConfig = Omit<z.infer<typeof apiSchema>, keyof Resolved> & Resolved;
export type ReplicaConfig = Omit<z.infer<typeof replicaSchema>, keyof Resolved> & Resolved;


/** `writerByDefault`: whether this kind of process runs the feed writer when API_FEED_WRITER is unset. */
function loadSettings(env: NodeJS.ProcessEnv, writerByDefault: (config: z.infer<typeof apiSchema>) => boolean): ApiConfig {
  const config = parseEnv(apiSchema, env);
  if (config.API_DEFAULT_PAGE_SIZE > config.API_MAX_PAGE_SIZE) {
    throw new ConfigError("Invalid setting API_DEFAULT_PAGE_SIZE: must not exceed API_MAX_PAGE_SIZE");
  }
  if (config.API_SQL && !config.API_SQL_TOKEN) throw new ConfigError("Invalid setting API_SQL_TOKEN: required when API_SQL=true");
  if (config.API_FEED_WRITER === false && !config.REDIS_URL) {
    throw new ConfigError("Invalid setting API_FEED_WRITER: false needs REDIS_URL (without Redis this process's own feed has no other writer)");
  }
  return { ...config, API_FEED_WRITER: config.API_FEED_WRITER ?? writerByDefault(config) };
}

export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  return loadSettings(env, () => true);
}

export function loadReplicaConfig(env: NodeJS.ProcessEnv = process.env): ReplicaConfig {
  return { ...parseEnv(replicaSchema, env), ...loadSettings(env, (config) => !config.REDIS_URL) };
}
