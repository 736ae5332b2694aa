/**
 * Keyset pagination (api/pagination.ts) on the payout table in an in-memory PGlite: walking every
 * page of an ordering gives every row once, in order, whatever the page size, the directions or
 * the ties; a parent's pages batched with its siblings' are the same pages; page sizes are
 * bounded; and a cursor that is not one this ordering handed out is INVALID_CURSOR.
 */
import { eq, inArray } from "drizzle-orm";
import type { Address } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiError } from "../../api/errors";
import type { PgColumn } from "drizzle-orm/pg-core";
import { loadPage, paginate, type Connection, type Ordering, type PageArgs } from "../../api/pagination";
import { seededRandom } from "../../common/random";
import { payout } from "../../schema";
import { tablesInMemory } from "./indexer-tables";

type Payout = typeof payout.$inferSelect;

const RECIPIENTS: Address[] = ["0x00000000000000000000000000000000000000a1", "0x00000000000000000000000000000000000000a2", "0x00000000000000000000000000000000000000a3"];
const NOBODY: Address = "0x00000000000000000000000000000000000000ff";

/** Few distinct blocks, log indexes and amounts, so that every key of every ordering ties somewhere. */
function payouts(count: number, seed: number): Payout[] {
  const random = seededRandom(seed);
  const amounts = [1n, 10n ** 18n, 2n ** 70n + 1n, 2n ** 200n];
  return Array.from({ length: count }, (_, i) => ({
    id: `p${String(i).padStart(3, "0")}`,
    stream: random.pick(["NODE_PAYMENT", "STAKER_SHARE", "TREASURY", "STAKING_REWARD"] as const)!,
    recipient: random.pick(RECIPIENTS)!,
    amount: random.pick(amounts)!,
    usdValue: 1n,
    farUsdPrice: 1n,
    taskId: null,
    node: null,
    blockNumber: 1 + random.int(5),
    logIndex: random.int(3),
    timestamp: 1_700_000_000,
    transactionHash: "0x01",
    blockHash: "0x02",
  }));
}

/** An ordering from its name and its keys, most significant first. */
const ordering = (name: string, ...keys: [PgColumn, "asc" | "desc"][]): Ordering => ({ name, keys: keys.map(([column, direction]) => ({ column, direction })) });

const POSITION = ordering("test:position", [payout.blockNumber, "desc"], [payout.logIndex, "desc"], [payout.id, "desc"]);
const MIXED = ordering("test:mixed", [payout.blockNumber, "asc"], [payout.logIndex, "desc"], [payout.id, "asc"]);
/** numeric(78) amounts: cursors carry them as decimal text. */
const BY_AMOUNT = ordering("test:amount", [payout.amount, "desc"], [payout.id, "asc"]);
const PROPERTY = new Map<unknown, keyof Payout>([
  [payout.blockNumber, "blockNumber"],
  [payout.logIndex, "logIndex"],
  [payout.id, "id"],
  [payout.amount, "amount"],
]);

/** The ordering, computed here rather than by the database. */
function sorted(rows: Payout[], ordering: Ordering): string[] {
  return [...rows]
    .sort((a, b) => {
      for (const { column, direction } of ordering.keys) {
        const [x, y] = [a[PROPERTY.get(column)!]!, b[PROPERTY.get(column)!]!];
        if (x !== y) return (x < y ? -1 : 1) * (direction === "asc" ? 1 : -1);
      }
      return 0;
    })
    .map((row) => row.id);
}

const ROWS = payouts(40, 14);
let tables: Awaited<ReturnType<typeof tablesInMemory>>;

beforeAll(async () => {
  tables = await tablesInMemory([payout], { API_DEFAULT_PAGE_SIZE: "4", API_MAX_PAGE_SIZE: "25" });
  await tables.db.insert(payout).values(ROWS);
});
afterAll(async () => {
  await tables?.close();
});

/** Every page from `start` on (the first page without it), each asked for with the previous page's end cursor; the ids in the order served. */
async function walk(first: number | undefined, page: (args: PageArgs) => Promise<Connection<Payout>>, start: string | null = null): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let after = start;
  for (let pages = 1; ; pages++) {
    const connection = await page({ first, after });
    const { edges, pageInfo } = connection;
    expect(pageInfo.hasPreviousPage).toBe(after !== null);
    expect(pageInfo.startCursor).toBe(edges[0]?.cursor ?? null);
    expect(pageInfo.endCursor).toBe(edges.at(-1)?.cursor ?? null);
    ids.push(...edges.map((edge) => edge.node.id));
    if (!pageInfo.hasNextPage) return { ids, pages };
    // A cursor that does not move the page on would walk forever.
    expect(ids.length, "more rows served than the table holds").toBeLessThanOrEqual(ROWS.length + 2);
    expect(edges.length).toBe(first ?? 4);
    after = pageInfo.endCursor;
  }
}

