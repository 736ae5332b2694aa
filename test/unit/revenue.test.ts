/**
 * Revenue series and summaries (api/revenue.ts) on the indexer's revenue tables in an in-memory
 * PGlite: whichever table answers (day buckets, hour buckets assembled into shifted days and
 * weeks, per-node buckets, or the payouts themselves), every bucket equals the payouts summed
 * here, empty buckets are zero-filled, running totals add up, and bad ranges are refused.
 */
import type { Address } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiError } from "../../api/errors";
import { revenueSeries, revenueSummary, topEarningNodes, type RevenueFilter } from "../../api/revenue";
import type { SeriesSpec } from "../../api/time";
import type { RevenuePoint, RevenueTotals, Stream } from "../../api/revenue";
import { seededRandom } from "../../common/random";
import { nodeRevenueBucket, payout, revenueBucket, revenueStream } from "../../schema";
import { tablesInMemory } from "./indexer-tables";

type Payout = typeof payout.$inferSelect;

const H = 3600;
const D = 24 * H;
/** Saturday 2025-01-25, 00:00 UTC. */
const T0 = Date.parse("2025-01-25T00:00:00Z") / 1000;
const STREAMS = revenueStream.enumValues;
const NODES: Address[] = ["0x00000000000000000000000000000000000000b1", "0x00000000000000000000000000000000000000b2"];
const RECIPIENTS: Address[] = ["0x00000000000000000000000000000000000000a1", "0x00000000000000000000000000000000000000a2"];
const NOBODY: Address = "0x00000000000000000000000000000000000000ff";
/** A day with no payouts at all: its buckets must still be served, as zeros. */
const QUIET_DAY = 5;

/** Sixteen days of payouts; amounts past 2^64 so that sums only add up as bigints. */
function payouts(count: number, seed: number): Payout[] {
  const random = seededRandom(seed);
  const rows: Payout[] = [];
  for (let i = 0; rows.length < count; i++) {
    const timestamp = T0 + random.int(16 * D);
    if (Math.floor((timestamp - T0) / D) === QUIET_DAY) continue;
    rows.push({
      id: `p${i}`,
      stream: random.pick(STREAMS)!,
      recipient: random.pick(RECIPIENTS)!,
      amount: random.amount(10n ** 24n),
      usdValue: random.amount(10n ** 22n),
      farUsdPrice: 1n,
      taskId: null,
      node: random.pick([...NODES, null]) ?? null,
      blockNumber: i,
      logIndex: 0,
      timestamp,
      transactionHash: "0x01",
      blockHash: "0x02",
    });
  }
  return rows;
}

const PAYOUTS = payouts(400, 14);

/** The buckets the indexer would have written for these payouts: UTC hours and days, overall and per node. */
function storedBuckets(rows: Payout[]) {
  const overall = new Map<string, typeof revenueBucket.$inferInsert>();
  const perNode = new Map<string, typeof nodeRevenueBucket.$inferInsert>();
  for (const row of rows) {
    for (const [interval, size] of [["HOUR", H], ["DAY", D]] as const) {
      const bucketStart = Math.floor(row.timestamp / size) * size;
      const add = <B extends RevenueTotals>(map: Map<string, B>, key: string, empty: B) => {
        const bucket = map.get(key) ?? empty;
        map.set(key, { ...bucket, amount: bucket.amount + row.amount, usdValue: bucket.usdValue + row.usdValue, payoutCount: bucket.payoutCount + 1 });
      };
      const zero = { interval, bucketStart, stream: row.stream, amount: 0n, usdValue: 0n, payoutCount: 0 };
      add(overall, `${interval}:${bucketStart}:${row.stream}`, zero);
      if (row.node) add(perNode, `${interval}:${bucketStart}:${row.stream}:${row.node}`, { ...zero, node: row.node });
    }
  }
  return { overall: [...overall.values()], perNode: [...perNode.values()] };
}

type Selection = { streams?: readonly Stream[]; recipient?: Address; node?: Address };

const totalsOf = (rows: Payout[]): RevenueTotals => ({
  amount: rows.reduce((sum, row) => sum + row.amount, 0n),
  usdValue: rows.reduce((sum, row) => sum + row.usdValue, 0n),
  payoutCount: rows.length,
});

const selected = (selection: Selection) =>
  PAYOUTS.filter((row) => (!selection.recipient || row.recipient === selection.recipient) && (!selection.node || row.node === selection.node));

/** The series summed here from the payouts: `count` buckets of `size` seconds from `origin`. */
function expectedSeries(origin: number, size: number, count: number, selection: Selection): RevenuePoint[] {
  const rows = selected(selection);
  let cumulativeAmount = 0n;
  let cumulativeUsdValue = 0n;
  return Array.from({ length: count }, (_, index) => {
    const bucketStart = origin + index * size;
    const inBucket = rows.filter((row) => row.timestamp >= bucketStart && row.timestamp < bucketStart + size);
    const byStream = (selection.streams ?? STREAMS).map((stream) => ({ stream, ...totalsOf(inBucket.filter((row) => row.stream === stream)) }));
    const point = totalsOf(inBucket.filter((row) => byStream.some((cell) => cell.stream === row.stream)));
    cumulativeAmount += point.amount;
    cumulativeUsdValue += point.usdValue;
    return { bucketStart, ...point, cumulativeAmount, cumulativeUsdValue, byStream };
  });
}

