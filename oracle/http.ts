/**
 * The oracle's HTTP server: `/metrics` and `/health` for monitoring, and `/operations` for the
 * operators' CLI. An operation posted here joins the scheduler's stream as the same message a
 * scheduler would send, so it is validated, deduplicated by `opId` and settled like any other;
 * the endpoint only answers with a bearer token (ORACLE_ADMIN_TOKEN), since it makes the oracle
 * sign transactions.
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { ConfigError } from "../common/errors";
import type { OracleMetrics } from "./metrics";
import { parseMessage } from "./message";
import type { ModelTable } from "./pricing";
import type { JobStore } from "./settlement/jobs";
import type { ResultStream } from "./stream";

export type ServeOracleHttpParameters = {
  metrics: OracleMetrics;
  port: number;
  host: string;
  stream: ResultStream;
  jobs: JobStore;
  models: ModelTable;
  adminToken: string | undefined;
};

const OPERATIONS = "/operations";
const MAX_BODY_BYTES = 16 * 1024;

function reply(response: ServerResponse, status: number, body: Record<string, unknown>) {
  response.statusCode = status;
  response.setHeader("content-type", "application/json");
  response.end(JSON.stringify(body));
}

function authorized(request: IncomingMessage, token: string): boolean {
  const given = Buffer.from(request.headers.authorization ?? "");
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  let body = "";
  for await (const chunk of request) {
    body += String(chunk);
    if (body.length > MAX_BODY_BYTES) throw new Error(`the body exceeds ${MAX_BODY_BYTES} bytes`);
  }
  return JSON.parse(body);
}

export function serveOracleHttp(parameters: ServeOracleHttpParameters): Promise<Server> {
  const { metrics, stream, jobs, models, adminToken } = parameters;

  async function postOperation(request: IncomingMessage, response: ServerResponse) {
    const body = await readJson(request).catch((error: unknown) => error as Error);
    if (body instanceof Error || typeof body !== "object" || body === null || Array.isArray(body)) {
      return reply(response, 400, { code: "bad_body", reason: `the body must be a JSON object of strings${body instanceof Error ? `: ${body.message}` : ""}` });
    }
    const fields = Object.fromEntries(Object.entries(body).map(([name, value]) => [name, String(value)]));
    const parsed = parseMessage(fields, models);
    if (!parsed.ok) return reply(response, 400, { code: parsed.code, reason: parsed.reason });
    if (parsed.job.operation !== "registerNode" && parsed.job.operation !== "updateNodeRating") {
      return reply(response, 400, { code: "unknown_op", reason: "task results come from the scheduler's stream, not from operators" });
    }
    await stream.publish(fields);
    reply(response, 202, { key: parsed.job.key });
  }

  async function getOperation(key: string, response: ServerResponse) {
    const job = await jobs.job(key);
    if (!job) return reply(response, 404, { code: "not_received", reason: `no operation ${key} recorded yet` });
    reply(response, 200, { key, state: job.state, reason: job.reason ?? null });
  }

  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://oracle");
    try {
      if (url.pathname === "/metrics") {
        response.setHeader("content-type", metrics.registry.contentType);
        response.end(await metrics.registry.metrics());
      } else if (url.pathname === "/health") {
        response.end("ok");
      } else if (url.pathname === OPERATIONS || url.pathname.startsWith(`${OPERATIONS}/`)) {
        if (!adminToken) return reply(response, 403, { code: "disabled", reason: "set ORACLE_ADMIN_TOKEN on the oracle to accept operations" });
        if (!authorized(request, adminToken)) return reply(response, 401, { code: "unauthorized", reason: "a valid `Authorization: Bearer <ORACLE_ADMIN_TOKEN>` is required" });
        if (url.pathname === OPERATIONS && request.method === "POST") return await postOperation(request, response);
        if (url.pathname !== OPERATIONS && request.method === "GET") return await getOperation(decodeURIComponent(url.pathname.slice(OPERATIONS.length + 1)), response);
        reply(response, 405, { code: "method_not_allowed", reason: `POST ${OPERATIONS} or GET ${OPERATIONS}/<key>` });
      } else {
        reply(response, 404, { code: "not_found", reason: `no route ${url.pathname}` });
      }
    } catch (error) {
      reply(response, 503, { code: "unavailable", reason: String(error), retryable: true });
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", (cause) => reject(new ConfigError(`The oracle cannot listen on port ${parameters.port}: ${cause.message} (set ORACLE_METRICS_PORT)`)));
    server.listen(parameters.port, parameters.host, () => resolve(server));
  });
}
