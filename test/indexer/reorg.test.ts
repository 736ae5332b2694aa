/**
 * Reorgs while the indexer is live: for every depth 1..10, the last blocks — each holding a
 * settlement already indexed — are replaced by blocks with different transactions. Afterwards
 * the index must equal the canonical chain again: no payout from a removed block survives.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { verifyIndexedState } from "../../ops/verify";
import { startDeployedChain } from "../../harness/chain";
import { createTestDatabase } from "../../harness/database";
import { createReorgDriver, payoutsIn } from "../helpers/reorg";
import { openIndexedTables, startPonder, waitForCommittedBlock, type PonderProcess } from "../../harness/ponder";
import { runScenario, type ScenarioResult } from "../../harness/scenario";
import { cleanupAfterAll } from "../helpers/cleanup";

const DEPTHS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const databaseUrl = process.env.DATABASE_URL;

for (const backend of [{ name: "PGlite" }, { name: "Postgres" }] as const) {
  const onPostgres = backend.name === "Postgres";
  describe.skipIf(onPostgres && !databaseUrl)(`reorgs under a live indexer on ${backend.name}`, () => {
    let chain: Awaited<ReturnType<typeof startDeployedChain>>;
    let ponder: PonderProcess;
    let scenario: ScenarioResult;
    let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
    const cleanup = cleanupAfterAll();

    beforeAll(async () => {
      chain = await startDeployedChain();
      cleanup.push(() => chain.anvil.stop());
      scenario = await runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient: chain.publicClient, manifest: chain.manifest, seed: 11, steps: 150 });
      database = onPostgres ? await createTestDatabase(databaseUrl!) : undefined;
      if (database) cleanup.push(() => database!.drop());
      ponder = await startPonder({ rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir, databaseUrl: database?.url });
      cleanup.push(() => ponder.kill());
      await ponder.waitForBlock(await chain.publicClient.getBlockNumber());
    });

    it("stays equal to the canonical chain through reorgs of depth 1 to 10", async () => {
      const { publicClient, manifest } = chain;
      const driver = await createReorgDriver({ rpcUrl: chain.anvil.rpcUrl, publicClient, manifest, user: scenario.users[0]!, node: scenario.nodes[0]!, label: `reorg-${backend.name}` });
      const tables = onPostgres ? await openIndexedTables({ databaseUrl: database!.url, schema: ponder.schema, pgliteDir: ponder.pgliteDir }) : undefined;
      if (tables) cleanup.push(() => tables.close());
      const reorgsLogged = () => ponder.log().split("\n").filter((line) => line.includes(`"msg":"Reorged block"`)).length;

      for (const depth of DEPTHS) {
        const { receipts, spare } = await driver.settleBlocks(depth);
        const removedTxs = receipts.map((receipt) => receipt.transactionHash);
        const head = receipts.at(-1)!.blockNumber;
        await ponder.waitForBlock(head);
        if (tables) {
          await waitForCommittedBlock(tables.query, head);
          const [{ n }] = (await tables.query(
            `SELECT COUNT(*)::int AS n FROM payout WHERE transaction_hash IN (${removedTxs.map((hash) => `'${hash}'`).join(",")})`,
          )) as [{ n: number }];
          const expected = payoutsIn(receipts);
          expect(expected).toBeGreaterThanOrEqual(depth * 2);
          expect(n, "the settlements about to be reorged out are indexed").toBe(expected);
        }

        const reorgsBefore = reorgsLogged();
        const newHead = await driver.reorg(depth, spare);
        await ponder.waitForBlock(newHead);
        expect(reorgsLogged(), `Ponder reconciled the reorg of depth ${depth}`).toBe(reorgsBefore + 1);
        for (const hash of removedTxs) {
          await expect(publicClient.getTransactionReceipt({ hash }), "a replaced settlement is gone from the chain").rejects.toThrow();
        }

        if (tables) {
          await waitForCommittedBlock(tables.query, newHead);
          const result = await verifyIndexedState({ publicClient, manifest, query: tables.query, blockNumber: newHead, extraAccounts: scenario.users });
          expect(result.differences, `after a reorg of depth ${depth}`).toEqual([]);
          const [{ n }] = (await tables.query(
            `SELECT COUNT(*)::int AS n FROM payout WHERE transaction_hash IN (${removedTxs.map((hash) => `'${hash}'`).join(",")})`,
          )) as [{ n: number }];
          expect(n, `payouts of reorged-out transactions after depth ${depth}`).toBe(0);
        }
      }

      if (!tables) {
        const head = await publicClient.getBlockNumber();
        await ponder.stop();
        const pglite = await openIndexedTables({ schema: ponder.schema, pgliteDir: ponder.pgliteDir });
        cleanup.push(() => pglite.close());
        const result = await verifyIndexedState({ publicClient, manifest, query: pglite.query, blockNumber: head, extraAccounts: scenario.users });
        expect(result.differences).toEqual([]);
      }
    });
  });
}
