/**
 * The HTTP edge both servers share (the embedded app inside Ponder's server, a replica's own):
 * `/graphql` behind a request-body limit and, when configured, a per-client rate limit. Both
 * refusals are GraphQL error bodies with a code, as every other refusal of the API.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import type { Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { rateLimiter } from "hono-rate-limiter";
import type { YogaServerInstance } from "graphql-yoga";
import type { ApiConfig } from "./config";
import type { Logger } from "../common/logger";
import type { ApiContext, Connection } from "./context";
import type { ApiDb } from "./db";
import { GRAPHQL_PATH } from "./create-api";
import { mountDashboard } from "./dashboard";
import { mountExports } from "./export";

type Yoga = YogaServerInstance<{}, ApiContext>;

/** A refusal before any GraphQL runs, shaped as GraphQL's own errors. */
export function errorBody(code: string, message: string) {
  return { errors: [{ message, extensions: { code } }] };
}

/** The client's address: the socket's peer, or, behind one trusted proxy, the address that proxy appended. */
function clientAddress(c: Context, trustProxy: boolean): string {
  const forwarded = trustProxy ? c.req.header("x-forwarded-for")?.split(",").at(-1)?.trim() : undefined;
  return forwarded || ((c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket.remoteAddress ?? "unknown");
}

/** What every route the API mounts may need. */
export type ApiRoutes = { yoga: Yoga; config: ApiConfig; logger: Logger; db: ApiDb };

/**
 * Mounts every route both servers serve (each server adds its own health and metrics routes).
 * One place, so the embedded API and a replica never drift apart.
 */
export function mountApi(app: Hono, { yoga, config, logger, db }: ApiRoutes) {
  mountDashboard(app, { config, logger });
  mountExports(app, { config, logger, db });
  if (config.API_RATE_LIMIT > 0) {
    app.use(
      GRAPHQL_PATH,
      rateLimiter({
        windowMs: config.API_RATE_LIMIT_WINDOW_MS,
        limit: config.API_RATE_LIMIT,
        keyGenerator: (c) => clientAddress(c, config.API_TRUST_PROXY),
        standardHeaders: "draft-6",
        statusCode: 429,
        message: errorBody("RATE_LIMITED", `At most ${config.API_RATE_LIMIT} requests per ${config.API_RATE_LIMIT_WINDOW_MS} ms from one client`),
      }),
    );
  }
  app.use(
    GRAPHQL_PATH,
    bodyLimit({
      maxSize: config.API_MAX_BODY_BYTES,
      onError: (c) => c.json(errorBody("BODY_TOO_LARGE", `The request body exceeds ${config.API_MAX_BODY_BYTES} bytes`), 413),
    }),
  );
  // Node's response (Hono's node server passes it as `outgoing`) lets a stalled subscription be
  // dropped, and a grouped subscription be written directly (api/plugins/use-subscription-groups.ts).
  app.all(GRAPHQL_PATH, async (c) => {
    let takenOver = false;
    const connection: Connection = { res: (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing, takeOver: () => (takenOver = true) };
    const response = await yoga.fetch(c.req.raw, connection);
    if (!takenOver) return response;
    // Yoga's SSE body is never read: cancelling it frees what it may have started (its ping
    // timer); one never started has nothing to free, and its cancel throws.
    await response.body?.cancel().catch(() => {});
    return RESPONSE_ALREADY_SENT;
  });
}
