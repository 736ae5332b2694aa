/**
 * Columns that several tables declare alike, written once. A table spreads them where they
 * stand among its own columns; each key becomes its column's name, as if written inline.
 */
import type { PgColumnsBuilders } from "ponder";

/** One column per name, each made by `column`, in the order given. */
function each<Column, const Name extends string>(column: () => Column, names: Name[]) {
  return Object.fromEntries(names.map((name) => [name, column()])) as Record<Name, Column>;
}

/** Required bigint columns: numeric(78,0), any 256-bit integer (money, token amounts, per-token indices). */
export const bigints = <const Name extends string>(t: PgColumnsBuilders, ...names: Name[]) => each(() => t.bigint().notNull(), names);

/** Required integer columns (int4: counts, ratings, log indices). */
export const integers = <const Name extends string>(t: PgColumnsBuilders, ...names: Name[]) => each(() => t.integer().notNull(), names);

/** Required int8 columns read as JavaScript numbers (block numbers, unix seconds). */
export const numbers = <const Name extends string>(t: PgColumnsBuilders, ...names: Name[]) => each(() => t.int8({ mode: "number" }).notNull(), names);

/**
 * Where an event row's log stands in the chain. The block's hash tells which fork the row was
 * indexed from: the change feed checks it against the chain before calling the row final.
 */
export const logPosition = (t: PgColumnsBuilders) => ({
  blockNumber: t.int8({ mode: "number" }).notNull(),
  blockHash: t.hex().notNull(),
  logIndex: t.integer().notNull(),
  timestamp: t.int8({ mode: "number" }).notNull(),
  transactionHash: t.hex().notNull(),
});

/** The block and time of a state row's latest change. */
export const lastUpdate = (t: PgColumnsBuilders) => numbers(t, "updatedBlock", "updatedAt");
