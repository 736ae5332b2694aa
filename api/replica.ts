/**
 * A stateless API replica: reads the indexer's tables in Postgres (the schema Ponder writes,
 * through `search_path`) and serves /graphql, /health, /ready and /metrics on its own HTTP
 * server. Any number of them can run behind a load balancer.
 */
import type { AddressInfo } from "node:net";
import { drizzle } from "drizzle-orm/postgres-js";
import { Hono } from "hono";
import postgres from "postgres";
import { collectDefaultMetrics, Registry } from "prom-client";
import { WebSocketServer } from "ws";
import { ConfigError } from "../common/errors";
import { createChainFinality } from "../common/finality";
import { listen } from "../common/http";
import { createLogger } from "../common/logger";
import type { ReplicaConfig } from "./config";
import { createApi } from "./create-api";
import { startFeed } from "./feed";
import { createApiChainClient } from "./lag";
import { mountApi } from "./http";
import { readiness } from "./status";
import { serveGraphqlWs } from "./websocket";

export async function startReplica(config: ReplicaConfig) {
  const logger = createLogger({ name: "api", level: config.API_LOG_LEVEL });
  const client = postgres(config.DATABASE_URL, {
    max: config.API_DB_POOL_SIZE,
    onnotice: () => {},
    // A replica never writes: the session refuses it even if a query tried.
    connection: { search_path: config.DATABASE_SCHEMA, default_transaction_read_only: true, application_name: "far_api" },
  });
  // Ponder names columns in snake_case from the tables' camelCase keys; readers must too.
  const db = drizzle(client, { casing: "snake_case" });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "far_api_" });
  // Without RPC_URL the replica cannot see the chain's head: /ready then only says the backfill ended.
  const chain = config.RPC_URL ? createApiChainClient(config.RPC_URL) : undefined;
  const finality = chain && createChainFinality({ chain, logger });
  const feed = startFeed({ db, finality, config, logger, indexer: { schema: config.DATABASE_SCHEMA, databaseUrl: config.DATABASE_URL } });
  const { yoga, maskError } = createApi({ db, config, logger, registry, chain, finality, feed });

  const app = new Hono();
  app.get("/health", (c) => c.text("ok"));
  app.get("/ready", async (c) => {
    const { ok, body } = await readiness(db, chain, config);
    return c.text(body, ok ? 200 : 503);
  });
  app.get("/metrics", async (c) => c.body(await registry.metrics(), 200, { "content-type": registry.contentType }));
  mountApi(app, { yoga, config, logger, db });
  app.onError((error, c) => {
    logger.error({ msg: "Route failed", path: c.req.path, err: error });
    return c.body(null, 500);
  });

  const server = await listen(app, config.API_PORT, config.API_HOST).catch(async (cause: Error) => {
    await feed.stop();
    await client.end();
    throw new ConfigError(`The API replica cannot listen on port ${config.API_PORT}: ${cause.message} (set API_PORT)`);
  });
  // A message larger than the body limit closes the connection with 1009 (Message Too Big), as the WebSocket protocol says.
  const sockets = new WebSocketServer({ server, path: yoga.graphqlEndpoint, maxPayload: config.API_MAX_BODY_BYTES });
  serveGraphqlWs({ yoga, sockets, config, maskError });
  const { port } = server.address() as AddressInfo;
  logger.info({ msg: "API replica listening", host: config.API_HOST, port, database_schema: config.DATABASE_SCHEMA });
  const close = async () => {
    for (const socket of sockets.clients) socket.terminate();
    sockets.close();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    await feed.stop();
    await client.end();
  };
  return { server, port, url: `http://127.0.0.1:${port}`, close };
}
