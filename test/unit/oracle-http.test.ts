/**
 * The oracle's HTTP surface (oracle/http.ts) answered in process through the Hono app: every
 * route, refusal and status an operator's client or a scraper can meet, without a chain.
 */
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateSchema } from "../../oracle/db/migrate";
import { loadOracleConfig } from "../../oracle/config";
import { createPgliteSql } from "../../common/sql";
import { createOracleApp, serveOracleHttp } from "../../oracle/http";
import { parseMessage, type Job } from "../../oracle/message";
import { createMetrics } from "../../oracle/metrics";
import { DEFAULT_MODELS } from "../../oracle/pricing";
import { createJobStore, type JobStore } from "../../oracle/settlement/jobs";
import { createMemoryStream, type ResultStream } from "../../oracle/stream";

const TOKEN = "an-admin-token-of-24-chars";
const NODE = "0x00000000000000000000000000000000000000aa";
const AUTH = { authorization: `Bearer ${TOKEN}` };

describe("oracle HTTP", () => {
  let sql: Awaited<ReturnType<typeof createPgliteSql>>;
  let jobs: JobStore;
  beforeAll(async () => {
    sql = await createPgliteSql({ dataDir: "memory://" });
    await migrateSchema({ pglite: sql.pglite }, "oracle_http");
    jobs = createJobStore({ sql, schema: "oracle_http", chainId: 31337, contract: "0x000000000000000000000000000000000000b000" });
  });
  afterAll(() => sql.close());

  const appWith = (options: { adminToken?: string; stream?: ResultStream } = {}) =>
    createOracleApp({ metrics: createMetrics(), stream: options.stream ?? createMemoryStream(), jobs, models: DEFAULT_MODELS, adminToken: "adminToken" in options ? options.adminToken : TOKEN });
  const post = (body: string, headers: Record<string, string> = AUTH) => ({ method: "POST", body, headers: { ...headers, "content-type": "application/json" } });

  it("serves /health and /metrics (Prometheus' content type) to any method", async () => {
    const app = appWith();
    const health = await app.request("/health");
    expect([health.status, await health.text()]).toEqual([200, "ok"]);
    for (const method of ["GET", "POST"]) {
      const metrics = await app.request("/metrics", { method });
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get("content-type")).toBe(createMetrics().registry.contentType);
      expect(await metrics.text()).toContain("# TYPE");
    }
  });

  it("answers an unknown path 404 not_found naming it", async () => {
    const reply = await appWith().request("/nowhere");
    expect(reply.status).toBe(404);
    expect(await reply.json()).toEqual({ code: "not_found", reason: "no route /nowhere" });
    expect((await appWith().request("/operationsx")).status).toBe(404);
  });

  it("refuses /operations with 403 disabled when no token is configured, whatever is sent", async () => {
    const app = appWith({ adminToken: undefined });
    for (const [path, init] of [["/operations", post("{}")], ["/operations/any", {}], ["/operations", { method: "DELETE" }]] as const) {
      const reply = await app.request(path, init);
      expect(reply.status, path).toBe(403);
      expect(await reply.json()).toEqual({ code: "disabled", reason: "set ORACLE_ADMIN_TOKEN on the oracle to accept operations" });
    }
  });

  it("takes only a token a bearer header can carry (ORACLE_ADMIN_TOKEN)", () => {
    expect(loadOracleConfig({ ORACLE_ADMIN_TOKEN: TOKEN }).ORACLE_ADMIN_TOKEN).toBe(TOKEN);
    expect(() => loadOracleConfig({ ORACLE_ADMIN_TOKEN: "short" })).toThrow("Invalid setting ORACLE_ADMIN_TOKEN: must be at least 16 characters");
    expect(() => loadOracleConfig({ ORACLE_ADMIN_TOKEN: "a token with spaces" })).toThrow("Invalid setting ORACLE_ADMIN_TOKEN: must hold only letters, digits and -._~+/");
  });

  it("refuses a missing, malformed or wrong token with 401 unauthorized, before any method check", async () => {
    const app = appWith();
    const headers: Record<string, string>[] = [{}, { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }, { authorization: `Bearer ${TOKEN}x` }, { authorization: "Bearer a b" }];
    for (const header of headers) {
      for (const [path, method] of [["/operations", "POST"], ["/operations/k", "GET"], ["/operations", "PUT"]] as const) {
        const reply = await app.request(path, { method, headers: header });
        expect(reply.status, `${method} ${path} ${JSON.stringify(header)}`).toBe(401);
        expect(await reply.json()).toEqual({ code: "unauthorized", reason: "a valid `Authorization: Bearer <ORACLE_ADMIN_TOKEN>` is required" });
      }
    }
  });

  it("answers other methods 405 method_not_allowed", async () => {
    const app = appWith();
    for (const [path, method] of [["/operations", "GET"], ["/operations", "PUT"], ["/operations/k", "POST"], ["/operations/k", "DELETE"]] as const) {
      const reply = await app.request(path, { method, headers: AUTH });
      expect(reply.status, `${method} ${path}`).toBe(405);
      expect(await reply.json()).toEqual({ code: "method_not_allowed", reason: "POST /operations or GET /operations/<key>" });
    }
  });

  it("refuses a body that is not a JSON object of at most 16 KiB with 400 bad_body", async () => {
    const app = appWith();
    const cases: [string, RegExp][] = [
      ["not json", /^the body must be a JSON object of strings: .+/],
      ["", /^the body must be a JSON object of strings: .+/],
      ["[1]", /^the body must be a JSON object of strings$/],
      ["null", /^the body must be a JSON object of strings$/],
      [JSON.stringify({ op: "registerNode", padding: "x".repeat(16 * 1024) }), /^the body must be a JSON object of strings: the body exceeds 16384 bytes$/],
    ];
    for (const [body, reason] of cases) {
      const reply = await app.request("/operations", post(body));
      const answer = (await reply.json()) as { code: string; reason: string };
      expect([reply.status, answer.code], body.slice(0, 20)).toEqual([400, "bad_body"]);
      expect(answer.reason).toMatch(reason);
    }
  });

  it("refuses what the message parser refuses, and task results, with 400 and the parser's code", async () => {
    const app = appWith();
    const bad = await app.request("/operations", post(JSON.stringify({ op: "registerNode", opId: "1", node: "0xbad", owner: NODE })));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ code: "bad_address", reason: "node must be a 0x-prefixed 20-byte hex address" });
    const task = {
      taskId: `0x${"1".repeat(64)}`, node: NODE, model: Object.keys(DEFAULT_MODELS)[0]!, tokensGenerated: 10, status: "completed",
      uptime: 99, tokensPerSecond: 10, expectedTokensPerSecond: 10, accuracy: 1, reportedAt: Date.now(),
    };
    const result = await app.request("/operations", post(JSON.stringify(task)));
    expect(result.status).toBe(400);
    expect(await result.json()).toEqual({ code: "unknown_op", reason: "task results come from the scheduler's stream, not from operators" });
  });

  it("publishes a node operation (202 with its key) and reports its job by key, 404 not_received before", async () => {
    const stream = createMemoryStream();
    const app = appWith({ stream });
    const fields = { op: "registerNode", opId: "op/1", node: NODE, owner: NODE };
    const accepted = await app.request("/operations", post(JSON.stringify(fields)));
    expect(accepted.status).toBe(202);
    expect(await accepted.json()).toEqual({ key: "registerNode:op/1" });
    expect(await stream.backlog()).toBe(1);

    const path = `/operations/${encodeURIComponent("registerNode:op/1")}`;
    const missing = await app.request(path, { headers: AUTH });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ code: "not_received", reason: "no operation registerNode:op/1 recorded yet" });

    const parsed = parseMessage(fields, DEFAULT_MODELS);
    if (!parsed.ok) throw new Error(parsed.reason);
    await jobs.recordJobs([parsed.job as Job]);
    const found = await app.request(path, { headers: AUTH });
    expect(found.status).toBe(200);
    expect(await found.json()).toEqual({ key: "registerNode:op/1", state: "received", reason: null });
  });

  it("answers 503 unavailable, retryable, when the stream fails", async () => {
    const stream = { ...createMemoryStream(), publish: () => Promise.reject(new Error("stream down")) };
    const reply = await appWith({ stream }).request("/operations", post(JSON.stringify({ op: "registerNode", opId: "2", node: NODE, owner: NODE })));
    expect(reply.status).toBe(503);
    expect(await reply.json()).toEqual({ code: "unavailable", reason: "Error: stream down", retryable: true });
  });

  it("listens on the given address, and names ORACLE_HTTP_PORT when the port is taken", async () => {
    const server = await serveOracleHttp({ metrics: createMetrics(), stream: createMemoryStream(), jobs, models: DEFAULT_MODELS, adminToken: TOKEN, port: 0, host: "127.0.0.1" });
    const { port } = server.address() as AddressInfo;
    try {
      expect(await (await fetch(`http://127.0.0.1:${port}/health`)).text()).toBe("ok");
      const posted = await fetch(`http://127.0.0.1:${port}/operations`, { method: "POST", headers: AUTH, body: JSON.stringify({ op: "registerNode", padding: "x".repeat(20_000) }) });
      expect(posted.status).toBe(400);
      await expect(serveOracleHttp({ metrics: createMetrics(), stream: createMemoryStream(), jobs, models: DEFAULT_MODELS, adminToken: TOKEN, port, host: "127.0.0.1" })).rejects.toThrow(
        `The oracle cannot listen on port ${port}: listen EADDRINUSE`,
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
