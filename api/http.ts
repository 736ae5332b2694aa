/**
 * The HTTP edge both servers share (the embedded app inside Ponder's server, a replica's own):
 * `/graphql` behind a request-body limit and, when configured, a per-client rate limit. Both
 * refusals are GraphQL error bodies with a code, as every other refusal of the API.
 */
import type { IncomingMessage } from "node:http";
import type { Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { rateLimiter } from "hono-rate-limiter";
import type { YogaServerInstance } from "graphql-yoga";
import type { ApiConfig } from "./config";
import type { ApiContext, Connection } from "./context";
import { GRAPHQL_PATH } from "./create-api";

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

export function mountGraphql(app: Hono, yoga: Yoga, config: ApiConfig) {
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
  // Node's response (Hono's node server passes it as `outgoing`) lets a stalled subscription be dropped.
  app.all(GRAPHQL_PATH, (c) => yoga.fetch(c.req.raw, { res: (c.env as { outgoing?: Connection["res"] } | undefined)?.outgoing }));
}