let tables: Awaited<ReturnType<typeof tablesInMemory>>;

beforeAll(async () => {
  tables = await tablesInMemory([payout, revenueBucket, nodeRevenueBucket]);
  const { overall, perNode } = storedBuckets(PAYOUTS);
  await tables.db.insert(payout).values(PAYOUTS);
  await tables.db.insert(revenueBucket).values(overall);
  await tables.db.insert(nodeRevenueBucket).values(perNode);
});
afterAll(async () => {
  await tables?.close();
});

const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => "served",
    (error: ApiError) => error.code ?? error.message,
  );

describe("revenue series", () => {
  it.each<[string, SeriesSpec, RevenueFilter, Selection, { origin: number; size: number; count: number }]>([
    // [what, spec, filter, the payouts it covers, expected buckets]
    ["UTC days (day buckets)", { interval: "DAY", from: T0, to: T0 + 16 * D }, {}, {}, { origin: T0, size: D, count: 16 }],
    ["the first bucket is aligned down", { interval: "DAY", from: T0 + 5 * H, to: T0 + 3 * D }, {}, {}, { origin: T0, size: D, count: 3 }],
    ["a bucket starting before `to` is served whole", { interval: "DAY", from: T0, to: T0 + 2 * D + 1 }, {}, {}, { origin: T0, size: D, count: 3 }],
    ["days at UTC+9 start at 15:00 UTC (hour buckets)", { interval: "DAY", from: T0, to: T0 + 10 * D, utcOffsetHours: 9 }, {}, {}, { origin: T0 - 9 * H, size: D, count: 11 }],
    ["days at UTC-5 start at 05:00 UTC", { interval: "DAY", from: T0 + 2 * D, to: T0 + 9 * D, utcOffsetHours: -5 }, {}, {}, { origin: T0 + D + 5 * H, size: D, count: 8 }],
    ["days at UTC+14 start at 10:00 UTC the day before", { interval: "DAY", from: T0, to: T0 + 4 * D, utcOffsetHours: 14 }, {}, {}, { origin: T0 - 14 * H, size: D, count: 5 }],
    ["hours", { interval: "HOUR", from: T0 + 30 * 60, to: T0 + 30 * H }, {}, {}, { origin: T0, size: H, count: 30 }],
    ["hours ignore the offset", { interval: "HOUR", from: T0, to: T0 + 6 * H, utcOffsetHours: 3 }, {}, {}, { origin: T0, size: H, count: 6 }],
    ["weeks start on Monday (T0 is a Saturday)", { interval: "WEEK", from: T0, to: T0 + 16 * D }, {}, {}, { origin: T0 - 5 * D, size: 7 * D, count: 3 }],
    ["weeks at UTC+14 (Monday begins Sunday 10:00 UTC)", { interval: "WEEK", from: T0, to: T0 + 16 * D, utcOffsetHours: 14 }, {}, {}, { origin: T0 - 5 * D - 14 * H, size: 7 * D, count: 4 }],
    ["some streams only", { interval: "DAY", from: T0, to: T0 + 8 * D }, { streams: ["TREASURY", "NODE_PAYMENT"] }, { streams: ["TREASURY", "NODE_PAYMENT"] }, { origin: T0, size: D, count: 8 }],
    ["one recipient's (the payouts)", { interval: "DAY", from: T0, to: T0 + 8 * D }, { recipient: RECIPIENTS[1] }, { recipient: RECIPIENTS[1] }, { origin: T0, size: D, count: 8 }],
    ["one recipient's at UTC+9", { interval: "DAY", from: T0, to: T0 + 4 * D, utcOffsetHours: 9 }, { recipient: RECIPIENTS[0] }, { recipient: RECIPIENTS[0] }, { origin: T0 - 9 * H, size: D, count: 5 }],
  ])("%s", async (_what, spec, filter, selection, { origin, size, count }) => {
    const [series] = await revenueSeries(tables.context(), spec, filter);
    expect(series).toEqual(expectedSeries(origin, size, count, selection));
    expect(series!.some((point) => point.payoutCount > 0)).toBe(true);
  });

  it("zero-fills a day without payouts, and keeps the running totals through it", async () => {
    const [series] = await revenueSeries(tables.context(), { interval: "DAY", from: T0 + (QUIET_DAY - 1) * D, to: T0 + (QUIET_DAY + 2) * D }, {});
    const [before, quiet, after] = series!;
    expect(quiet).toEqual({
      bucketStart: T0 + QUIET_DAY * D,
      amount: 0n,
      usdValue: 0n,
      payoutCount: 0,
      cumulativeAmount: before!.cumulativeAmount,
      cumulativeUsdValue: before!.cumulativeUsdValue,
      byStream: STREAMS.map((stream) => ({ stream, amount: 0n, usdValue: 0n, payoutCount: 0 })),
    });
    expect(after!.cumulativeAmount).toBe(before!.amount + after!.amount);
  });

  it("one series per node, in the order asked, in one statement", async () => {
    const context = tables.context();
    const spec: SeriesSpec = { interval: "DAY", from: T0, to: T0 + 5 * D, utcOffsetHours: -3 };
    const series = await revenueSeries(context, spec, { nodes: [NODES[1]!, NOBODY, NODES[0]!] });
    expect(context.sqlStatements()).toBe(1);
    const origin = T0 - D + 3 * H;
    expect(series).toEqual([
      expectedSeries(origin, D, 6, { node: NODES[1] }),
      expectedSeries(origin, D, 6, { node: NOBODY }),
      expectedSeries(origin, D, 6, { node: NODES[0] }),
    ]);
    expect(series[1]!.every((point) => point.payoutCount === 0)).toBe(true);
  });

  it("an empty range is an empty series, and costs no points", async () => {
    const context = tables.context();
    expect(await revenueSeries(context, { interval: "DAY", from: T0, to: T0 }, { nodes: NODES })).toEqual([[], []]);
    expect(context.sqlStatements()).toBe(0);
  });

  it.each<[string, SeriesSpec, string]>([
    ["to before from", { interval: "DAY", from: T0 + D, to: T0 }, "INVALID_RANGE"],
    ["an offset past UTC+14", { interval: "DAY", from: T0, to: T0 + D, utcOffsetHours: 15 }, "INVALID_RANGE"],
    ["an offset past UTC-12", { interval: "DAY", from: T0, to: T0 + D, utcOffsetHours: -13 }, "INVALID_RANGE"],
    ["half-hour offsets", { interval: "DAY", from: T0, to: T0 + D, utcOffsetHours: 5.5 }, "INVALID_RANGE"],
    ["more buckets than one request may have (2,001 hours)", { interval: "HOUR", from: T0, to: T0 + 2_001 * H }, "INVALID_RANGE"],
    ["exactly as many as allowed (2,000 hours)", { interval: "HOUR", from: T0, to: T0 + 2_000 * H }, "served"],
  ])("%s", async (_what, spec, expected) => {
    expect(await outcome(revenueSeries(tables.context(), spec, {}))).toBe(expected);
  });

  it("counts every series of a request against one budget of points", async () => {
    const context = tables.context();
    const week = { interval: "HOUR", from: T0, to: T0 + 7 * D } as const;
    expect(await outcome(revenueSeries(context, week, {}))).toBe("served");
    expect(await outcome(revenueSeries(context, week, { nodes: NODES }))).toBe("served");
    // 168 + 2 × 168 points so far; ten more series of 168 pass 2,000.
    expect(await outcome(revenueSeries(context, week, { nodes: Array.from({ length: 10 }, () => NOBODY) }))).toBe("TOO_MANY_SERIES_POINTS");
    expect(await outcome(revenueSeries(tables.context(), week, { nodes: Array.from({ length: 10 }, () => NOBODY) }))).toBe("served");
  });
});

