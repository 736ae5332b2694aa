/**
 * What the API reads: the indexer's tables through any drizzle Postgres database (Ponder's
 * read-only one when embedded, postgres.js on a replica), plus Ponder's own bookkeeping tables.
 */
import { getTableConfig, pgSchema, pgTable, type PgDatabase, type PgQueryResultHKT } from "drizzle-orm/pg-core";
import { decodeCheckpoint, type BlockPoint } from "../indexer/checkpoint";
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

export type BlockRef = BlockPoint;

export type IndexingStatus = {
  chainId: number;
  latest: BlockRef;
  safe: BlockRef;
  finalized: BlockRef;
  synced: boolean;
};


/** The indexer's progress, or undefined before Ponder wrote its first checkpoint. */
export async function readIndexingStatus(db: ApiDb): Promise<IndexingStatus | undefined> {
  const [[row], [app]] = await Promise.all([db.select().from(ponder.checkpoint).limit(1), db.select().from(ponder.meta).limit(1)]);
  if (!row) return undefined;
  return {
    chainId: row.chainId,
    latest: decodeCheckpoint(row.latestCheckpoint),
    safe: decodeCheckpoint(row.safeCheckpoint),
    finalized: decodeCheckpoint(row.finalizedCheckpoint),
    synced: app?.value.is_ready === 1,
  };
}

type SessionHolder = { session: { prepareQuery: (...args: unknown[]) => unknown } };

/**
 * The same database, counting each statement it runs. Every drizzle query builder takes the
 * database's session when it is created and prepares exactly one statement through it, so a
 * per-request view with a counting session sees every statement of that request, whatever the
 * driver (PGlite, node-postgres, postgres.js).
 */
export function countingDb(db: ApiDb, onStatement: () => void): ApiDb {
  const session = (db as unknown as SessionHolder).session;
  const counting = Object.create(session) as SessionHolder["session"];
  counting.prepareQuery = function (this: unknown, ...args: unknown[]) {
    onStatement();
    return session.prepareQuery.apply(this, args);
  };
  return Object.create(db, { session: { value: counting } }) as ApiDb;
}
