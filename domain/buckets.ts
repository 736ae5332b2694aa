/** Revenue buckets: their sizes and alignment, in unix seconds (UTC). */

export const HOUR = 3600;
export const DAY = 86_400;
const WEEK = 7 * DAY;
/** 1970-01-05, the first Monday after the epoch: weeks start on Monday, as in ISO-8601. */
const FIRST_MONDAY = 4 * DAY;

export type Interval = "HOUR" | "DAY" | "WEEK";
export const INTERVAL_SECONDS: Record<Interval, number> = { HOUR, DAY, WEEK };
/** The intervals the indexer stores buckets for (UTC-aligned); WEEK and offset days are summed from them when read. */
export const STORED_INTERVALS = ["HOUR", "DAY"] as const satisfies readonly Interval[];

/** The start of the bucket holding `time`, for buckets aligned to local midnight / Monday at `offsetSeconds` east of UTC. */
export function bucketStart(time: number, interval: Interval, offsetSeconds = 0): number {
  const size = INTERVAL_SECONDS[interval];
  const origin = (interval === "WEEK" ? FIRST_MONDAY : 0) - (interval === "HOUR" ? 0 : offsetSeconds);
  return Math.floor((time - origin) / size) * size + origin;
}
