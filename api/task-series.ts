/**
 * Tasks over time: how many were created in each bucket, and how those that left the CREATED
 * state in it ended (completed, failed by their node, or expired and taken back by their user).
 * A task counts once at creation and once at its outcome, each in the bucket of its own time.
 */
import { and, count, ne, sql } from "drizzle-orm";
import { task } from "../schema";
import type { ApiContext } from "./context";
import { bucketOf, bucketStarts, seriesBuckets, withinRange, type SeriesSpec } from "./time";

export type TaskPoint = { bucketStart: number; created: number; completed: number; failed: number; expired: number };
type Outcome = keyof Omit<TaskPoint, "bucketStart" | "created">;

export async function taskSeries(context: ApiContext, spec: SeriesSpec): Promise<TaskPoint[]> {
  const buckets = seriesBuckets(spec, context.config.API_MAX_SERIES_POINTS);
  context.spendSeriesPoints(buckets.count);
  if (buckets.count === 0) return [];
  const created = bucketOf(task.createdAt, buckets);
  const settled = bucketOf(task.settledAt, buckets);
  const outcome = sql<Outcome>`case when ${task.status} = 'COMPLETED' then 'completed' when ${task.failed} then 'failed' else 'expired' end`;
  const [createdRows, outcomeRows] = await Promise.all([
    context.db
      .select({ bucket: created, tasks: count() })
      .from(task)
      .where(withinRange(task.createdAt, buckets.origin, buckets.end))
      .groupBy(created),
    context.db
      .select({ bucket: settled, outcome, tasks: count() })
      .from(task)
      .where(and(ne(task.status, "CREATED"), withinRange(task.settledAt, buckets.origin, buckets.end)))
      .groupBy(settled, outcome),
  ]);
  const points = new Map(bucketStarts(buckets).map((start) => [start, { bucketStart: start, created: 0, completed: 0, failed: 0, expired: 0 }]));
  for (const row of createdRows) points.get(Number(row.bucket))!.created = row.tasks;
  for (const row of outcomeRows) points.get(Number(row.bucket))![row.outcome] = row.tasks;
  return [...points.values()];
}
