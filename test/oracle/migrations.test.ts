/**
 * Numbered migrations on a store created by the earlier design (tables made with `create …
 * if not exists`, jobs pointing at transaction rows, snake_case job kinds): the store adopts the
 * first migration, the second moves its rows to the transaction manager's shape, and the new
 * stores read them. On PGlite always; on Postgres too, with two replicas migrating at once.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import type { MigrationTarget } from "../../common/migrate";
import { migrateSchema } from "../../oracle/db/migrate";
import { createPgliteSql, createPostgresSql, type Sql } from "../../common/sql";
import { createJobStore } from "../../oracle/settlement/jobs";

const CONTRACT = `0x${"11".repeat(20)}` as const;
const url = process.env.DATABASE_URL;

/** The tables and rows the earlier design wrote: a mined batch, a job on it, a node operation. */
async function seedEarlierDesign(sql: Sql, schema: string) {
  const s = `"${schema}"`;
  await sql.query(`create schema if not exists ${s}`);
  const ddl = readFileSync(new URL("../../oracle/db/migrations/0000_initial.sql", import.meta.url), "utf8");
  for (const statement of ddl.split("--> statement-breakpoint")) {
    await sql.query(statement.replace(/create table if not exists (\w+)/g, `create table if not exists ${s}.$1`).replace(/ on (\w+) \(/g, ` on ${s}.$1 (`).replace(/references (\w+) /g, `references ${s}.$1 `));
  }
  const [tx] = await sql.query(
    `insert into ${s}.txs (chain_id, from_address, nonce, kind, to_address, data, gas, state, mined_hash, mined_block, mined_block_hash)
       values (31337, '0xaa', 0, 'settle_batch', '${CONTRACT}', '0x01', 300000, 'mined', '0xbb', 5, '0xcc') returning id::text`,
  );
  await sql.query(`insert into ${s}.attempts (tx_id, hash, raw, max_fee, priority_fee) values ($1, '0xbb', '0x02', 10, 1)`, [tx!.id]);
  const taskId = `0x${"ab".repeat(32)}`;
  await sql.query(
    `insert into ${s}.jobs (chain_id, contract, key, kind, payload, state, tx_id, actual_cost, score) values
       (31337, $1, $2, 'settle', $3::text::jsonb, 'confirmed', $4, 5, 80),
       (31337, $1, 'register_node:op-1', 'register_node', $5::text::jsonb, 'received', null, null, null)`,
    [
      CONTRACT,
      taskId,
      JSON.stringify({ kind: "settle", key: taskId, taskId, node: "0x" + "22".repeat(20), model: "llama-70b", tokensGenerated: "10", metrics: { uptime: 1, tokensPerSecond: 1, expectedTokensPerSecond: 1, accuracy: 1 }, reportedAt: 1 }),
      tx!.id,
      JSON.stringify({ kind: "register_node", key: "register_node:op-1", node: "0x" + "22".repeat(20), owner: "0x" + "33".repeat(20) }),
    ],
  );
  return { taskId, txId: String(tx!.id) };
}

async function expectMigrated(sql: Sql, schema: string, seeded: { taskId: string; txId: string }) {
  const s = `"${schema}"`;
  const [tx] = await sql.query(`select idempotency_key, kind, nonce::text, state from ${s}.txs where id = $1`, [seeded.txId]);
  expect(tx).toEqual({ idempotency_key: `legacy:${seeded.txId}`, kind: "request", nonce: "0", state: "mined" });
  const jobs = createJobStore({ sql, schema, chainId: 31337, contract: CONTRACT });
  const settled = await jobs.job(seeded.taskId);
  expect(settled).toMatchObject({ state: "confirmed", callKey: `legacy:${seeded.txId}`, job: { operation: "completeTask", tokensGenerated: 10n }, actualCost: 5n, score: 80 });
  const node = await jobs.job("registerNode:op-1");
  expect(node).toMatchObject({ state: "received", callKey: undefined, job: { operation: "registerNode", key: "registerNode:op-1" } });
  expect(await jobs.job("register_node:op-1")).toBeUndefined();
  const applied = await sql.query(`select count(*)::int as n from ${s}.migrations`);
  expect(applied[0]!.n).toBe(2);
}

describe("oracle store migrations", () => {
  it("moves a PGlite store of the earlier design to the current one, and a second run changes nothing", async () => {
    const sql = await createPgliteSql({ dataDir: "memory://" });
    try {
      const seeded = await seedEarlierDesign(sql, "oracle");
      await migrateSchema({ pglite: sql.pglite }, "oracle");
      await expectMigrated(sql, "oracle", seeded);
      await migrateSchema({ pglite: sql.pglite }, "oracle");
      await expectMigrated(sql, "oracle", seeded);
    } finally {
      await sql.close();
    }
  });

  describe.skipIf(!url)("on Postgres", () => {
    const schemas: string[] = [];
    const admin = url ? postgres(url, { max: 2, onnotice: () => {} }) : undefined;
    afterAll(async () => {
      for (const schema of schemas) await admin!.unsafe(`drop schema if exists "${schema}" cascade`);
      await admin?.end();
    });

    it("moves a store of the earlier design, with two replicas migrating at once", async () => {
      const schema = `oracle_migrate_${randomUUID().slice(0, 8)}`;
      schemas.push(schema);
      const sql = createPostgresSql({ url: url! });
      try {
        const seeded = await seedEarlierDesign(sql, schema);
        const target: MigrationTarget = { url: url! };
        await Promise.all([migrateSchema(target, schema), migrateSchema(target, schema)]);
        await expectMigrated(sql, schema, seeded);
      } finally {
        await sql.close();
      }
    });

    it("creates a fresh store from nothing, concurrently", async () => {
      const schema = `oracle_migrate_${randomUUID().slice(0, 8)}`;
      schemas.push(schema);
      await Promise.all([migrateSchema({ url: url! }, schema), migrateSchema({ url: url! }, schema), migrateSchema({ url: url! }, schema)]);
      const applied = await admin!.unsafe(`select count(*)::int as n from "${schema}".migrations`);
      expect(applied[0]!.n).toBe(2);
    });
  });
});
