/**
 * The operators' alert rules and dashboard (ops/prometheus, ops/grafana; how compose runs them:
 * compose.test.ts). promtool accepts the rules, the dashboard's queries and Prometheus's
 * configuration and passes the rules' unit tests, in which every alert fires once and stays
 * quiet once; each alert has its row in README's runbook; and every metric the
 * rules and the dashboard read is one the running services serve on /metrics — Ponder with the
 * embedded API on Postgres, an API replica, the oracle and the webhook deliverer, on an indexed chain — with the values
 * the API and the chain give.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import postgres from "postgres";
import { nodeAddresses } from "../../common/chain";
import { createLogger } from "../../common/logger";
import { data } from "../../harness/graphql";
import { oracleEnv } from "../../harness/oracle";
import { freePort } from "../../harness/ports";
import { exposedMetrics, hasPromtool, PROMTOOL_PATH, selectedMetrics } from "../../harness/promql";
import { patience, waitUntil } from "../../harness/wait";
import { loadOracleConfig } from "../../oracle/config";
import { startOracle } from "../../oracle/start-oracle";
import { createMemoryStream } from "../../oracle/stream";
import { metricValue } from "../../harness/metrics";
import { startEdgeWithReplica, type EdgeWithReplica } from "../edge/helpers";
import { loadWebhooksConfig } from "../../webhooks/config";
import { startDeliverer } from "../../webhooks/deliverer";
import { taskReport } from "../oracle/helpers";

const databaseUrl = process.env.DATABASE_URL;
const RULES = "ops/prometheus/alerts.yml";
const RULE_TESTS = "ops/prometheus/alerts.test.yml";

/** Series Prometheus records itself for every target: no service serves them. */
const PROMETHEUS_SERIES = ["up"];

const rules = (parse(readFileSync(RULES, "utf8")) as { groups: { rules: { alert: string; expr: string; labels: { severity: string } }[] }[] }).groups.flatMap((group) => group.rules);
const dashboard = JSON.parse(readFileSync("ops/grafana/dashboards/far-data-service.json", "utf8")) as { panels: { targets?: { expr: string }[] }[] };
const expressions = [...rules.map((rule) => rule.expr), ...dashboard.panels.flatMap((panel) => panel.targets ?? []).map((target) => target.expr)];
const readMetrics = [...new Set(expressions.flatMap(selectedMetrics))].sort();

const promtool = async (...args: string[]) => (await promisify(execFile)(PROMTOOL_PATH, args, { encoding: "utf8" })).stdout;

describe("the operators' alert rules", () => {
  it.skipIf(!hasPromtool)(`pass promtool's checks, of the rules and of Prometheus's configuration (${PROMTOOL_PATH}, Debian's prometheus package)`, async () => {
    expect(await promtool("check", "rules", RULES)).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(await promtool("check", "config", "ops/prometheus/prometheus.yml")).toContain("is valid prometheus config file syntax");
  });

  it.skipIf(!hasPromtool)("hold the dashboard to the same parser: promtool parses each of its queries", async () => {
    // As recording rules in a file of their own, Grafana's interval variable standing for a duration.
    const queries = dashboard.panels.flatMap((panel) => panel.targets ?? []).map((target) => target.expr.replaceAll("$__rate_interval", "5m"));
    const file = join(await mkdtemp(join(tmpdir(), "far-dashboard-")), "queries.yml");
    await writeFile(file, stringify({ groups: [{ name: "dashboard", rules: queries.map((expr, index) => ({ record: `dashboard:query_${index}`, expr })) }] }));
    expect(await promtool("check", "rules", file)).toContain(`SUCCESS: ${queries.length} rules found`);
  });

  it.skipIf(!hasPromtool)("pass their unit tests, in which every alert fires once and stays quiet once (promtool test rules)", async () => {
    expect(await promtool("test", "rules", RULE_TESTS)).toContain("SUCCESS");
    type Case = { alertname: string; exp_alerts?: unknown[] };
    const cases = (parse(readFileSync(RULE_TESTS, "utf8")) as { tests: { alert_rule_test: Case[] }[] }).tests.flatMap((test) => test.alert_rule_test);
    const alerts = rules.map((rule) => rule.alert).sort();
    const firing = new Set(cases.filter((test) => test.exp_alerts?.length).map((test) => test.alertname));
    const quiet = new Set(cases.filter((test) => !test.exp_alerts?.length).map((test) => test.alertname));
    expect([...firing].sort()).toEqual(alerts);
    expect([...quiet].sort()).toEqual(alerts);
  });

  it("each have a row in README's runbook, which names no other", () => {
    const readme = readFileSync("README.md", "utf8");
    const runbook = readme.slice(readme.indexOf("### Alerts"), readme.indexOf("## For contributors"));
    const rows = [...runbook.matchAll(/^\| `(\w+)` \((critical|warning)\) \|/gm)].map(([, alert, severity]) => `${alert} ${severity}`);
    expect(rows.sort()).toEqual(rules.map((rule) => `${rule.alert} ${rule.labels.severity}`).sort());
  });

  it("name the services' jobs", () => {
    const jobs = new Set((parse(readFileSync("ops/prometheus/prometheus.yml", "utf8")) as { scrape_configs: { job_name: string }[] }).scrape_configs.map((job) => job.job_name));
    for (const expression of expressions) {
      for (const [, names] of expression.matchAll(/\bjob\s*=~?\s*"([^"]*)"/g)) for (const job of names!.split("|")) expect(jobs, expression).toContain(job);
    }
  });
});

