/**
 * A stateless API replica: reads the indexer's tables in Postgres (the schema Ponder writes,
 * through `search_path`) and serves /graphql, /health, /ready and /metrics on its own HTTP
 * server. Any number of them can run behind a load balancer.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { drizzle } from "drizzle-orm/postgres-js";
import { pino } from "pino";
import postgres from "postgres";
import { collectDefaultMetrics, Registry } from "prom-client";
import { createPublicClient, http } from "viem";
import { WebSocketServer } from "ws";
import type { ReplicaConfig } from "./config";
import { readStatus } from "./context";
import { createApi } from "./create-api";
import { startFeed } from "./feed";
import { serveGraphqlWs } from "./websocket";

export async function startReplica(config: ReplicaConfig) {
  const logger = pino({ name: "api", level: config.API_LOG_LEVEL });
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
  const chain = config.RPC_URL ? createPublicClient({ transport: http(config.RPC_URL) }) : undefined;
  const feed = startFeed({ db, config, logger });
  const { yoga, maskError } = createApi({ db, config, logger, registry, chain, feed });

  const routes: Record<string, (response: ServerResponse) => Promise<void>> = {
    "/health": async (response) => void response.end("ok"),
    "/ready": async (response) => {
      const status = await readStatus(db).catch(() => undefined);
      response.statusCode = status?.synced ? 200 : 503;
      response.end(status?.synced ? "ok" : "The indexer has not caught up with the chain yet");
    },
    "/metrics": async (response) => {
      response.setHeader("content-type", registry.contentType);
      response.end(await registry.metrics());
    },
  };
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const route = routes[new URL(request.url ?? "/", "http://replica").pathname];
    if (!route) return yoga(request, response);
    route(response).catch((error: unknown) => {
      logger.error({ msg: "Route failed", path: request.url, err: error });
      response.statusCode = 500;
      response.end();
    });
  });
  const sockets = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  serveGraphqlWs({ yoga, sockets, config, maskError });
  await new Promise<void>((resolve) => server.listen(config.API_PORT, config.API_HOST, resolve));
  const { port } = server.address() as AddressInfo;
  logger.info({ msg: "API replica listening", port, database_schema: config.DATABASE_SCHEMA });
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
