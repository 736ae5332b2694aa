/**
 * The oracle's HTTP server: `/metrics` and `/health` for monitoring, and `/operations` for the
 * operators' CLI. An operation posted here joins the scheduler's stream as the same message a
 * scheduler would send, so it is validated, deduplicated by `opId` and settled like any other;
 * the endpoint only answers with a bearer token (ORACLE_ADMIN_TOKEN), since it makes the oracle
 * sign transactions.
 */
import type { Server } from "node:http";
import { Hono, type Context } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ConfigError } from "../common/errors";
import { listen } from "../common/http";
import type { OracleMetrics } from "./metrics";
import { parseMessage } from "./message";
import type { ModelTable } from "./pricing";
import type { JobStore } from "./settlement/jobs";
import type { ResultStream } from "./stream";

export type OracleAppParameters = {
  metrics: OracleMetrics;
  stream: ResultStream;
  jobs: JobStore;
  models: ModelTable;
  adminToken: string | undefined;
};

const OPERATIONS = "/operations";
/** Hono's `/operations/*` also matches `/operations` itself. */
const OPERATIONS_AND_BELOW = `${OPERATIONS}/*`;
const MAX_BODY_BYTES = 16 * 1024;

/** Every refusal: a code a client can branch on and a reason a person can read. */
function refuse(c: Context, status: ContentfulStatusCode, code: string, reason: string, extra: Record<string, unknown> = {}) {
  return c.json({ code, reason, ...extra }, status);
}

const badBody = (c: Context, cause?: string) => refuse(c, 400, "bad_body", `the body must be a JSON object of strings${cause ? `: ${cause}` : ""}`);

export function createOracleApp(parameters: OracleAppParameters): Hono {
  const { metrics, stream, jobs, models, adminToken } = parameters;
  const app = new Hono();
  app.all("/metrics", async (c) => c.body(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType }));
  app.all("/health", (c) => c.text("ok"));

  // Any method on /operations[/…] needs the token first, so a wrong method is only told to those allowed to ask.
  const unauthorized = { message: (c: Context) => refuse(c, 401, "unauthorized", "a valid `Authorization: Bearer <ORACLE_ADMIN_TOKEN>` is required") };
  const authenticate = adminToken ? bearerAuth({ token: adminToken, noAuthenticationHeader: unauthorized, invalidAuthenticationHeader: unauthorized, invalidToken: unauthorized }) : undefined;
  app.use(OPERATIONS_AND_BELOW, async (c, next) =>
    authenticate ? authenticate(c, next) : refuse(c, 403, "disabled", "set ORACLE_ADMIN_TOKEN on the oracle to accept operations"),
  );

  app.post(OPERATIONS, bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => badBody(c, `the body exceeds ${MAX_BODY_BYTES} bytes`) }), async (c) => {
    const body = await c.req.json<unknown>().catch((error: unknown) => error as Error);
    if (body instanceof Error) return badBody(c, body.message);
    if (typeof body !== "object" || body === null || Array.isArray(body)) return badBody(c);
    const fields = Object.fromEntries(Object.entries(body).map(([name, value]) => [name, String(value)]));
    const parsed = parseMessage(fields, models);
    if (!parsed.ok) return refuse(c, 400, parsed.code, parsed.reason);
    if (parsed.job.operation !== "registerNode" && parsed.job.operation !== "updateNodeRating") {
      return refuse(c, 400, "unknown_op", "task results come from the scheduler's stream, not from operators");
    }
    await stream.publish(fields);
    return c.json({ key: parsed.job.key }, 202);
  });
  // A key may hold slashes: everything after /operations/ is the key.
  app.get(`${OPERATIONS}/:key{.+}`, async (c) => {
    const key = c.req.param("key");
    const job = await jobs.job(key);
    if (!job) return refuse(c, 404, "not_received", `no operation ${key} recorded yet`);
    return c.json({ key, state: job.state, reason: job.reason ?? null });
  });
  app.all(OPERATIONS_AND_BELOW, (c) => refuse(c, 405, "method_not_allowed", `POST ${OPERATIONS} or GET ${OPERATIONS}/<key>`));

  app.notFound((c) => refuse(c, 404, "not_found", `no route ${c.req.path}`));
  app.onError((error, c) => (error instanceof HTTPException ? error.getResponse() : refuse(c, 503, "unavailable", String(error), { retryable: true })));
  return app;
}

export async function serveOracleHttp(parameters: OracleAppParameters & { port: number; host: string }): Promise<Server> {
  return listen(createOracleApp(parameters), parameters.port, parameters.host).catch((cause: Error) => {
    throw new ConfigError(`The oracle cannot listen on port ${parameters.port}: ${cause.message} (set ORACLE_HTTP_PORT)`);
  });
}
