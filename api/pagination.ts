/**
 * Keyset pagination for Relay connections. A cursor is the sort key of the last row seen, tagged
 * with the ordering it belongs to and base64url-encoded; the next page starts strictly after it,
 * so pages stay stable while the indexer appends rows and every page is one index range scan.
 */
import { and, eq, getTableColumns, getTableName, gt, lt, or, sql, type SQL } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import type { ApiContext } from "./context";
import { ApiError } from "./errors";
import { withinRange } from "./time";

type SortKey = { column: PgColumn; direction: "asc" | "desc" };
/** A named ordering: the name goes into cursors so that one ordering's cursor is refused by another. */
export type Ordering = { name: string; keys: SortKey[] };
export type PageArgs = { first?: number | null; after?: string | null };

/** An ordering by `columns`, all in one direction: each column after the first breaks ties of those before. */
export function sortedBy(name: string, direction: SortKey["direction"], ...columns: PgColumn[]): Ordering {
  return { name, keys: columns.map((column) => ({ column, direction })) };
}

/**
 * The rows a list's `filter` argument selects: each field of `equal` that the filter gives
 * (not null) equals its column; with `range`, that column (unix seconds) lies in [from, to).
 */
export function filterWhere<Filter extends object>(
  filter: Filter | null | undefined,
  equal: { [Field in keyof Filter]?: PgColumn },
  range?: { column: PgColumn; from: keyof Filter; to: keyof Filter },
): SQL | undefined {
  const bound = (field: keyof Filter) => filter?.[field] as number | null | undefined;
  return and(
    ...(Object.entries(equal) as [keyof Filter, PgColumn][]).map(([field, column]) => (filter?.[field] == null ? undefined : eq(column, filter[field]))),
    range && withinRange(range.column, bound(range.from), bound(range.to)),
  );
}

type Edge<Row> = { cursor: string; node: Row };
export type Connection<Row> = {
  edges: Edge<Row>[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
};

type Row = Record<string, unknown>;

/** The JS property under which `column` appears in `table`'s rows. */
export function propertyOf(table: PgTable, column: PgColumn): string {
  return Object.entries(getTableColumns(table)).find(([, candidate]) => candidate === column)![0];
}

function propertyNames(table: PgTable, ordering: Ordering): string[] {
  return ordering.keys.map(({ column }) => propertyOf(table, column));
}

function encodeCursor(ordering: Ordering, properties: string[], row: Row): string {
  const values = properties.map((property) => {
    const value = row[property];
    return typeof value === "bigint" ? value.toString() : value;
  });
  return Buffer.from(JSON.stringify([ordering.name, ...values])).toString("base64url");
}

/** Postgres's integer types as drizzle reads them: a bigint in number mode holds JavaScript's safe integers. */
const INTEGER_BOUNDS: Record<string, number> = { smallint: 2 ** 15, integer: 2 ** 31, bigint: 2 ** 53 };

/**
 * Whether Postgres takes `value` as a parameter of `column`: a forged cursor's value that it
 * would refuse (out of range, a fraction for an integer, NUL in text) is the client's mistake,
 * not a database error.
 */
function fitsColumn(column: PgColumn, value: unknown): boolean {
  if (typeof value === "string") return !value.includes("\0");
  if (typeof value !== "number") return true;
  const bound = INTEGER_BOUNDS[column.getSQLType()];
  return bound === undefined ? Number.isFinite(value) : Number.isInteger(value) && value >= -bound && value < bound;
}

function decodeCursor(ordering: Ordering, cursor: string): unknown[] {
  const invalid = () => new ApiError("INVALID_CURSOR", "The cursor is malformed or belongs to another list or ordering");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed[0] !== ordering.name || parsed.length !== ordering.keys.length + 1) throw invalid();
  return ordering.keys.map(({ column }, index) => {
    const raw: unknown = parsed[index + 1];
    if (typeof raw !== "string" && typeof raw !== "number") throw invalid();
    try {
      const value: unknown = column.mapFromDriverValue(raw);
      if (!fitsColumn(column, value)) throw invalid();
      // Not every driver binds a bigint parameter (postgres.js refuses); numeric accepts the decimal text.
      return typeof value === "bigint" ? value.toString() : value;
    } catch {
      throw invalid();
    }
  });
}

/** Rows strictly after `values` in the ordering: (a, b) > (x, y) spelled out per direction. */
function after(ordering: Ordering, values: unknown[]): SQL {
  const branches = ordering.keys.map(({ column, direction }, index) =>
    and(
      ...ordering.keys.slice(0, index).map((key, j) => eq(key.column, values[j])),
      direction === "asc" ? gt(column, values[index]) : lt(column, values[index]),
    ),
  );
  return or(...branches)!;
}

