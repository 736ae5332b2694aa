/**
 * Crash safety: the indexer is SIGKILLed in the middle of a backfill of more than 20k events and
 * started again on the same database; the result must equal an uninterrupted run, table by table.
 */
import { describe, expect, it } from "vitest";
import { startDeployedChain } from "../../harness/chain";
import { generateHistory } from "../../harness/history";
import { openIndexedTables, startPonder } from "../../harness/ponder";
import { waitUntil, patience } from "../../harness/wait";
import type { QueryRows } from "../../domain/progress";
import { cleanupAfterAll } from "../helpers/cleanup";

async function snapshot(query: QueryRows, schema: string) {
  const tables = await query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = '${schema}' AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\\_%' ORDER BY table_name`,
  );
  const result: Record<string, unknown[]> = {};
  for (const { table_name: table } of tables) {
    const rows = await query(`SELECT * FROM "${String(table)}"`);
    result[String(table)] = rows.map((row) => JSON.stringify(row)).sort();
  }
  return result;
}

describe("indexer restart after SIGKILL mid-backfill", () => {
  const cleanup = cleanupAfterAll();

  it("resumes and ends equal to an uninterrupted run", { timeout: patience(400_000) }, async () => {
    const chain = await startDeployedChain();
    cleanup.push(() => chain.anvil.stop());
    const history = await generateHistory({ publicClient: chain.publicClient, manifest: chain.manifest, targetEvents: 20_000 });
    expect(history.events).toBeGreaterThanOrEqual(20_000);
    const head = await chain.publicClient.getBlockNumber();
    const ponderParameters = { rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir };

    const reference = await startPonder(ponderParameters);
    cleanup.push(() => reference.kill());
    await reference.waitForBlock(head);
    await reference.stop();

    const crashed = await startPonder(ponderParameters);
    cleanup.push(() => crashed.kill());
    // Polled often: the kill must land inside the backfill.
    await waitUntil(
      () => {
        if (crashed.child.exitCode !== null) throw new Error(`ponder exited:\n${crashed.log().slice(-3000)}`);
        return crashed.log().includes(`"msg":"Indexed block range"`);
      },
      "backfill progress",
      120_000,
      20,
    );
    await crashed.kill();
    expect(crashed.log(), "the kill landed inside the backfill").not.toContain("Completed backfill indexing");

    const resumed = await startPonder({ ...ponderParameters, schema: crashed.schema, pgliteDir: crashed.pgliteDir });
    cleanup.push(() => resumed.kill());
    await resumed.waitForBlock(head);
    await resumed.stop();

    const expected = await openIndexedTables({ schema: reference.schema, pgliteDir: reference.pgliteDir });
    cleanup.push(() => expected.close());
    const actual = await openIndexedTables({ schema: crashed.schema, pgliteDir: crashed.pgliteDir });
    cleanup.push(() => actual.close());
    const [want, got] = [await snapshot(expected.query, reference.schema), await snapshot(actual.query, crashed.schema)];
    expect(Object.keys(got)).toEqual(Object.keys(want));
    expect(want.payout!.length).toBeGreaterThan(5_000);
    for (const table of Object.keys(want)) expect(got[table], `table ${table}`).toEqual(want[table]);
  });
});
