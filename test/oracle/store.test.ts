/**
 * The job store under concurrency, on real Postgres sessions: a transaction Postgres aborts as a
 * deadlock victim runs again and both sides complete; a replica migrating while another works
 * takes its locks in the workers' order, so the two cannot deadlock at all.
 */
import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresSql, isTransientSqlError, retryTransient, type Sql } from "../../oracle/store/db";
import { createJobStore } from "../../oracle/store/jobStore";
import { waitFor } from "./helpers";

const url = process.env.DATABASE_URL;

describe("retryTransient", () => {
  it.each([
    [{ code: "40P01" }, true],
    [{ code: "40001" }, true],
    [{ code: "23505" }, false],
    [{ code: "57014" }, false],
    [new Error("deadlock detected"), false],
    [undefined, false],
    ["40P01", false],
  ])("counts %j as transient: %s", (error, transient) => {
    expect(isTransientSqlError(error)).toBe(transient);
  });

  it("does not run again what failed for any other reason", async () => {
    let runs = 0;
    const failing = retryTransient(async () => {
      runs += 1;
      throw Object.assign(new Error("duplicate key"), { code: "23505" });
    });
    await expect(failing).rejects.toThrow("duplicate key");
    expect(runs).toBe(1);
  });

  it("gives up after its last attempt with the last error", async () => {
    let runs = 0;
    const failing = retryTransient(
      async () => {
        runs += 1;
        throw Object.assign(new Error(`deadlock ${runs}`), { code: "40P01" });
      },
      { attempts: 3, baseMs: 1, maxMs: 2 },
    );
    await expect(failing).rejects.toThrow("deadlock 3");
    expect(runs).toBe(3);
  });
});

describe.skipIf(!url)("job store transactions on Postgres", () => {
  const schema = `oracle_store_${randomUUID().slice(0, 8)}`;
  let sql: Sql;
  let admin: postgres.Sql;

  beforeAll(async () => {
    sql = createPostgresSql({ url: url!, max: 4 });
    admin = postgres(url!, { max: 4, onnotice: () => {} });
  });
  afterAll(async () => {
    await admin?.unsafe(`drop schema if exists "${schema}" cascade`);
    await admin?.end();
    await sql?.close();
  });

  it("runs again the transaction Postgres aborts as a deadlock victim: both sides complete", async () => {
    await admin.unsafe(`create schema if not exists "${schema}"`);
    await admin.unsafe(`create table "${schema}".rows (id int primary key, touched_by text[] not null default '{}')`);
    await admin.unsafe(`insert into "${schema}".rows (id) values (1), (2)`);
    let runs = 0;
    const holding = new Set<string>();
    const lockInOrder = (name: string, first: number, second: number) =>
      sql.transaction(async (tx) => {
        runs += 1;
        const touch = (id: number) => tx.query(`update "${schema}".rows set touched_by = touched_by || $2::text where id = $1`, [id, name]);
        await touch(first);
        if (!holding.has(name)) {
          // The first time round, each holds its first row until the other holds its own: a certain deadlock.
          holding.add(name);
          await waitFor(async () => holding.size === 2, 10_000, "both transactions to hold their first row");
        }
        await touch(second);
        return name;
      });
    expect(await Promise.all([lockInOrder("a", 1, 2), lockInOrder("b", 2, 1)])).toEqual(["a", "b"]);
    // One of the two was the victim and ran once more.
    expect(runs).toBe(3);
    const rows = await admin.unsafe<{ id: number; touched_by: string[] }[]>(`select id, touched_by from "${schema}".rows order by id`);
    for (const row of rows) expect([...row.touched_by].sort()).toEqual(["a", "b"]);
  });

  it("migrates while another replica's transaction holds txs and then updates jobs, with no deadlock", async () => {
    const store = createJobStore({ sql, schema, chainId: 31337, contract: `0x${"11".repeat(20)}`, from: `0x${"22".repeat(20)}` });
    await store.migrate();
    const s = `"${schema}"`;
    const [tx] = await admin.unsafe<{ id: string }[]>(
      `insert into ${s}.txs (chain_id, from_address, nonce, kind, to_address, data, gas, state) values (31337, 'x', 0, 'settle', 'y', '0x', 21000, 'pending') returning id::text`,
    );
    await admin.unsafe(`insert into ${s}.jobs (chain_id, contract, key, kind, payload, state, tx_id) values (31337, 'c', 'k', 'register_node', '{}', 'submitted', $1)`, [tx!.id]);

    // A worker marking the transaction mined locks txs, then jobs. Its session detects a deadlock
    // first (a short deadlock_timeout), so a migration locking jobs before txs would fail it here
    // instead of being retried out of sight.
    const worker = admin.reserve();
    const other = await worker;
    try {
      await other.unsafe("begin");
      await other.unsafe("set local deadlock_timeout = '50ms'");
      await other.unsafe(`update ${s}.txs set state = 'mined' where id = $1`, [tx!.id]);
      const migrating = store.migrate();
      await waitFor(
        async () => (await admin.unsafe(`select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like '%create index if not exists%${schema}%'`)).length > 0,
        10_000,
        "the migration to wait for a table lock",
      );
      await other.unsafe(`update ${s}.jobs set state = 'confirmed' where tx_id = $1`, [tx!.id]);
      await other.unsafe("commit");
      await migrating;
    } finally {
      other.release();
    }
    const [job] = await admin.unsafe<{ state: string }[]>(`select state from ${s}.jobs where key = 'k'`);
    expect(job!.state).toBe("confirmed");
  });
});
