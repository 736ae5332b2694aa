/**
 * The core test of the product: after a random scenario, every value the indexer stored equals
 * what the contracts' view functions say at the same block. Once on PGlite, once on Postgres
 * (both backfilling a finished scenario), and once live on a chain that behaves like BSC
 * (CHAIN=bsc-local: chain id 56, a block every 0.75 s, finality from the chain's tags), the
 * indexer following the scenario block by block as it is mined.
 */
import { describe, expect, it } from "vitest";
import { LOCAL_CHAINS } from "../../common/config";
import { verifyIndexedState } from "../../ops/verify";
import { startDeployedChain } from "../../harness/chain";
import { createTestDatabase } from "../../harness/database";
import { openIndexedTables, startPonder, type PonderProcess } from "../../harness/ponder";
import { runScenario, type ScenarioResult } from "../../harness/scenario";
import { waitUntil } from "../../harness/wait";
import { cleanupAfterAll } from "../helpers/cleanup";

const backends = [
  { name: "PGlite", databaseUrl: undefined },
  { name: "Postgres", databaseUrl: process.env.DATABASE_URL },
] as const;

/** Every indexed value equals the contracts' views at `head`, with at least `least` payouts and values checked. */
async function expectIndexIsTheChain(parameters: {
  chain: Awaited<ReturnType<typeof startDeployedChain>>;
  database: { url: string } | undefined;
  ponder: PonderProcess;
  scenario: ScenarioResult;
  head: bigint;
  cleanup: ReturnType<typeof cleanupAfterAll>;
  least: { payouts: number; checked: number };
}) {
  const { chain, database, ponder, scenario, head } = parameters;
  const tables = await openIndexedTables({ databaseUrl: database?.url, schema: ponder.schema, pgliteDir: ponder.pgliteDir });
  parameters.cleanup.push(() => tables.close());
  const [{ n: payouts }] = (await tables.query(`SELECT COUNT(*)::int AS n FROM payout`)) as [{ n: number }];
  expect(payouts).toBeGreaterThan(parameters.least.payouts);
  const result = await verifyIndexedState({
    publicClient: chain.publicClient,
    manifest: chain.manifest,
    query: tables.query,
    blockNumber: head,
    extraAccounts: [...scenario.users, ...scenario.nodes],
  });
  expect(result.differences).toEqual([]);
  expect(result.checked).toBeGreaterThan(parameters.least.checked);
}

for (const backend of backends) {
  describe.skipIf(backend.name === "Postgres" && !backend.databaseUrl)(`truth test on ${backend.name}`, () => {
    const cleanup = cleanupAfterAll();

    it("indexes a random scenario exactly as the chain's view functions report it", async () => {
      const chain = await startDeployedChain();
      cleanup.push(() => chain.anvil.stop());
      const scenario = await runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient: chain.publicClient, manifest: chain.manifest, seed: 7, steps: 600 });
      expect(scenario.sent).toBeGreaterThan(350);

      const database = backend.databaseUrl ? await createTestDatabase(backend.databaseUrl) : undefined;
      if (database) cleanup.push(() => database.drop());
      const ponder = await startPonder({ rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir, databaseUrl: database?.url });
      cleanup.push(() => ponder.kill());
      const head = await chain.publicClient.getBlockNumber();
      await ponder.waitForBlock(head);
      if (!database) await ponder.stop();

      await expectIndexIsTheChain({ chain, database, ponder, scenario, head, cleanup, least: { payouts: 50, checked: 300 } });
    });
  });
}

describe.skipIf(!process.env.DATABASE_URL)("truth test live on a BSC-like chain (0.75 s blocks, Postgres)", () => {
  const cleanup = cleanupAfterAll();

  it("indexes a random scenario, block by block as it is mined, exactly as the chain's view functions report it", async () => {
    const chain = await startDeployedChain({ chain: "bsc-local", blockTime: LOCAL_CHAINS["bsc-local"].blockTime });
    cleanup.push(() => chain.anvil.stop());
    expect(await chain.publicClient.getChainId()).toBe(LOCAL_CHAINS["bsc-local"].id);
    const database = await createTestDatabase(process.env.DATABASE_URL!);
    cleanup.push(() => database.drop());
    const ponder = await startPonder({ chain: "bsc-local", rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir, databaseUrl: database.url });
    cleanup.push(() => ponder.kill());
    // Synced before the scenario starts: everything after is indexed in realtime, not backfilled.
    await ponder.waitForBlock(await chain.publicClient.getBlockNumber());

    const scenario = await runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient: chain.publicClient, manifest: chain.manifest, seed: 11, steps: 300 });
    // Several transactions share each 0.75 s block, so some the scenario sent may revert on chain:
    // they emit nothing, and the comparison below holds either way.
    expect(scenario.sent).toBeGreaterThan(150);
    // Past the scenario's last transaction: its block is mined and indexed.
    const head = (await chain.publicClient.getBlockNumber()) + 2n;
    await waitUntil(async () => (await chain.publicClient.getBlockNumber()) >= head, "two more blocks");
    await ponder.waitForBlock(head);

    await expectIndexIsTheChain({ chain, database, ponder, scenario, head, cleanup, least: { payouts: 10, checked: 150 } });
  });
});
