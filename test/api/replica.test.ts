/**
 * The same checks against a standalone replica (`tsx scripts/api.ts`, its own process): Ponder
 * indexes into a Postgres database of the suite's own, and the replica reads it over postgres.js.
 */
import { data, graphql } from "../../harness/graphql";
import { readFile } from "node:fs/promises";
import postgres from "postgres";
import { beforeAll, describe, expect, it } from "vitest";
import { startDeployedChain } from "../../harness/chain";
import { createTestDatabase } from "../../harness/database";
import { openIndexedTables, startPonder } from "../../harness/ponder";
import { startReplica } from "../../harness/replica";
import { runScenario } from "../../harness/scenario";
import { apiChecks, errorCodes, type ApiTarget } from "./suite";
import { cleanupAfterAll } from "../helpers/cleanup";

const databaseUrl = process.env.DATABASE_URL;

describe.skipIf(!databaseUrl)("GraphQL API as a standalone replica on Postgres", () => {
  const cleanup = cleanupAfterAll();
  let target: ApiTarget;
  let replicaUrl: string;
  let analystSql: { databaseUrl: string; schema: string };

  beforeAll(async () => {
    const chain = await startDeployedChain();
    cleanup.push(() => chain.anvil.stop());
    const scenario = await runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient: chain.publicClient, manifest: chain.manifest, seed: 33, steps: 350 });
    const database = await createTestDatabase(databaseUrl!);
    cleanup.push(() => database.drop());
    const ponder = await startPonder({ rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir, databaseUrl: database.url, env: { API_LOG_LEVEL: "warn" } });
    cleanup.push(() => ponder.kill());
    const head = await chain.publicClient.getBlockNumber();
    await ponder.waitForBlock(head);
    analystSql = { databaseUrl: database.url, schema: ponder.schema };
    ({ baseUrl: replicaUrl } = await startReplica({ DATABASE_URL: database.url, DATABASE_SCHEMA: ponder.schema, API_HOST: "127.0.0.1", RPC_URL: chain.anvil.rpcUrl, API_FEED_PREFIX: `far-test-${ponder.schema}` }, cleanup));
    const tables = await openIndexedTables({ databaseUrl: database.url, schema: ponder.schema, pgliteDir: ponder.pgliteDir });
    cleanup.push(() => tables.close());
    target = { graphqlUrl: `${replicaUrl}/graphql`, publicClient: chain.publicClient, manifest: chain.manifest, scenario, head, rows: async () => tables.query };
  });

  it("serves its own /health, /ready and /metrics, and refuses bad input the same way", async () => {
    expect((await fetch(`${replicaUrl}/health`)).status).toBe(200);
    expect((await fetch(`${replicaUrl}/ready`)).status).toBe(200);
    await graphql(target.graphqlUrl, `query Probe { stakingOverview { totalStaked } }`);
    const metrics = await (await fetch(`${replicaUrl}/metrics`)).text();
    expect(metrics).toMatch(/graphql_requests_total\{operation="Probe",outcome="ok"\} 1/);
    expect(metrics).toContain("far_api_process_cpu_seconds_total");
    expect(await errorCodes(target.graphqlUrl, `{ tasks(first: 500) { edges { cursor } } }`)).toEqual(["PAGE_TOO_LARGE"]);
  });

  it("serves the dashboard as the embedded API does: the page and its bundle, typed, with ETags", async () => {
    const page = await fetch(`${replicaUrl}/dashboard`);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("connect-src 'self'");
    expect(await page.text()).toContain('src="dashboard/app.js"');
    for (const [file, type] of [["app.js", "text/javascript"], ["app.css", "text/css"]]) {
      const asset = await fetch(`${replicaUrl}/dashboard/${file}`);
      expect(asset.headers.get("content-type")).toBe(`${type}; charset=utf-8`);
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(1000);
      expect((await fetch(`${replicaUrl}/dashboard/${file}`, { headers: { "if-none-match": asset.headers.get("etag")! } })).status).toBe(304);
    }
    expect((await fetch(`${replicaUrl}/dashboard/other.js`)).status).toBe(404);
  });

  it("runs the README's analyst SQL as the read-only role it creates, which cannot write", async () => {
    const readme = await readFile("README.md", "utf8");
    const [grants, daily, topNodes] = [...readme.matchAll(/```sql\n([\s\S]*?)```/g)].map((match) => match[1]!);
    expect(topNodes).toBeDefined();
    // The role is cluster-wide: a name of this run's own, like the schema.
    const role = `analyst_${analystSql.schema}`;
    const adapt = (text: string) => text.replaceAll("far.", `"${analystSql.schema}".`).replaceAll("SCHEMA far", `SCHEMA "${analystSql.schema}"`).replaceAll("analyst", role);
    const admin = postgres(analystSql.databaseUrl, { max: 1, onnotice: () => {} });
    cleanup.push(async () => {
      await admin.unsafe(`DROP OWNED BY ${role}; DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    });
    await admin.unsafe(adapt(grants!));
    const url = new URL(analystSql.databaseUrl);
    url.username = role;
    url.password = "change-me";
    const analyst = postgres(url.toString(), { max: 1, onnotice: () => {} });
    cleanup.push(() => analyst.end());

    const days = await analyst.unsafe<{ stream: string; far: string; usd: string; payout_count: number }[]>(adapt(daily!));
    const [payouts] = await admin.unsafe<{ count: string }[]>(`SELECT count(*) FROM "${analystSql.schema}".payout`);
    expect(days.length).toBeGreaterThan(0);
    expect(days.reduce((sum, row) => sum + Number(row.payout_count), 0)).toBe(Number(payouts!.count));
    expect(days.every((row) => /^\d+\.\d{4}$/.test(row.far) && /^\d+\.\d{2}$/.test(row.usd))).toBe(true);

    const nodes = await analyst.unsafe<{ node: string; far_earned: string }[]>(adapt(topNodes!));
    const { nodes: api } = await data<{ nodes: { edges: { node: { address: string } }[] } }>(target.graphqlUrl, `{ nodes(first: 1, orderBy: EARNINGS_DESC) { edges { node { address } } } }`);
    expect(nodes[0]?.node).toBe(api.edges[0]?.node.address);

    await expect(analyst.unsafe(`DELETE FROM "${analystSql.schema}".payout`)).rejects.toThrow(/permission denied/);
  });

  apiChecks(() => target);
});
