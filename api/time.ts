/** Time ranges and series buckets as the API takes them, in unix seconds (UTC); bucket sizes and alignment are in domain/buckets.ts. */
import { and, gte, lt, sql, type SQL } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import { bucketStart, DAY, HOUR, INTERVAL_SECONDS, type Interval } from "../domain/buckets";
import { ApiError } from "./errors";

export function assertRange(from: number | null | undefined, to: number | null | undefined) {
  if (from != null && to != null && from > to) {
    throw new ApiError("INVALID_RANGE", `from (${new Date(from * 1000).toISOString()}) is after to (${new Date(to * 1000).toISOString()})`);
  }
}

/** `column` (unix seconds) in [from, to), an end not given left open; refuses from after to. */
export function withinRange(column: PgColumn, from: number | null | undefined, to: number | null | undefined): SQL | undefined {
  assertRange(from, to);
  return and(from != null ? gte(column, from) : undefined, to != null ? lt(column, to) : undefined);
}

export type SeriesSpec = { interval: Interval; from: number; to: number; utcOffsetHours?: number | null };

/**
 * A series' buckets: `count` buckets of `size` seconds from `origin` (the bucket holding `from`,
 * aligned down) up to `end`, the last one starting before `to`; `granularity` is the stored
 * bucket table that nests in them (day buckets nest in UTC days and weeks; a shifted day or
 * week is assembled from hours).
 */
export type SeriesBuckets = { origin: number; size: number; count: number; end: number; granularity: "HOUR" | "DAY" };

/** The buckets of `spec`, refused with INVALID_RANGE when the offset is not a whole hour in −12..14 or there are more than `maxPoints`. */
export function seriesBuckets(spec: SeriesSpec, maxPoints: number): SeriesBuckets {
  const offsetHours = spec.utcOffsetHours ?? 0;
  if (!Number.isInteger(offsetHours) || offsetHours < -12 || offsetHours > 14) {
    throw new ApiError("INVALID_RANGE", `utcOffsetHours must be a whole number of hours from -12 to 14, got ${offsetHours}`);
  }
  assertRange(spec.from, spec.to);
  const offset = offsetHours * HOUR;
  const size = INTERVAL_SECONDS[spec.interval];
  const origin = bucketStart(spec.from, spec.interval, offset);
  const count = spec.from === spec.to ? 0 : Math.ceil((spec.to - origin) / size);
  if (count > maxPoints) {
    throw new ApiError("INVALID_RANGE", `The range holds ${count} ${spec.interval} buckets; at most ${maxPoints} are served per request`);
  }
  const granularity = spec.interval === "HOUR" || offset % DAY !== 0 ? "HOUR" : "DAY";
  return { origin, size, count, end: origin + count * size, granularity };
}

/** The start of the series bucket holding `time` (a column at or after `origin`), in SQL. */
export function bucketOf(time: PgColumn, { origin, size }: SeriesBuckets): SQL<string> {
  // Literals, not parameters: GROUP BY must repeat the selected expression exactly.
  return sql<string>`${sql.raw(String(origin))} + ((${time} - ${sql.raw(String(origin))}) / ${sql.raw(String(size))}) * ${sql.raw(String(size))}`;
}

/** Every bucket's start, in order. */
export function bucketStarts({ origin, size, count }: SeriesBuckets): number[] {
  return Array.from({ length: count }, (_, index) => origin + index * size);
}
