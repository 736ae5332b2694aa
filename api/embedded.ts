/**
 * The API inside Ponder's HTTP server (`ponder start` / `ponder serve`): Ponder keeps /health,
 * /ready, /status and /metrics; this adds /graphql, reading through Ponder's read-only database,
 * and /synced. Ponder answers /ready before any route of ours is reached, and its /ready says
 * only that the backfill ended (it stays 200 when the indexer stalls); /synced is the
 * replica's /ready rule (api/status.ts), for a load balancer's readiness probe.
 */
import { getTableName, isTable } from "drizzle-orm";
import { Hono } from "hono";
import type { client } from "ponder";
import { Registry } from "prom-client";
import { loadChainConfig, loadIndexerConfig } from "../common/config";
import { ConfigError } from "../common/errors";
import { createChainFinality } from "../common/finality";
import { createLogger, type Logger } from "../common/logger";
import { loadApiConfig, type ApiConfig } from "./config";
import { createApi } from "./create-api";
import type { ApiDb } from "./db";
import { startFeed, type IndexerDatabase } from "./feed";
import { pgliteOf } from "./feed/commits";
import { createApiChainClient } from "./lag";
import { mountApi } from "./http";
import { createSqlApp, sqlDisabledApp } from "./sql";
import { readiness } from "./status";

const SYNCED_PATH = "/synced";

/**
 * Ponder serves /metrics from a registry of its own (not prom-client's global one), reachable
 * only through the global its build sets. Registering there gives one scrape with both; outside
 * Ponder there is nothing to join, and the metrics stay in a registry of their own.
 */
function ponderRegistry(logger: Logger): Registry {
  const registry = (globalThis as { PONDER_COMMON?: { metrics?: { registry?: unknown } } }).PONDER_COMMON?.metrics?.registry;
  if (registry instanceof Registry) return registry;
  logger.warn({ msg: "Ponder's metrics registry not found; GraphQL metrics are not served at /metrics" });
  return new Registry();
}

export function createEmbeddedApp(ponder: { db: ApiDb; schema: Parameters<typeof client>[0]["schema"] }) {
  const config = loadApiConfig();
  const logger = createLogger({ name: "api", level: config.API_LOG_LEVEL });
  // The indexer's chain, through a client of the API's own (api/lag.ts says why): it tells
  // read-your-write queries where a transaction was mined, status where the head is, and the
  // feed which blocks the chain calls safe and finalized.
  const chain = createApiChainClient(loadChainConfig().RPC_URL);
  const finality = createChainFinality({ chain, logger });
  const { yoga } = createApi({
    db: ponder.db,
    feed: startFeed({ db: ponder.db, finality, config, logger, indexer: indexerDatabase(ponder.db) }),
    config,
    logger,
    registry: ponderRegistry(logger),
    chain,
    finality,
  });
  const app = new Hono();
  mountApi(app, { yoga, config, logger, db: ponder.db });
  app.get(SYNCED_PATH, async (c) => {
    const { ok, body } = await readiness(ponder.db, chain, config);
    return c.text(body, ok ? 200 : 503);
  });
  app.route("/", config.API_SQL ? sqlApp(config, ponder.schema) : sqlDisabledApp());
  return app;
}

/** The schema Ponder indexes into (its namespace), as its build published it. */
function indexerSchema(): string {
  return (globalThis as { PONDER_NAMESPACE_BUILD?: { schema?: string } }).PONDER_NAMESPACE_BUILD?.schema ?? "public";
}

/** Where the indexer commits, for the feed's commit signal: Ponder's own PGlite, or the indexer's Postgres. */
function indexerDatabase(db: ApiDb): IndexerDatabase | undefined {
  const pglite = pgliteOf(db);
  if (pglite) return { schema: indexerSchema(), pglite };
  const databaseUrl = loadIndexerConfig().DATABASE_URL;
  return databaseUrl ? { schema: indexerSchema(), databaseUrl } : undefined;
}

/**
 * SQL over HTTP needs Postgres: PGlite runs a statement synchronously on this process's event
 * loop and honours no statement_timeout, so nothing could stop a cross join (measured: a PGlite
 * `SET statement_timeout = 100` does not end a 45 s statement) and GraphQL would freeze with it.
 * PGlite users read through /graphql instead.
 */
function sqlApp(config: ApiConfig, schema: Record<string, unknown>) {
  const databaseUrl = config.API_SQL_DATABASE_URL ?? loadIndexerConfig().DATABASE_URL;
  if (!databaseUrl) {
    throw new ConfigError("Invalid setting API_SQL: needs Postgres (DATABASE_URL or API_SQL_DATABASE_URL); PGlite cannot time out a statement, read through /graphql");
  }
  return createSqlApp({
    ...config,
    databaseUrl,
    schema: indexerSchema(),
    tables: Object.values(schema).filter(isTable).map((table) => getTableName(table)),
  });
}
