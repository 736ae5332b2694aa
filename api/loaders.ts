/**
 * Loads by key, batched per request: every lookup a resolver makes by primary or foreign key
 * goes through one of these, so a page of N parents costs one statement per relation, not N.
 */
import { asc, getTableName, sql, type SQL } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import { tokenStats } from "../schema";
import type { ApiContext } from "./context";
import { propertyOf } from "./pagination";

type Row = Record<string, unknown>;

/**
 * `column = any($1)`, the keys as one array parameter: one statement text whatever the batch's
 * size, where `IN ($1, …, $n)` is another statement, parsed and planned afresh, for every n.
 */
const anyOf = (column: PgColumn, keys: readonly string[]): SQL => sql`${column} = any(${sql.param([...keys])})`;

/** The row of `table` whose `column` equals the key, or undefined. */
export function rowBy<T extends PgTable>(context: ApiContext, table: T, column: PgColumn) {
  const property = propertyOf(table, column);
  return context.loader<T["$inferSelect"] | undefined>(`${getTableName(table)}.${property}`, async (keys) => {
    const rows = (await context.db.select().from(table as PgTable).where(anyOf(column, keys))) as Row[];
    const byKey = new Map(rows.map((row) => [row[property], row as T["$inferSelect"]]));
    return keys.map((key) => byKey.get(key));
  });
}

/** Every row of `table` whose `column` equals the key, in `order`. For small fan-outs only. */
export function rowsBy<T extends PgTable>(context: ApiContext, table: T, column: PgColumn, order: PgColumn[]) {
  const property = propertyOf(table, column);
  return context.loader<T["$inferSelect"][]>(`${getTableName(table)}[${property}]`, async (keys) => {
    const rows = (await context.db
      .select()
      .from(table as PgTable)
      .where(anyOf(column, keys))
      .orderBy(...order.map((item) => asc(item)))) as Row[];
    const byKey = new Map<unknown, T["$inferSelect"][]>();
    for (const row of rows) byKey.set(row[property], [...(byKey.get(row[property]) ?? []), row as T["$inferSelect"]]);
    return keys.map((key) => byKey.get(key) ?? []);
  });
}

/** The token's global state (one row: the indexer follows one token). */
export function loadTokenStats(context: ApiContext) {
  return context
    .loader<typeof tokenStats.$inferSelect | undefined>("token_stats", async (keys) => {
      const [row] = await context.db.select().from(tokenStats).limit(1);
      return keys.map(() => row);
    })
    .load("token");
}
