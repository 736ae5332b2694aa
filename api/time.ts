/** Time ranges as the API takes them, in unix seconds (UTC); bucket sizes and alignment are in domain/buckets.ts. */
import { ApiError } from "./errors";

export function assertRange(from: number | null | undefined, to: number | null | undefined) {
  if (from != null && to != null && from > to) {
    throw new ApiError("INVALID_RANGE", `from (${new Date(from * 1000).toISOString()}) is after to (${new Date(to * 1000).toISOString()})`);
  }
}
