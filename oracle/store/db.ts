/**
 * The few SQL calls the job store needs, over postgres.js (DATABASE_URL) or PGlite (embedded),
 * so one store implementation with one set of SQL statements serves both.
 */
import postgres from "postgres";
import { PGlite } from "@electric-sql/pglite";

export type Row = Record<string, unknown>;

export type Sql = {
  query<T extends Row = Row>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs `fn` in one database transaction; everything it writes commits or none of it. */
  transaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
};

export function createPostgresSql(parameters: { url: string; max?: number }): Sql {
  const client = postgres(parameters.url, { max: parameters.max ?? 4, onnotice: () => {} });
  const wrap = (run: postgres.Sql | postgres.TransactionSql): Sql => ({
    query: (text, params = []) => run.unsafe(text, params as postgres.ParameterOrJSON<never>[]) as unknown as Promise<never[]>,
    transaction: (fn) =>
      "savepoint" in run
        ? fn(wrap(run))
        : (client.begin((tx) => fn(wrap(tx))) as Promise<Awaited<ReturnType<typeof fn>>>),
    close: () => client.end({ timeout: 5 }),
  });
  return wrap(client);
}

export async function createPgliteSql(parameters: { dataDir: string }): Promise<Sql> {
  const db = parameters.dataDir === "memory://" ? new PGlite() : new PGlite(parameters.dataDir);
  await db.waitReady;
  type Runner = Pick<PGlite, "query">;
  const wrap = (run: Runner, nested: boolean): Sql => ({
    query: async (text, params = []) => (await run.query(text, params as unknown[])).rows as never[],
    transaction: (fn) => (nested ? fn(wrap(run, true)) : (db.transaction((tx) => fn(wrap(tx, true))) as Promise<never>)),
    close: () => db.close(),
  });
  return wrap(db, false);
}