const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => "served",
    (error: ApiError) => error.code ?? error.message,
  );

describe("walking a list", () => {
  it.each(
    (
      [
        // [ordering, page size]
        [POSITION, 1],
        [POSITION, 7],
        [POSITION, undefined],
        [POSITION, 25],
        [MIXED, 3],
        [MIXED, 20],
        [BY_AMOUNT, 2],
        [BY_AMOUNT, 15],
      ] as const
    ).map(([ordering, first]) => [ordering.name, first, ordering] as const),
  )("%s, first %s: every row once, in order", async (_name, first, ordering) => {
    const { ids, pages } = await walk(first, (args) => paginate(tables.context(), { table: payout, ordering, args }));
    expect(ids).toEqual(sorted(ROWS, ordering));
    expect(pages).toBe(Math.max(1, Math.ceil(ROWS.length / (first ?? 4))));
  });

  it("filters before it pages", async () => {
    const where = eq(payout.recipient, RECIPIENTS[1]!);
    const { ids } = await walk(5, (args) => paginate(tables.context(), { table: payout, where, ordering: MIXED, args }));
    expect(ids).toEqual(sorted(ROWS.filter((row) => row.recipient === RECIPIENTS[1]), MIXED));
  });

  it("stays stable while rows are appended: a cursor is a position, not an offset", async () => {
    const context = tables.context;
    const firstPage = await paginate(context(), { table: payout, ordering: POSITION, args: { first: 10 } });
    const newest = { ...ROWS[0]!, id: "p900", blockNumber: 100 };
    const oldest = { ...ROWS[0]!, id: "p901", blockNumber: 0 };
    await tables.db.insert(payout).values([newest, oldest]);
    try {
      const rest = await walk(10, (args) => paginate(context(), { table: payout, ordering: POSITION, args }), firstPage.pageInfo.endCursor);
      expect([...firstPage.edges.map((edge) => edge.node.id), ...rest.ids]).toEqual([...sorted(ROWS, POSITION), "p901"]);
    } finally {
      await tables.db.delete(payout).where(inArray(payout.id, [newest.id, oldest.id]));
    }
  });

  it("pages of many parents: the same pages as one parent's, in one statement", async () => {
    const page = (context: ReturnType<typeof tables.context>, key: string, args: PageArgs) =>
      loadPage(context, { table: payout, group: payout.recipient, key, ordering: POSITION, args, cacheKey: "" });
    const context = tables.context();
    const firsts = await Promise.all([...RECIPIENTS, NOBODY].map((key) => page(context, key, { first: 3 })));
    expect(context.sqlStatements()).toBe(1);
    for (const [index, recipient] of RECIPIENTS.entries()) {
      expect(firsts[index]!.edges.map((edge) => edge.node.id)).toEqual(sorted(ROWS.filter((row) => row.recipient === recipient), POSITION).slice(0, 3));
      const { ids } = await walk(3, (args) => page(tables.context(), recipient, args));
      expect(ids).toEqual(sorted(ROWS.filter((row) => row.recipient === recipient), POSITION));
    }
    expect(firsts[3]).toEqual({ edges: [], pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null } });
  });
});

describe("page sizes", () => {
  it.each([
    // [first, page length or error code]
    [undefined, 4],
    [null, 4],
    [0, 0],
    [25, 25],
    [26, "PAGE_TOO_LARGE"],
    [-1, "BAD_USER_INPUT"],
  ])("first: %s", async (first, expected) => {
    const result = paginate(tables.context(), { table: payout, ordering: POSITION, args: { first } });
    if (typeof expected === "string") return expect(await outcome(result)).toBe(expected);
    const { edges, pageInfo } = await result;
    expect(edges).toHaveLength(expected);
    expect(pageInfo.hasNextPage).toBe(true);
  });
});

