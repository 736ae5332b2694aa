/**
 * Automatic persisted queries (Yoga's APQ plugin, Apollo's protocol): a client sends
 * `extensions.persistedQuery.sha256Hash` without the query; an unknown hash is answered
 * PERSISTED_QUERY_NOT_FOUND (404), and the client sends the hash with the query, which registers
 * it (a hash that is not the query's SHA-256 is PERSISTED_QUERY_MISMATCH, 400). With REDIS_URL
 * the queries are in Redis, shared by every replica and the embedded API, each expiring after
 * API_PERSISTED_QUERIES_TTL_MS; without it, in this process, at most
 * API_PERSISTED_QUERIES_MAX_ENTRIES (least recently used go first). Redis away: every hash is
 * unknown, and clients fall back to sending their queries.
 */
import { createInMemoryAPQStore, useAPQ, type APQStore } from "@graphql-yoga/plugin-apq";
import type { Plugin } from "graphql-yoga";
import type { Logger } from "pino";
import type { ApiConfig } from "../config";
import { connectRedis } from "./redis";

export function usePersistedQueries(config: ApiConfig, logger: Logger): Plugin {
  const ttl = config.API_PERSISTED_QUERIES_TTL_MS;
  if (!config.REDIS_URL) return useAPQ({ store: createInMemoryAPQStore({ max: config.API_PERSISTED_QUERIES_MAX_ENTRIES, ttl }) });
  const redis = connectRedis(config.REDIS_URL, `${config.API_FEED_PREFIX}:persisted-query:`, logger);
  const store: APQStore = {
    get: (hash) => redis.get(hash).catch(() => null),
    set: (hash, query) => redis.set(hash, query, "PX", ttl).catch(() => undefined),
  };
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(useAPQ({ store }));
    },
    onDispose: async () => {
      await redis.quit();
    },
  };
}
