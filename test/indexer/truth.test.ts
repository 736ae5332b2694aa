/**
 * The core test of the product: after a random scenario, every value the indexer stored equals
 * what the contracts' view functions say at the same block. Once on PGlite, once on Postgres.
 */
import { describe, expect, it } from "vitest";
import { verifyIndexedState } from "../../ops/verify";
import { startDeployedChain } from "../../harness/chain";
import { createTestDatabase } from "../../harness/database";
import { openIndexedTables, startPonder } from "../../harness/ponder";
import { runScenario } from "../../harness/scenario";
import { cleanupAfterAll } from "../helpers/cleanup";

const backends = [
  { name: "PGlite", databaseUrl: undefined },
  { name: "Postgres", databaseUrl: process.env.DATABASE_URL },
] as const;

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

      const tables = await openIndexedTables({ databaseUrl: database?.url, schema: ponder.schema, pgliteDir: ponder.pgliteDir });
      cleanup.push(() => tables.close());
      const [{ n: payouts }] = (await tables.query(`SELECT COUNT(*)::int AS n FROM payout`)) as [{ n: number }];
      expect(payouts).toBeGreaterThan(50);

      const result = await verifyIndexedState({
        publicClient: chain.publicClient,
        manifest: chain.manifest,
        query: tables.query,
        blockNumber: head,
        extraAccounts: [...scenario.users, ...scenario.nodes],
      });
      expect(result.differences).toEqual([]);
      expect(result.checked).toBeGreaterThan(300);
    });
  });
}
