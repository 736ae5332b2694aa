/**
 * Exports pinned to a block: `GET /export/<table>.csv` (or `.ndjson`) streams a table's rows as
 * they stood at an indexed block (`block=`, the latest indexed block unless given), filtered as
 * the GraphQL list of that table is (api/export-query.ts).
 *
 * How a block is read while indexing continues: Ponder keeps, for every change above the
 * finalized block, the row as it was before the change in `_reorg__<table>` (operation 0: the
 * row was inserted, 1: updated, 2: deleted; `checkpoint` holds the block of the change). A row
 * as it stood at block B is therefore the earliest such image among changes after B, or the
 * current row when nothing changed it after B. That reading does not move when later blocks are
 * committed (they only add images after B), so one export is read in pages, each its own short
 * statement on any driver (PGlite inside Ponder's process, node-postgres, postgres.js), with no
 * snapshot held open while a slow client reads. It holds as long as B is not below the finalized
 * block (Ponder drops the images of finalized blocks: such a block is refused, BLOCK_NOT_READABLE)
 * and no reorg replaced blocks up to B. After each page a check reads, in one statement, the
 * finalized and latest blocks and the undo images of blocks up to B (per block: how many, the
 * newest id); Ponder's revert deletes those and re-indexing writes new ones with new ids, so a
 * reorg at or below B is seen, and the export is then cut off rather than mixing two chains.
 *
 * Bounded as the API is: rows counted up front (API_EXPORT_MAX_ROWS), a deadline
 * (API_EXPORT_TIMEOUT_MS), exports at once (API_EXPORT_MAX_CONCURRENT). A page is read only when
 * the client has taken the previous one, so memory holds one page whatever the export's size.
 */
import { and, getTableColumns, getTableName, gte, lt, eq, sql, type SQL } from "drizzle-orm";
import { getTableConfig, type PgColumn, type PgTable } from "drizzle-orm/pg-core";
import type { Hono } from "hono";
import { stringify } from "csv-stringify/sync";
import { node, nodeRevenueBucket, payout, revenueBucket, staker, task } from "../schema";
import { decodeCheckpoint } from "../domain/progress";
import type { Logger } from "../common/logger";
import type { ApiConfig } from "./config";
import { readIndexingStatus, type ApiDb } from "./db";
import { parseExportQuery, type ExportFilter, type ExportRequest, type ExportTable } from "./export-query";
import { errorBody } from "./http";
import { formatDateTime } from "./wire";

/** Rows read per statement. */
const PAGE_ROWS = 1_000;

type Source = {
  table: PgTable;
  /** The export's order: ascending, ending on the primary key, so that pages never skip or repeat a row. */
  keys: PgColumn[];
  /** Unix-seconds columns, written as ISO-8601 UTC as the GraphQL API writes them. */
  times: PgColumn[];
};

const SOURCES: Record<ExportTable, (filters: ExportFilter[]) => Source> = {
  payouts: () => ({ table: payout, keys: [payout.blockNumber, payout.logIndex, payout.id], times: [payout.timestamp] }),
  "revenue-buckets": (filters) =>
    filters.some((filter) => filter.name === "node")
      ? {
          table: nodeRevenueBucket,
          keys: [nodeRevenueBucket.interval, nodeRevenueBucket.bucketStart, nodeRevenueBucket.stream, nodeRevenueBucket.node],
          times: [nodeRevenueBucket.bucketStart],
        }
      : { table: revenueBucket, keys: [revenueBucket.interval, revenueBucket.bucketStart, revenueBucket.stream], times: [revenueBucket.bucketStart] },
  tasks: () => ({ table: task, keys: [task.createdAt, task.id], times: [task.createdAt, task.settledAt] }),
  stakers: () => ({ table: staker, keys: [staker.address], times: [staker.unlockTime, staker.firstActionAt, staker.lastActionAt] }),
  nodes: () => ({ table: node, keys: [node.registeredBlock, node.address], times: [node.registeredAt, node.deactivatedAt] }),
};

