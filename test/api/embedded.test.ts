/**
 * The API as users run it by default: inside Ponder's own server (`ponder start`, PGlite),
 * over real HTTP. Also the limits, the SQL statement bound and Ponder's operational routes.
 */
import { data, graphql } from "../../harness/graphql";
import { beforeAll, describe, expect, it } from "vitest";
import { startDeployedChain } from "../../harness/chain";
import { openIndexedTables, startPonder, type PonderProcess } from "../../harness/ponder";
import { runScenario } from "../../harness/scenario";
import { apiChecks, errorCodes, type ApiTarget } from "./suite";
import { cleanupAfterAll } from "../helpers/cleanup";

describe("GraphQL API embedded in Ponder (PGlite)", () => {
  const cleanup = cleanupAfterAll();
  let target: ApiTarget;
  let ponder: PonderProcess;
  let url: string;

  beforeAll(async () => {
    const chain = await startDeployedChain();
    cleanup.push(() => chain.anvil.stop());
    const scenario = await runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient: chain.publicClient, manifest: chain.manifest, seed: 21, steps: 350 });
    ponder = await startPonder({ rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir, env: { API_EXPOSE_SQL_COUNT: "true", API_LOG_LEVEL: "warn", API_MAX_COST: "1000000" } });
    // (The cost limit now sees `first: $n`; the statement-count test below pages 100 × 100 on purpose.)
    cleanup.push(() => ponder.kill());
    const head = await chain.publicClient.getBlockNumber();
    await ponder.waitForBlock(head);
    url = `${ponder.baseUrl}/graphql`;
    target = {
      graphqlUrl: url,
      publicClient: chain.publicClient,
      manifest: chain.manifest,
      scenario,
      head,
      rows: async () => {
        // PGlite admits one process: the rows are read once Ponder is gone.
        await ponder.stop();
        const tables = await openIndexedTables({ schema: ponder.schema, pgliteDir: ponder.pgliteDir });
        cleanup.push(() => tables.close());
        return tables.query;
      },
    };
  });

  it("runs a bounded number of SQL statements for nested lists, whatever the page size", async () => {
    const nested = [
      `query($n: Int) { nodes(first: $n) { edges { node { tasks(first: $n) { edges { node { user { balance escrow { balance } staker { staked } } payouts { amount } } } } } } } }`,
      `query($n: Int) { tasks(first: $n, filter: { status: COMPLETED }) { edges { node { node { reliability } user { tasks(first: $n) { edges { node { id payouts { stream } } } } } } } } }`,
    ];
    for (const query of nested) {
      const statements = [];
      for (const n of [10, 100]) {
        const result = await graphql(url, query, { n });
        expect(result.errors).toBeUndefined();
        statements.push(result.extensions?.sqlStatements);
      }
      // One statement per list or relation level: nodes, tasks, accounts, escrows, stakers, payouts.
      expect(statements[0]).toBeGreaterThan(2);
      expect(statements[0]).toBeLessThanOrEqual(6);
      expect(statements[1]).toBe(statements[0]);
    }
  });

  it("rejects abusive queries with their codes and no stack trace", async () => {
    let deep = "address";
    for (let i = 0; i < 3; i++) deep = `tasks(first: 1) { edges { node { node { ${deep} } } } }`;
    expect(await errorCodes(url, `{ nodes(first: 1) { edges { node { ${deep} } } } }`)).toContain("QUERY_TOO_DEEP");
    const aliases = Array.from({ length: 200 }, (_, i) => `a${i}: indexingStatus { chainId }`).join(" ");
    expect(await errorCodes(url, `{ ${aliases} }`)).toContain("TOO_MANY_ALIASES");
    expect(await errorCodes(url, `{ ${"indexingStatus { chainId } ".repeat(1500)} }`)).toContain("TOO_MANY_TOKENS");
    expect(await errorCodes(url, `{ nodes(first: 100) { edges { node { tasks(first: 100) { edges { node { user { tasks(first: 100) { edges { cursor } } } } } } } } } }`)).toEqual(["QUERY_TOO_COMPLEX"]);
    expect(await errorCodes(url, `{ tasks(first: 101) { edges { cursor } } }`)).toEqual(["PAGE_TOO_LARGE"]);
    expect(await errorCodes(url, `{ tasks(first: -1) { edges { cursor } } }`)).toEqual(["BAD_USER_INPUT"]);
    expect(await errorCodes(url, `{ account(address: "0x1234") { balance } }`)).toEqual(["INVALID_ADDRESS"]);
    expect(await errorCodes(url, `query($a: Address!) { account(address: $a) { balance } }`, { a: "0xzz00000000000000000000000000000000000000" })).toEqual(["INVALID_ADDRESS"]);
    expect(await errorCodes(url, `{ task(id: "0x12") { id } }`)).toEqual(["INVALID_BYTES32"]);
    expect(await errorCodes(url, `{ tasks(after: "not-a-cursor") { edges { cursor } } }`)).toEqual(["INVALID_CURSOR"]);
    const { nodes } = await data(url, `{ nodes(first: 1) { pageInfo { endCursor } } }`);
    expect(await errorCodes(url, `query($c: String) { tasks(after: $c) { edges { cursor } } }`, { c: nodes.pageInfo.endCursor })).toEqual(["INVALID_CURSOR"]);
    const range = `(interval: DAY, from: "2025-02-01T00:00:00Z", to: "2025-01-01T00:00:00Z")`;
    expect(await errorCodes(url, `{ revenueSeries${range} { amount } }`)).toEqual(["INVALID_RANGE"]);
    expect(await errorCodes(url, `{ revenueSeries(interval: HOUR, from: "2000-01-01T00:00:00Z", to: "2025-01-01T00:00:00Z") { amount } }`)).toEqual(["INVALID_RANGE"]);
    expect(await errorCodes(url, `{ revenueSeries(interval: DAY, from: "yesterday", to: "2025-01-01T00:00:00Z") { amount } }`)).toEqual(["INVALID_DATETIME"]);
    const raw = await (await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: `{ tasks(after: "x") { edges { cursor } } }` }) })).text();
    expect(raw).not.toMatch(/stack|at .*\.ts:\d+/);
  });

  it("pages by opaque cursors without gaps or repeats", async () => {
    const all = await data(url, `{ payouts(first: 100) { edges { cursor node { id } } } }`);
    const page1 = await data(url, `{ payouts(first: 7) { edges { node { id } } pageInfo { hasNextPage hasPreviousPage endCursor } } }`);
    const page2 = await data(url, `query($c: String) { payouts(first: 7, after: $c) { edges { node { id } } pageInfo { hasPreviousPage } } }`, { c: page1.payouts.pageInfo.endCursor });
    expect([...page1.payouts.edges, ...page2.payouts.edges].map((e: any) => e.node.id)).toEqual(all.payouts.edges.slice(0, 14).map((e: any) => e.node.id));
    expect(page1.payouts.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    expect(page2.payouts.pageInfo.hasPreviousPage).toBe(true);
    expect(Buffer.from(page1.payouts.pageInfo.endCursor, "base64url").toString()).toContain("payout:position");
  });

  it("serves GraphiQL without a CDN, and Ponder's /health, /ready and one /metrics with the API's metrics", async () => {
    const page = await (await fetch(url, { headers: { accept: "text/html" } })).text();
    expect(page).toContain("<html");
    expect(page).not.toMatch(/unpkg\.com|jsdelivr|cdn\./);
    expect((await fetch(`${ponder.baseUrl}/health`)).status).toBe(200);
    expect((await fetch(`${ponder.baseUrl}/ready`)).status).toBe(200);
    await graphql(url, `query Dashboard { indexingStatus { synced } }`);
    const metrics = await (await fetch(`${ponder.baseUrl}/metrics`)).text();
    expect(metrics).toContain("ponder_sync_block");
    expect(metrics).toMatch(/graphql_requests_total\{operation="Dashboard",outcome="ok"\} \d+/);
    expect(metrics).toMatch(/graphql_errors_total\{operation="anonymous",code="PAGE_TOO_LARGE"\} \d+/);
    expect(metrics).toContain("graphql_request_duration_seconds_bucket");
  });

  apiChecks(() => target);
});
