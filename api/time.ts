/** Time ranges and bucket alignment, in unix seconds (UTC). */
import { ApiError } from "./errors";

export const HOUR = 3600;
export const DAY = 86_400;
export const WEEK = 7 * DAY;
/** 1970-01-05, the first Monday after the epoch: weeks start on Monday, as in ISO-8601. */
const FIRST_MONDAY = 4 * DAY;

export type Interval = "HOUR" | "DAY" | "WEEK";
export const INTERVAL_SECONDS: Record<Interval, number> = { HOUR, DAY, WEEK };

export function assertRange(from: number | null | undefined, to: number | null | undefined) {
  if (from != null && to != null && from > to) {
    throw new ApiError("INVALID_RANGE", `from (${new Date(from * 1000).toISOString()}) is after to (${new Date(to * 1000).toISOString()})`);
  }
}

/** The start of the bucket holding `time`, for buckets aligned to local midnight / Monday at `offsetSeconds` east of UTC. */
export function bucketStart(time: number, interval: Interval, offsetSeconds: number): number {
  const size = INTERVAL_SECONDS[interval];
  const origin = (interval === "WEEK" ? FIRST_MONDAY : 0) - (interval === "HOUR" ? 0 : offsetSeconds);
  return Math.floor((time - origin) / size) * size + origin;
}