type ExportErrorCode = "INDEXER_NOT_READY" | "BLOCK_NOT_INDEXED" | "BLOCK_NOT_READABLE" | "BLOCK_REORGED" | "EXPORT_TOO_LARGE" | "TOO_MANY_EXPORTS" | "EXPORT_TIMEOUT";

/** An export refused (before the response started) or cut off (after). */
class ExportError extends Error {
  override name = "ExportError";
  constructor(
    readonly code: ExportErrorCode,
    readonly status: 409 | 410 | 413 | 429 | 503,
    message: string,
  ) {
    super(message);
  }
}

const T = sql.identifier("t");
const blockOf = (alias: string) => sql`substring(${sql.identifier(alias)}.checkpoint from 27 for 16)::numeric`;

/** The table's SQL name, qualified as drizzle qualifies it (by schema when embedded; by search_path on a replica). */
function tableName(table: PgTable, name = getTableName(table)): SQL {
  const schema = getTableConfig(table).schema;
  return schema ? sql`${sql.identifier(schema)}.${sql.identifier(name)}` : sql`${sql.identifier(name)}`;
}

function primaryKey(table: PgTable): PgColumn[] {
  const config = getTableConfig(table);
  return config.primaryKeys[0]?.columns ?? config.columns.filter((column) => column.primary);
}

const columnsOf = (alias: string, columns: PgColumn[]) => sql.join(columns.map((column) => sql`${sql.identifier(alias)}.${sql.identifier(column.name)}`), sql`, `);

/** The table's rows as they stood at `block`, as the derived table `t` (see the file's comment). */
function rowsAt(table: PgTable, block: number): SQL {
  const columns = Object.values(getTableColumns(table));
  const key = primaryKey(table);
  const undo = tableName(table, `_reorg__${getTableName(table)}`);
  const sameKey = and(...key.map((column) => sql`${sql.identifier("r")}.${sql.identifier(column.name)} = ${sql.identifier("cur")}.${sql.identifier(column.name)}`));
  return sql`(
    select ${columnsOf("cur", columns)} from ${tableName(table)} as cur
    where not exists (select 1 from ${undo} as r where ${sameKey} and ${blockOf("r")} > ${block})
    union all
    select ${columnsOf("u", columns)} from (
      select distinct on (${columnsOf("r", key)}) ${columnsOf("r", columns)}, r.operation from ${undo} as r
      where ${blockOf("r")} > ${block} order by ${columnsOf("r", key)}, r.operation_id
    ) as u where u.operation <> 0
  ) as t`;
}

const column = (target: PgColumn) => sql`${T}.${sql.identifier(target.name)}`;

function whereOf(table: PgTable, filters: ExportFilter[]): SQL | undefined {
  const columns = getTableColumns(table) as Record<string, PgColumn>;
  return and(
    ...filters.map(({ condition, value }) => {
      const target = column(columns[condition.property]!);
      return condition.op === "eq" ? eq(target, value) : condition.op === "gte" ? gte(target, value) : lt(target, value);
    }),
  );
}

/** Where one block's undo images stand: `block:newest id:count`, per block in (finalized, B]. */
type Guard = { finalized: number; latest: number; undo: string[] };

async function readGuard(db: ApiDb, table: PgTable, block: number): Promise<Guard> {
  const undo = tableName(table, `_reorg__${getTableName(table)}`);
  const finalized = sql`substring(${sql.identifier("ck")}.finalized_checkpoint from 27 for 16)::numeric`;
  const [row] = await db
    .select({
      finalized: sql<string>`${sql.identifier("ck")}.finalized_checkpoint`,
      latest: sql<string>`${sql.identifier("ck")}.latest_checkpoint`,
      undo: sql<string>`(select coalesce(string_agg(g.b || ':' || g.m || ':' || g.n, ',' order by g.b), '') from (
        select ${blockOf("r")} as b, max(r.operation_id) as m, count(*) as n from ${undo} as r
        where ${blockOf("r")} > ${finalized} and ${blockOf("r")} <= ${block} group by 1) as g)`,
    })
    .from(sql`${tableName(table, "_ponder_checkpoint")} as ck`)
    .limit(1);
  if (!row) throw new ExportError("INDEXER_NOT_READY", 503, "The indexer has not written its first checkpoint yet");
  return { finalized: decodeCheckpoint(row.finalized).number, latest: decodeCheckpoint(row.latest).number, undo: row.undo ? row.undo.split(",") : [] };
}