describe.skipIf(!databaseUrl)("every metric the rules and the dashboard read, on the running services' /metrics", () => {
  let edge: EdgeWithReplica;
  let oracle: Awaited<ReturnType<typeof startOracle>>;
  let oracleUrl: string;
  let deliverer: Awaited<ReturnType<typeof startDeliverer>> | undefined;
  let webhooksUrl: string;
  const webhooksSchema = `webhooks_ops_${process.pid}`;
  const stream = createMemoryStream();

  beforeAll(async () => {
    edge = await startEdgeWithReplica({ databaseUrl: databaseUrl!, env: {}, steps: 20 });
    const port = await freePort();
    oracle = await startOracle(loadOracleConfig(oracleEnv(edge.chain, { ORACLE_HTTP_PORT: String(port) })), { stream });
    oracleUrl = `http://127.0.0.1:${port}`;
    const webhooksPort = await freePort();
    const webhooksEnv = { DATABASE_URL: databaseUrl!, WEBHOOKS_DB_SCHEMA: webhooksSchema, INDEXER_URL: edge.ponder.baseUrl, WEBHOOKS_METRICS_PORT: String(webhooksPort), LOG_LEVEL: "warn" };
    deliverer = await startDeliverer(loadWebhooksConfig(webhooksEnv), createLogger({ level: "warn", name: "webhooks" }));
    webhooksUrl = `http://127.0.0.1:${webhooksPort}`;
    // A result naming no valid task: dead-lettered with its code.
    await stream.publish({ ...taskReport(`0x${"11".repeat(32)}`, nodeAddresses(1)[0]!), taskId: "0x1234" });
    await waitUntil(() => stream.deadLetters.length > 0, "the oracle to dead-letter the malformed result");
  }, patience(900_000));
  afterAll(async () => {
    await oracle?.stop();
    await deliverer?.stop();
    const sql = postgres(databaseUrl!, { max: 1, onnotice: () => {} });
    await sql.unsafe(`drop schema if exists "${webhooksSchema}" cascade`);
    await sql.end();
    await edge?.stop();
  });

  const scrape = async (baseUrl: string) => (await fetch(`${baseUrl}/metrics`)).text();

  it("serves each of them (but Prometheus's own)", async () => {
    const served = await Promise.all([edge.ponder.baseUrl, edge.replicaUrl, oracleUrl, webhooksUrl].map(async (url) => exposedMetrics(await scrape(url))));
    const exposed = new Set(served.flatMap((names) => [...names]));
    const missing = readMetrics.filter((name) => !exposed.has(name) && !PROMETHEUS_SERIES.includes(name));
    expect(missing).toEqual([]);
    // The check itself: the list is long and reaches every service.
    expect(readMetrics.length).toBeGreaterThan(20);
    for (const prefix of ["far_indexing_", "far_webhook_", "graphql_", "oracle_"]) expect(readMetrics.some((name) => name.startsWith(prefix) && exposed.has(name)), prefix).toBe(true);
  });

  it("gives the indexer's progress as the API reports it, on the indexer and on a replica", async () => {
    const head = Number(await edge.chain.publicClient.getBlockNumber());
    await edge.ponder.waitForBlock(BigInt(head));
    for (const [baseUrl, graphqlUrl] of [
      [edge.ponder.baseUrl, edge.embeddedUrl],
      [edge.replicaUrl, edge.replicaGraphql],
    ] as const) {
      const { indexingStatus: status } = await data<{ indexingStatus: { latestBlock: { number: number }; finalizedBlock: { number: number }; headBlock: number; lagBlocks: number; synced: boolean } }>(
        graphqlUrl,
        `{ indexingStatus { latestBlock { number } finalizedBlock { number } headBlock lagBlocks synced } }`,
      );
      expect(status.headBlock).toBe(head);
      const text = await scrape(baseUrl);
      expect(text, baseUrl).toContain(`far_indexing_latest_block{chain="anvil"} ${status.latestBlock.number}`);
      expect(text, baseUrl).toContain(`far_indexing_finalized_block{chain="anvil"} ${status.finalizedBlock.number}`);
      expect(text, baseUrl).toContain(`far_indexing_head_block{chain="anvil"} ${head}`);
      expect(text, baseUrl).toContain(`far_indexing_lag_blocks{chain="anvil"} ${status.lagBlocks}`);
      expect(await metricValue(baseUrl, "far_indexing_synced"), baseUrl).toBe(status.synced ? 1 : 0);
      expect(status.synced).toBe(true);
    }
  });

  it("counts the oracle's dead letters by code, and shows its signer's balance as the chain holds it", async () => {
    const text = await scrape(oracleUrl);
    expect(text).toContain(`oracle_dead_letters_total{code="${stream.deadLetters[0]!.fields.code}"} 1`);
    const address = oracle.account.address;
    const balance = await edge.chain.publicClient.getBalance({ address });
    expect(balance).toBeGreaterThan(0n);
    const shown = text.match(new RegExp(`^oracle_signer_balance_wei\\{address="${address}"\\} (\\S+)$`, "m"))?.[1];
    expect(Number(shown)).toBe(Number(balance));
  });
});