function orderSql(ordering: Ordering): SQL[] {
  return ordering.keys.map(({ column, direction }) => sql`${column} ${sql.raw(direction)}`);
}

function pageSize(context: ApiContext, first: number | null | undefined): number {
  const { API_DEFAULT_PAGE_SIZE, API_MAX_PAGE_SIZE } = context.config;
  if (first === null || first === undefined) return API_DEFAULT_PAGE_SIZE;
  if (first < 0) throw new ApiError("BAD_USER_INPUT", "first must not be negative");
  if (first > API_MAX_PAGE_SIZE) throw new ApiError("PAGE_TOO_LARGE", `first must be at most ${API_MAX_PAGE_SIZE}, got ${first}`);
  return first;
}

function toConnection<R extends Row>(rows: R[], size: number, ordering: Ordering, properties: string[], args: PageArgs): Connection<R> {
  const edges = rows.slice(0, size).map((node) => ({ cursor: encodeCursor(ordering, properties, node), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > size,
      hasPreviousPage: Boolean(args.after),
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

export type PageQuery<T extends PgTable> = {
  table: T;
  where?: SQL | undefined;
  ordering: Ordering;
  args: PageArgs;
};

/** One page of `table`, in one statement. */
export async function paginate<T extends PgTable>(context: ApiContext, query: PageQuery<T>): Promise<Connection<T["$inferSelect"]>> {
  const { table, ordering, args } = query;
  const size = pageSize(context, args.first);
  const cursor = args.after ? after(ordering, decodeCursor(ordering, args.after)) : undefined;
  const rows = await context.db
    .select()
    .from(table as PgTable)
    .where(and(query.where, cursor))
    .orderBy(...orderSql(ordering))
    .limit(size + 1);
  return toConnection(rows as T["$inferSelect"][], size, ordering, propertyNames(table, ordering), args);
}

/**
 * The same page for many parents at once (a node's tasks, for every node of a list), in one
 * statement: for each parent key, a LATERAL subquery reads that parent's page alone, so each
 * page is one index range scan cut at the page size, however many rows the parent has. (Ranking
 * every row of the parents with a window function and cutting afterwards sorted all of them:
 * 12.7 ms against 0.5 ms for ten nodes' pages over 6,000 tasks.)
 */
async function paginateGroups<T extends PgTable>(
  context: ApiContext,
  query: PageQuery<T> & { group: PgColumn; keys: readonly string[] },
): Promise<Connection<T["$inferSelect"]>[]> {
  const { table, ordering, args, group } = query;
  const size = pageSize(context, args.first);
  const cursor = args.after ? after(ordering, decodeCursor(ordering, args.after)) : undefined;
  const parent = sql`${sql.identifier("parent")}.${sql.identifier("key")}`;
  const page = context.db
    .select()
    .from(table as PgTable)
    .where(and(sql`${group} = ${parent}`, query.where, cursor))
    .orderBy(...orderSql(ordering))
    .limit(size + 1);
  // The page's columns, read back through each column's own decoder (numeric → bigint, …).
  const pageColumn = (column: PgColumn) => sql`${sql.identifier("page")}.${sql.identifier(column.name)}`;
  const fields = Object.fromEntries(Object.entries(getTableColumns(table)).map(([property, column]) => [property, pageColumn(column).mapWith(column)]));
  const rows = (await context.db
    .select(fields)
    .from(sql`unnest(${sql.param([...query.keys])}::${sql.raw(group.getSQLType())}[]) as ${sql.identifier("parent")}(${sql.identifier("key")}) cross join lateral (${page}) as ${sql.identifier("page")}`)
    .orderBy(parent, ...ordering.keys.map(({ column, direction }) => sql`${pageColumn(column)} ${sql.raw(direction)}`))) as T["$inferSelect"][];
  const groupProperty = propertyOf(table, group);
  const byGroup = new Map<unknown, T["$inferSelect"][]>();
  for (const row of rows) {
    const key = (row as Row)[groupProperty];
    byGroup.set(key, [...(byGroup.get(key) ?? []), row]);
  }
  const properties = propertyNames(table, ordering);
  return query.keys.map((key) => toConnection(byGroup.get(key) ?? [], size, ordering, properties, args));
}

/**
 * One parent's page of a child list, batched with the same page of every other parent in the
 * request. `cacheKey` must name every filter in `where`, since `where` itself is not comparable.
 */
export function loadPage<T extends PgTable>(context: ApiContext, query: PageQuery<T> & { group: PgColumn; key: string; cacheKey: string }) {
  const { table, group, ordering, args } = query;
  const name = ["page", getTableName(table), propertyOf(table, group), ordering.name, query.cacheKey, args.first ?? "", args.after ?? ""].join(":");
  return context.loader(name, (keys) => paginateGroups(context, { ...query, keys })).load(query.key);
}