/** Refuses `block` unless it can still be read: indexed, and not below the finalized block. */
function assertReadable(guard: Guard, block: number) {
  if (block > guard.latest) throw new ExportError("BLOCK_NOT_INDEXED", 409, `Block ${block} is not indexed yet; the latest indexed block is ${guard.latest}`);
  if (block < guard.finalized) {
    throw new ExportError(
      "BLOCK_NOT_READABLE",
      410,
      `Block ${block} is below the finalized block ${guard.finalized}, whose changes the indexer no longer keeps; export at a block from ${guard.finalized} to ${guard.latest}`,
    );
  }
}

/** Whether the reading at `block` still holds: readable, and the undo images of blocks up to it are those seen at the start. */
function assertUnchanged(start: Guard, now: Guard, block: number) {
  assertReadable(now, block);
  const expected = start.undo.filter((entry) => Number(entry.split(":")[0]) > now.finalized);
  if (expected.join(",") !== now.undo.join(",")) {
    throw new ExportError("BLOCK_REORGED", 409, `The chain reorganized at or below block ${block} during the export`);
  }
}

type Cell = string | number | boolean | null;

/** The wire form of a value: money and other bigints as decimal strings, times as ISO-8601. */
function cell(value: unknown, time: boolean): Cell {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") return value.toString();
  if (time) return formatDateTime(value as number);
  return value as string | number | boolean;
}

async function startExport(db: ApiDb, config: ApiConfig, request: ExportRequest) {
  const source = SOURCES[request.table](request.filters);
  const { table, keys } = source;
  const status = await readIndexingStatus(db);
  if (!status) throw new ExportError("INDEXER_NOT_READY", 503, "The indexer has not written its first checkpoint yet");
  const block = request.block ?? status.latest.number;
  const start = await readGuard(db, table, block);
  assertReadable(start, block);

  const where = whereOf(table, request.filters);
  const [counted] = await db
    .select({ rows: sql<number>`count(*)`.mapWith(Number) })
    .from(sql`(select 1 from ${rowsAt(table, block)} ${where ? sql`where ${where}` : sql``} limit ${config.API_EXPORT_MAX_ROWS + 1}) as c`);
  const rows = counted!.rows;
  if (rows > config.API_EXPORT_MAX_ROWS) {
    throw new ExportError("EXPORT_TOO_LARGE", 413, `More than ${config.API_EXPORT_MAX_ROWS} rows match; narrow the export with its filters (api/README.md)`);
  }
  assertUnchanged(start, await readGuard(db, table, block), block);

  const entries = Object.entries(getTableColumns(table)) as [string, PgColumn][];
  const fields = Object.fromEntries(entries.map(([property, target]) => [property, column(target).mapWith(target)]));
  const keyProperties = keys.map((key) => entries.find(([, target]) => target === key)![0]);
  const times = new Set(source.times);
  const header = entries.map(([, target]) => target.name);
  let after: unknown[] | undefined;
  let done = false;

  /** The next page, or undefined once every row was read. */
  const nextPage = async (): Promise<Cell[][] | undefined> => {
    if (done) return undefined;
    const keyset = after && sql`(${sql.join(keys.map(column), sql`, `)}) > (${sql.join(after.map((value) => sql`${value}`), sql`, `)})`;
    const page = (await db
      .select(fields)
      .from(rowsAt(table, block))
      .where(and(where, keyset))
      .orderBy(...keys.map(column))
      .limit(PAGE_ROWS)) as Record<string, unknown>[];
    assertUnchanged(start, await readGuard(db, table, block), block);
    const last = page.at(-1);
    done = page.length < PAGE_ROWS;
    // Not every driver binds a bigint parameter; numeric takes the decimal text.
    if (last) after = keyProperties.map((property) => (typeof last[property] === "bigint" ? String(last[property]) : last[property]));
    if (page.length === 0) return undefined;
    return page.map((row) => entries.map(([property, target]) => cell(row[property], times.has(target))));
  };
  return { block, finalized: start.finalized, rows, header, nextPage };
}

