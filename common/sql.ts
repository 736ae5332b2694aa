/**
 * The few SQL calls the stores (the oracle's, the webhooks') need, over postgres.js (DATABASE_URL) or PGlite
 * (embedded), so one implementation with one set of SQL statements serves both.
 */
import postgres from "postgres";
import { PGlite } from "@electric-sql/pglite";
import { retryWhen } from "./resilience";

export type Row = Record<string, unknown>;

export type Sql = {
  query<T extends Row = Row>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /**
   * Runs `fn` in one database transaction; everything it writes commits or none of it. On Postgres
   * a transaction aborted as a deadlock victim or a serialization failure runs again from the
   * start, so `fn` must do nothing outside the database but compute its result.
   */
  transaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
};

/** SQLSTATEs of a transaction Postgres aborted only because of another one: running it again is right. */
const TRANSIENT_SQLSTATES = new Set(["40P01" /* deadlock_detected */, "40001" /* serialization_failure */]);

export const isTransientSqlError = (error: unknown): boolean =>
  typeof error === "object" && error !== null && TRANSIENT_SQLSTATES.has(String((error as { code?: unknown }).code));

/** Enough for a handful of replicas colliding; a conflict that outlasts it is not a passing one. */
const retryTransient = <T>(run: () => Promise<T>) => retryWhen(run, { attempts: 8, initialMs: 10, maxMs: 1_000, retryable: isTransientSqlError });

export function createPostgresSql(parameters: { url: string; max?: number }): Sql {
  const client = postgres(parameters.url, { max: parameters.max ?? 4, onnotice: () => {} });
  // Inside a transaction a statement is never retried alone: Postgres aborted the whole transaction.
  const wrap = (run: postgres.Sql | postgres.TransactionSql, inTransaction: boolean): Sql => ({
    query: (text, params = []) => {
      const once = () => run.unsafe(text, params as postgres.ParameterOrJSON<never>[]) as unknown as Promise<never[]>;
      return inTransaction ? once() : retryTransient(once);
    },
    transaction: (fn) =>
      inTransaction ? fn(wrap(run, true)) : retryTransient(() => client.begin((tx) => fn(wrap(tx, true))) as Promise<Awaited<ReturnType<typeof fn>>>),
    close: () => client.end({ timeout: 5 }),
  });
  return wrap(client, false);
}

export async function createPgliteSql(parameters: { dataDir: string }): Promise<Sql & { pglite: PGlite }> {
  const db = parameters.dataDir === "memory://" ? new PGlite() : new PGlite(parameters.dataDir);
  await db.waitReady;
  type Runner = Pick<PGlite, "query">;
  const wrap = (run: Runner, nested: boolean): Sql => ({
    query: async (text, params = []) => (await run.query(text, params as unknown[])).rows as never[],
    transaction: (fn) => (nested ? fn(wrap(run, true)) : (db.transaction((tx) => fn(wrap(tx, true))) as Promise<never>)),
    close: () => db.close(),
  });
  return { ...wrap(db, false), pglite: db };
}
