/**
 * What the API reads: the indexer's tables through any drizzle Postgres database (Ponder's
 * read-only one when embedded, postgres.js on a replica), plus Ponder's own bookkeeping tables.
 */
import { getTableColumns, sql } from "drizzle-orm";
import { getTableConfig, pgSchema, pgTable, type PgDatabase, type PgQueryResultHKT } from "drizzle-orm/pg-core";
import type { ChainFinality } from "../common/finality";
import { progressOf, withChainFinality, type BlockPoint, type ChainProgress, type FinalitySource } from "../domain/progress";
import { payout } from "../schema";

export type ApiDb = Pick<PgDatabase<PgQueryResultHKT>, "select">;

/**
 * Ponder's checkpoint and meta tables live next to the indexer's tables: in the schema those were
 * qualified with when embedded, or unqualified (found through `search_path`) on a replica.
 */
function ponderTables() {
  const schema = getTableConfig(payout).schema;
  // Both build the same columns; they differ only in how the table name is qualified.
  const table = (schema ? pgSchema(schema).table : pgTable) as typeof pgTable;
  return {
    checkpoint: table("_ponder_checkpoint", (t) => ({
      chainName: t.text().primaryKey(),
      chainId: t.bigint({ mode: "number" }).notNull(),
      safeCheckpoint: t.varchar({ length: 75 }).notNull(),
      latestCheckpoint: t.varchar({ length: 75 }).notNull(),
      finalizedCheckpoint: t.varchar({ length: 75 }).notNull(),
    })),
    meta: table("_ponder_meta", (t) => ({
      key: t.text().primaryKey(),
      value: t.jsonb().$type<{ is_ready: 0 | 1 }>().notNull(),
    })),
  };
}

const ponder = ponderTables();

export type IndexingStatus = ChainProgress & {
  /** Ponder's `is_ready`: the historical backfill is over (not whether the indexer keeps up: api/status.ts). */
  backfilled: boolean;
  /**
   * The checkpoint row's version (its `xmin`: the transaction that last wrote it). Ponder writes
   * that row in every commit, so this changes with each one: also when only the finalized block
   * moves, and when a block replaces one of the same number after a reorg, which can leave every
   * number and timestamp as it was.
   */
  version: string;
  /** Whether safe and finalized follow the chain's tags or Ponder's fixed depth (domain/progress.ts). */
  finality: FinalitySource;
  /** Ponder's own finalized block (its fixed depth), whatever `finality` says. */
  finalizedByDepth: BlockPoint;
};

/**
  * The indexer's progress, or undefined before Ponder wrote its first checkpoint; with `finality`,
  * its safe and finalized blocks follow the chain's tags where the chain answers them. One statement
  * (the meta row in a subquery): every cached request runs it, through a pool it shares.
  */
export async function readIndexingStatus(db: ApiDb, finality?: ChainFinality): Promise<IndexingStatus | undefined> {
  const [[row], tags] = await Promise.all([
    db
      .select({
        ...getTableColumns(ponder.checkpoint),
        version: sql<string>`xmin::text`,
        ready: sql<number | null>`(SELECT (${ponder.meta.value}->>'is_ready')::int FROM ${ponder.meta} LIMIT 1)`,
      })
      .from(ponder.checkpoint)
      .limit(1),
    finality?.read(),
  ]);
  if (!row) return undefined;
  return withChainFinality({ ...progressOf(row), backfilled: row.ready === 1, version: row.version }, tags);
}

type SessionHolder = { session: { prepareQuery: (...args: unknown[]) => unknown } };
/** What drizzle's prepared queries hold: postgres.js's `unsafe` returns a query that can be cancelled. */
type PreparedQuery = { execute: (...args: unknown[]) => Promise<unknown>; client?: { unsafe?: (...args: unknown[]) => { cancel?: () => unknown } } };

/** A statement asked for after the request's client went away: never sent. */
export class RequestAbortedError extends Error {
  override name = "RequestAbortedError";
}

/**
 * The same database, counting each statement it runs and, given the request's signal, refusing
 * to start one once the client has gone (and cancelling a running one where the driver can:
 * postgres.js). Every drizzle query builder takes the database's session when it is created and
 * prepares exactly one statement through it, so a per-request view with its own session sees
 * every statement of that request, whatever the driver (PGlite, node-postgres, postgres.js).
 */
export function countingDb(db: ApiDb, onStatement: () => void, signal?: AbortSignal): ApiDb {
  const session = (db as unknown as SessionHolder).session;
  const counting = Object.create(session) as SessionHolder["session"];
  counting.prepareQuery = function (this: unknown, ...args: unknown[]) {
    onStatement();
    const prepared = session.prepareQuery.apply(this, args) as PreparedQuery;
    if (!signal) return prepared;
    const execute = prepared.execute;
    const client = prepared.client;
    if (typeof client?.unsafe === "function") {
      const unsafe = client.unsafe.bind(client);
      prepared.client = Object.assign(Object.create(client) as object, {
        unsafe: (...query: unknown[]) => {
          const pending = unsafe(...query);
          signal.addEventListener("abort", () => void Promise.resolve(pending.cancel?.()).catch(() => {}), { once: true });
          return pending;
        },
      });
    }
    prepared.execute = function (this: unknown, ...values: unknown[]) {
      if (signal.aborted) return Promise.reject(new RequestAbortedError("The client went away; the statement was not sent"));
      return execute.apply(this, values);
    };
    return prepared;
  };
  return Object.create(db, { session: { value: counting } }) as ApiDb;
}