describe("cursors", () => {
  const raw = (text: string) => Buffer.from(text).toString("base64url");
  const forged = (...values: unknown[]) => raw(JSON.stringify(values));

  it("round-trip: a page starts right after the row whose cursor it was given, in any ordering", async () => {
    for (const ordering of [POSITION, MIXED, BY_AMOUNT]) {
      const all = await paginate(tables.context(), { table: payout, ordering, args: { first: 25 } });
      for (const [index, edge] of all.edges.entries()) {
        const next = await paginate(tables.context(), { table: payout, ordering, args: { first: 1, after: edge.cursor } });
        expect(next.edges[0]?.node.id).toBe(all.edges[index + 1]?.node.id ?? sorted(ROWS, ordering)[25]);
      }
    }
  });

  it.each<[string, unknown[], string[]]>([
    // [what, cursor's values, the first ids after it]
    ["the largest safe block number", ["test:position", Number.MAX_SAFE_INTEGER, 0, "p000"], sorted(ROWS, POSITION).slice(0, 2)],
    ["the most negative log index", ["test:position", 6, -(2 ** 31), "p000"], sorted(ROWS, POSITION).slice(0, 2)],
  ])("accepts a forged but representable cursor: %s", async (_what, values, expected) => {
    const page = await paginate(tables.context(), { table: payout, ordering: POSITION, args: { first: 2, after: forged(...values) } });
    expect(page.edges.map((edge) => edge.node.id)).toEqual(expected);
  });

  it("accepts an amount wider than numeric(78) as a position past every row", async () => {
    const page = await paginate(tables.context(), { table: payout, ordering: BY_AMOUNT, args: { first: 2, after: forged("test:amount", "9".repeat(100), "p000") } });
    expect(page.edges.map((edge) => edge.node.id)).toEqual(sorted(ROWS, BY_AMOUNT).slice(0, 2));
  });

  it("a hand-made cursor for this ordering is a position like any other", async () => {
    const { ids } = await walk(25, (args) => paginate(tables.context(), { table: payout, ordering: POSITION, args }), forged("test:position", "3", 1, "p999"));
    expect(ids).toEqual(sorted(ROWS.filter((row) => row.blockNumber < 3 || (row.blockNumber === 3 && row.logIndex <= 1)), POSITION));
  });

  it.each<[string, Ordering, string]>([
    // [what, ordering, cursor]
    ["not base64url JSON", POSITION, "not a cursor!"],
    ["JSON, not a list", POSITION, raw(`{"name":"test:position"}`)],
    ["a bare string", POSITION, raw(`"test:position"`)],
    ["another ordering's", POSITION, forged("test:mixed", 1, 0, "p001")],
    ["another list's", POSITION, forged("node:EARNINGS_DESC", "1", "0x01")],
    ["no ordering name", POSITION, forged(1, 0, "p001")],
    ["a value short", POSITION, forged("test:position", 1, 0)],
    ["a value too many", POSITION, forged("test:position", 1, 0, "p001", 5)],
    ["a null value", POSITION, forged("test:position", null, 0, "p001")],
    ["a boolean value", POSITION, forged("test:position", true, 0, "p001")],
    ["an object value", POSITION, forged("test:position", { block: 1 }, 0, "p001")],
    ["a block number that is no number", POSITION, forged("test:position", "ten", 0, "p001")],
    ["an infinite block number", POSITION, raw(`["test:position",1e400,0,"p001"]`)],
    ["an amount with a fraction", BY_AMOUNT, forged("test:amount", "1.5", "p001")],
    ["an amount as a fractional number", BY_AMOUNT, forged("test:amount", 1.5, "p001")],
    ["an amount that is no number", BY_AMOUNT, forged("test:amount", "lots", "p001")],
    // Numbers JSON holds but the columns do not: refused here, not by the database.
    ["a block number beyond bigint", POSITION, forged("test:position", 1e20, 0, "p001")],
    ["a block number beyond bigint, as text", POSITION, forged("test:position", "99999999999999999999", 0, "p001")],
    ["a fractional block number", POSITION, forged("test:position", 1.5, 0, "p001")],
    ["a log index beyond integer", POSITION, forged("test:position", 1, 2 ** 31, "p001")],
    ["a log index beyond integer, as text", POSITION, forged("test:position", 1, "3000000000", "p001")],
    ["a fractional log index", POSITION, forged("test:position", 1, 0.5, "p001")],
    ["an id holding a NUL character, which text cannot", POSITION, forged("test:position", 1, 0, "p\u0000")],
  ])("refuses %s as INVALID_CURSOR", async (_what, ordering, cursor) => {
    expect(await outcome(paginate(tables.context(), { table: payout, ordering, args: { after: cursor } }))).toBe("INVALID_CURSOR");
  });
});