describe("revenue summary and top nodes", () => {
  const within = (from: number | null, to: number | null) => PAYOUTS.filter((row) => (from === null || row.timestamp >= from) && (to === null || row.timestamp < to));

  it.each<[string, number | null, number | null]>([
    ["all time", null, null],
    ["whole days (day buckets)", T0 + D, T0 + 4 * D],
    ["whole hours (hour buckets)", T0 + 7 * H, T0 + 2 * D + 3 * H],
    ["bounds inside an hour (the payouts)", T0 + 90, T0 + 3 * D - 1],
    ["open at the start", null, T0 + 2 * D + H],
    ["open at the end", T0 + 11 * D + 1, null],
    ["an empty range", T0 + D, T0 + D],
  ])("%s", async (_what, from, to) => {
    const rows = within(from, to);
    const summary = await revenueSummary(tables.context(), from, to);
    expect(summary).toEqual({ from, to, total: totalsOf(rows), byStream: STREAMS.map((stream) => ({ stream, ...totalsOf(rows.filter((row) => row.stream === stream)) })) });
  });

  it("refuses a range that ends before it starts", async () => {
    expect(await outcome(revenueSummary(tables.context(), T0 + D, T0))).toBe("INVALID_RANGE");
  });

  it.each<[string, number | null, number | null, number]>([
    ["all time", null, null, 10],
    ["whole days", T0, T0 + 3 * D, 10],
    ["bounds inside an hour", T0 + 100, T0 + 2 * D, 10],
    ["only the first", T0, T0 + 8 * D, 1],
  ])("top earning nodes: %s", async (_what, from, to, limit) => {
    const rows = within(from, to).filter((row) => row.stream === "NODE_PAYMENT");
    const expected = NODES.map((node) => ({ node, ...totalsOf(rows.filter((row) => row.node === node)) }))
      .filter((entry) => entry.payoutCount > 0)
      .sort((a, b) => (a.amount === b.amount ? 0 : a.amount > b.amount ? -1 : 1))
      .slice(0, limit);
    expect(await topEarningNodes(tables.context(), from, to, limit)).toEqual(expected);
  });
});
