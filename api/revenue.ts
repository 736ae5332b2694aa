/**
 * Revenue over time, read from the smallest table that answers exactly: the hour or day buckets
 * the indexer maintains (overall, or per node), or the payouts themselves when the question is
 * per recipient or its bounds cut through a bucket. Sums stay numeric(78) in SQL and bigint here.
 */
import { and, desc, eq, inArray, isNotNull, sql, type SQL } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import type { Address } from "viem";
import { nodeRevenueBucket, payout, revenueBucket, revenueStream } from "../schema";
import type { ApiContext } from "./context";
import { DAY, HOUR } from "../domain/buckets";
import { bucketOf, bucketStarts, seriesBuckets, withinRange, type SeriesSpec } from "./time";

/** A payout's revenue stream. */
export type Stream = (typeof revenueStream.enumValues)[number];

export type RevenueTotals = { amount: bigint; usdValue: bigint; payoutCount: number };
export type StreamRevenue = RevenueTotals & { stream: Stream };
export type RevenuePoint = RevenueTotals & {
  bucketStart: number;
  cumulativeAmount: bigint;
  cumulativeUsdValue: bigint;
  byStream: StreamRevenue[];
};
export type NodeRevenue = RevenueTotals & { node: Address };
export type RevenueSummary = { from: number | null; to: number | null; total: RevenueTotals; byStream: StreamRevenue[] };

type Source = {
  table: typeof payout | typeof revenueBucket | typeof nodeRevenueBucket;
  time: PgColumn;
  node: PgColumn | undefined;
  count: SQL<string>;
  where: SQL[];
};

export type RevenueFilter = { streams?: Stream[] | null; recipient?: Address | null; nodes?: readonly string[] };

/** Bucket tables are exact when every bucket boundary asked for is one of theirs. */
function sourceFor(filter: RevenueFilter, granularity: "HOUR" | "DAY" | "PAYOUT"): Source {
  if (granularity === "PAYOUT" || filter.recipient) {
    return {
      table: payout,
      time: payout.timestamp,
      node: payout.node,
      count: sql<string>`count(*)`,
      where: filter.recipient ? [eq(payout.recipient, filter.recipient)] : [],
    };
  }
  const table = filter.nodes ? nodeRevenueBucket : revenueBucket;
  return {
    table,
    time: table.bucketStart,
    node: filter.nodes ? nodeRevenueBucket.node : undefined,
    count: sql<string>`sum(${table.payoutCount})`,
    where: [eq(table.interval, granularity)],
  };
}

function filters(source: Source, filter: RevenueFilter): SQL[] {
  const { table } = source;
  return [
    ...source.where,
    ...(filter.streams ? [inArray(table.stream, filter.streams)] : []),
    ...(filter.nodes && source.node ? [inArray(source.node, [...filter.nodes])] : []),
  ];
}

const totals = (source: Source) => ({
  amount: sql<string>`sum(${source.table.amount})`,
  usdValue: sql<string>`sum(${source.table.usdValue})`,
  payoutCount: source.count,
});

const toTotals = (row: { amount: string | null; usdValue: string | null; payoutCount: string | null }): RevenueTotals => ({
  amount: BigInt(row.amount ?? 0),
  usdValue: BigInt(row.usdValue ?? 0),
  payoutCount: Number(row.payoutCount ?? 0),
});

const ZERO: RevenueTotals = { amount: 0n, usdValue: 0n, payoutCount: 0 };
const add = (a: RevenueTotals, b: RevenueTotals): RevenueTotals => ({
  amount: a.amount + b.amount,
  usdValue: a.usdValue + b.usdValue,
  payoutCount: a.payoutCount + b.payoutCount,
});

/**
 * Revenue series in `spec`'s buckets, zero-filled with running totals. With `filter.nodes`, one
 * series per node (in that order), in one statement; otherwise one series.
 */
export async function revenueSeries(context: ApiContext, spec: SeriesSpec, filter: RevenueFilter): Promise<RevenuePoint[][]> {
  const buckets = seriesBuckets(spec, context.config.API_MAX_SERIES_POINTS);
  const groups = filter.nodes ?? [""];
  context.spendSeriesPoints(buckets.count * groups.length);
  if (buckets.count === 0) return groups.map(() => []);
  const source = sourceFor(filter, buckets.granularity);
  const bucket = bucketOf(source.time, buckets);
  const byNode = filter.nodes && source.node ? [source.node] : [];
  const rows = await context.db
    .select({ bucket, stream: source.table.stream, node: byNode[0] ?? sql<string>`''`, ...totals(source) })
    .from(source.table)
    .where(and(...filters(source, filter), withinRange(source.time, buckets.origin, buckets.end)))
    .groupBy(bucket, source.table.stream, ...byNode);
  const streams = filter.streams ?? revenueStream.enumValues;
  return groups.map((group) => {
    const cells = new Map<string, RevenueTotals>();
    for (const row of rows) if (String(row.node) === group) cells.set(`${Number(row.bucket)}:${row.stream}`, toTotals(row));
    let cumulative = ZERO;
    return bucketStarts(buckets).map((start) => {
      const byStream: StreamRevenue[] = streams.map((stream) => ({ stream, ...(cells.get(`${start}:${stream}`) ?? ZERO) }));
      const point = byStream.reduce<RevenueTotals>(add, ZERO);
      cumulative = add(cumulative, point);
      return { bucketStart: start, ...point, cumulativeAmount: cumulative.amount, cumulativeUsdValue: cumulative.usdValue, byStream };
    });
  });
}

/** The coarsest bucket table whose boundaries include both bounds, else the payouts. */
function summaryGranularity(from: number | null, to: number | null): "HOUR" | "DAY" | "PAYOUT" {
  const aligned = (size: number) => [from, to].every((bound) => bound === null || bound % size === 0);
  if (aligned(DAY)) return "DAY";
  return aligned(HOUR) ? "HOUR" : "PAYOUT";
}

export async function revenueSummary(context: ApiContext, from: number | null, to: number | null): Promise<RevenueSummary> {
  const source = sourceFor({}, summaryGranularity(from, to));
  const rows = await context.db
    .select({ stream: source.table.stream, ...totals(source) })
    .from(source.table)
    .where(and(...source.where, withinRange(source.time, from, to)))
    .groupBy(source.table.stream);
  const byStream = revenueStream.enumValues.map((stream) => {
    const row = rows.find((candidate) => candidate.stream === stream);
    return { stream, ...(row ? toTotals(row) : ZERO) };
  });
  return { from, to, total: byStream.reduce<RevenueTotals>(add, ZERO), byStream };
}

/** The nodes that earned most (NODE_PAYMENT) in the range. */
export async function topEarningNodes(context: ApiContext, from: number | null, to: number | null, limit: number): Promise<NodeRevenue[]> {
  const source = sourceFor({ nodes: [] }, summaryGranularity(from, to));
  const node = source.node!;
  const sums = totals(source);
  const rows = await context.db
    .select({ node, ...sums })
    .from(source.table)
    .where(and(...source.where, isNotNull(node), eq(source.table.stream, "NODE_PAYMENT"), withinRange(source.time, from, to)))
    .groupBy(node)
    .orderBy(desc(sums.amount), node)
    .limit(limit);
  return rows.map((row) => ({ node: row.node as Address, ...toTotals(row) }));
}
