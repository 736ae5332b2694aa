/**
 * The API inside Ponder's HTTP server (`ponder start` / `ponder serve`): Ponder keeps /health,
 * /ready, /status and /metrics; this adds /graphql, reading through Ponder's read-only database.
 */
import { Hono } from "hono";
import { client } from "ponder";
import { pino } from "pino";
import { Registry } from "prom-client";
import type { PublicClient } from "viem";
import { loadApiConfig } from "./config";
import type { Connection } from "./context";
import { createApi, GRAPHQL_PATH } from "./create-api";
import type { ApiDb } from "./db";
import { startFeed } from "./feed";
import { PONDER_GRAPHQL_PATH, ponderGraphql } from "./ponder-graphql";

/**
 * Ponder serves /metrics from a registry of its own (not prom-client's global one), reachable
 * only through the global its build sets. Registering there gives one scrape with both; outside
 * Ponder there is nothing to join, and the metrics stay in a registry of their own.
 */
function ponderRegistry(logger: pino.Logger): Registry {
  const registry = (globalThis as { PONDER_COMMON?: { metrics?: { registry?: unknown } } }).PONDER_COMMON?.metrics?.registry;
  if (registry instanceof Registry) return registry;
  logger.warn({ msg: "Ponder's metrics registry not found; GraphQL metrics are not served at /metrics" });
  return new Registry();
}

export function createEmbeddedApp(ponder: { db: ApiDb; publicClients: Record<string, PublicClient>; schema: Parameters<typeof client>[0]["schema"] }) {
  const config = loadApiConfig();
  const logger = pino({ name: "api", level: config.API_LOG_LEVEL });
  const { yoga } = createApi({
    db: ponder.db,
    feed: startFeed({ db: ponder.db, config, logger }),
    config,
    logger,
    registry: ponderRegistry(logger),
    // The indexer follows one chain; its client tells read-your-write queries where a transaction was mined.
    chain: Object.values(ponder.publicClients)[0],
  });
  const app = new Hono();
  // Node's response (Hono's node server passes it as `outgoing`) lets a stalled subscription be dropped.
  app.all(GRAPHQL_PATH, (c) => yoga.fetch(c.req.raw, { res: (c.env as { outgoing?: Connection["res"] } | undefined)?.outgoing }));
  // Ponder's read-only SQL over HTTP (validated SELECTs): analysts' tools and `far verify` use it
  // where the database is an embedded PGlite that no other process can open.
  const ponderTables = { db: ponder.db as Parameters<typeof client>[0]["db"], schema: ponder.schema };
  app.use("/sql/*", client(ponderTables));
  if (config.API_PONDER_GRAPHQL) app.use(PONDER_GRAPHQL_PATH, ponderGraphql(ponderTables));
  return app;
}
