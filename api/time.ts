/** Time ranges as the API takes them, in unix seconds (UTC); bucket sizes and alignment are in domain/buckets.ts. */
import { and, gte, lt, type SQL } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
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
