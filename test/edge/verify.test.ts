/**
 * `far verify` as an operator runs it, against a real `ponder start` on Postgres after reorgs, an
 * anvil revert (block numbers reused) and a time warp: through the GraphQL API and through
 * Postgres it checks every table and passes; with a row edited behind the indexer's back, or a
 * table emptied, it fails and says where.
 */
import { spawnSync } from "node:child_process";
import postgres from "postgres";
import { beforeAll, describe, expect, it } from "vitest";
import { startDeployedChain } from "../../harness/chain";
import { createTestDatabase } from "../../harness/database";
import { startPonder, type PonderProcess } from "../../harness/ponder";
import { createReorgDriver } from "../helpers/reorg";
import { runScenario } from "../../harness/scenario";
import { patience } from "../../harness/wait";
import { cleanupAfterAll } from "../helpers/cleanup";

const databaseUrl = process.env.DATABASE_URL;
const TABLES = ["token_stats", "account", "staker", "escrow_account", "node", "task", "payout"];

describe.skipIf(!databaseUrl)("far verify", () => {
  const cleanup = cleanupAfterAll();
  let chain: Awaited<ReturnType<typeof startDeployedChain>>;
  let ponder: PonderProcess;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let direct: postgres.Sql;

  /** `npm run far -- verify`; `through: "postgres"` gives it DATABASE_URL, else it reads the GraphQL API. */
  const farVerify = (through: "graphql" | "postgres") => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CHAIN: "anvil",
      RPC_URL: chain.anvil.rpcUrl,
      DEPLOYMENTS_DIR: chain.deploymentsDir,
      INDEXER_URL: ponder.baseUrl,
      DATABASE_SCHEMA: ponder.schema,
    };
    delete env.DATABASE_URL;
    if (through === "postgres") env.DATABASE_URL = database.url;
    const run = spawnSync("npm", ["run", "-s", "far", "--", "verify"], { env, encoding: "utf8", timeout: patience(240_000) });
    const counts = /rows checked per table \([^)]*\): (.*)/.exec(run.stdout)?.[1] ?? "";
    const rows = Object.fromEntries(counts.split(", ").map((entry) => [entry.slice(0, entry.lastIndexOf(" ")), Number(entry.slice(entry.lastIndexOf(" ") + 1))]));
    return { ...run, rows };
  };
  /** Edits the index behind Ponder's back; its triggers (reorg log, live queries) stay out of it. */
  const tamper = (statement: string) =>
    direct.begin(async (tx) => {
      await tx.unsafe(`SET LOCAL session_replication_role = replica`);
      await tx.unsafe(statement);
    });
  const indexHead = async () => ponder.waitForBlock(await chain.publicClient.getBlockNumber());

  beforeAll(async () => {
    chain = await startDeployedChain();
    cleanup.push(() => chain.anvil.stop());
    const { publicClient, testClient, manifest } = chain;
    const scenario = await runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient, manifest, seed: 21, steps: 200 });
    database = await createTestDatabase(databaseUrl!);
    cleanup.push(() => database.drop());
    ponder = await startPonder({ rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir, databaseUrl: database.url, env: { API_LOG_LEVEL: "warn" } });
    cleanup.push(() => ponder.kill());
    await indexHead();
    direct = postgres(database.url, { max: 1, onnotice: () => {}, connection: { search_path: ponder.schema } });
    cleanup.push(() => direct.end());

    // A reorg that replaces three settled blocks.
    const driver = await createReorgDriver({ rpcUrl: chain.anvil.rpcUrl, publicClient, manifest, user: scenario.users[0]!, node: scenario.nodes[0]!, label: "verify-reorg" });
    const { spare } = await driver.settleBlocks(3);
    await indexHead();
    await driver.reorg(3, spare);
    await indexHead();
    // An anvil revert: a short branch indexed, then thrown away, and the same block numbers mined again.
    const snapshot = await testClient.snapshot();
    await runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient, manifest, seed: 22, steps: 6, label: "abandoned" });
    await indexHead();
    await testClient.revert({ id: snapshot });
    // A time warp of three days, then traffic on the new branch.
    await testClient.increaseTime({ seconds: 3 * 24 * 3600 });
    await runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient, manifest, seed: 23, steps: 12, label: "after-revert" });
    await indexHead();
  });

  for (const through of ["graphql", "postgres"] as const) {
    it(`checks every table and passes after reorgs, a revert and a time warp (${through})`, () => {
      const run = farVerify(through);
      expect(run.stdout, run.stderr).toMatch(/values checked at block \d+: 0 differences/);
      expect(run.status).toBe(0);
      for (const table of TABLES) expect(run.rows[table], `${table} rows checked (${run.stdout.split("\n").at(-3)})`).toBeGreaterThan(0);
      expect(run.rows.task).toBeGreaterThan(10);
    });
  }

  it("fails when a row was edited behind the indexer's back", async () => {
    const [task] = await direct.unsafe(`SELECT id FROM task ORDER BY id LIMIT 1`);
    await tamper(`UPDATE task SET escrow = escrow + 1 WHERE id = '${String(task!.id)}'`);
    for (const through of ["graphql", "postgres"] as const) {
      const run = farVerify(through);
      expect(run.status, run.stdout).toBe(1);
      expect(run.stdout).toContain(`DIFFERENCE tasks(${String(task!.id)}).amount`);
    }
  });

  it("fails when a table reads as empty, naming the rows the chain requires", async () => {
    const [{ n }] = (await direct.unsafe(`SELECT count(*)::int AS n FROM task`)) as unknown as [{ n: number }];
    await tamper(`DELETE FROM task`);
    for (const through of ["graphql", "postgres"] as const) {
      const run = farVerify(through);
      expect(run.status, run.stdout).toBe(1);
      expect(run.rows.task).toBe(0);
      expect(run.stdout).toContain(`DIFFERENCE task: 0 rows read, the chain's logs require at least ${n}`);
    }
  });
});