/** csv-stringify writes false as an empty field by default; a column of booleans says true or false. */
const CSV_OPTIONS = { cast: { boolean: (value: boolean) => String(value) } };

function encoder(format: ExportRequest["format"], header: string[]) {
  const text = new TextEncoder();
  if (format === "csv") return { start: text.encode(stringify([header])), page: (rows: unknown[][]) => text.encode(stringify(rows, CSV_OPTIONS)) };
  return {
    start: new Uint8Array(),
    page: (rows: unknown[][]) => text.encode(rows.map((row) => `${JSON.stringify(Object.fromEntries(header.map((name, index) => [name, row[index]])))}\n`).join("")),
  };
}

/** Mounts `/export/<table>.<format>` (api/README.md, "Exports"). */
export function mountExports(app: Hono, { db, config, logger }: { db: ApiDb; config: ApiConfig; logger: Logger }) {
  /** Exports streaming now in this process. */
  let running = 0;
  app.get("/export/:file", async (c) => {
    const parsed = parseExportQuery(c.req.param("file"), new URL(c.req.url).searchParams);
    if ("error" in parsed) return c.json(errorBody(parsed.error.code, parsed.error.message), parsed.error.status);
    const { request } = parsed;
    if (running >= config.API_EXPORT_MAX_CONCURRENT) {
      c.header("retry-after", "1");
      return c.json(errorBody("TOO_MANY_EXPORTS", `At most ${config.API_EXPORT_MAX_CONCURRENT} exports run at once; retry shortly`), 429);
    }
    running += 1;
    let released = false;
    const release = () => {
      if (!released) running -= 1;
      released = true;
    };
    const deadline = Date.now() + config.API_EXPORT_TIMEOUT_MS;
    let started: Awaited<ReturnType<typeof startExport>>;
    try {
      started = await startExport(db, config, request);
    } catch (error) {
      release();
      if (error instanceof ExportError) return c.json(errorBody(error.code, error.message), error.status);
      throw error;
    }
    const { block, finalized, rows, header, nextPage } = started;
    const encode = encoder(request.format, header);
    const stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          if (encode.start.length > 0) controller.enqueue(encode.start);
        },
        pull: async (controller) => {
          try {
            if (Date.now() > deadline) throw new ExportError("EXPORT_TIMEOUT", 503, `The export ran past API_EXPORT_TIMEOUT_MS (${config.API_EXPORT_TIMEOUT_MS} ms)`);
            const page = await nextPage();
            if (page) return controller.enqueue(encode.page(page));
            controller.close();
            release();
          } catch (error) {
            // The status is sent: the response ends unfinished, which every HTTP client reports.
            logger.warn({ msg: "Export cut off", table: request.table, block, code: (error as ExportError).code, err: error });
            controller.error(error);
            release();
          }
        },
        cancel: release,
      },
      { highWaterMark: 0 },
    );
    const extension = request.format === "csv" ? "csv" : "ndjson";
    return new Response(stream, {
      headers: {
        "content-type": request.format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8",
        "content-disposition": `attachment; filename="${request.table}-block-${block}.${extension}"`,
        "cache-control": "no-store",
        "x-indexed-block": String(block),
        "x-finalized-block": String(finalized),
        "x-export-rows": String(rows),
      },
    });
  });
}
