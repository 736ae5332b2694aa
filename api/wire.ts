/**
 * The API's wire formats as plain parsers: money as decimal strings (never a JSON number, which
 * loses precision above 2^53), addresses in any case, times as ISO-8601 with a zone. The GraphQL
 * scalars (api/types/scalars.ts) and the exports' query strings (api/export-query.ts) both use
 * them, so a value means the same, with the same error code, wherever it is sent.
 */
import { isAddress, isHex, type Address, type Hex } from "viem";
import { ApiError, clip } from "./errors";

const DECIMAL = /^-?\d+$/;

/** The client's value as a message quotes it: a short prefix at most. */
const quote = (value: unknown) => clip(JSON.stringify(value) ?? String(value));
const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

export function parseBigInt(value: unknown): bigint {
  if (typeof value !== "string" || !DECIMAL.test(value)) {
    throw new ApiError("INVALID_BIGINT", `BigInt must be a decimal integer string, got ${quote(value)}`);
  }
  return BigInt(value);
}

export function parseAddress(value: unknown): Address {
  if (typeof value !== "string" || !isAddress(value, { strict: false })) {
    throw new ApiError("INVALID_ADDRESS", `Address must be 0x followed by 40 hex digits, got ${quote(value)}`);
  }
  return value.toLowerCase() as Address;
}

export function parseBytes32(value: unknown): Hex {
  if (typeof value !== "string" || !isHex(value, { strict: true }) || value.length !== 66) {
    throw new ApiError("INVALID_BYTES32", `Bytes32 must be 0x followed by 64 hex digits, got ${quote(value)}`);
  }
  return value.toLowerCase() as Hex;
}

/** Unix seconds. */
export function parseDateTime(value: unknown): number {
  const millis = typeof value === "string" && ISO_DATETIME.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(millis)) {
    throw new ApiError("INVALID_DATETIME", `DateTime must be ISO-8601 with a zone (e.g. 2025-01-31T00:00:00Z), got ${quote(value)}`);
  }
  return Math.floor(millis / 1000);
}

/** Unix seconds as the API writes them: ISO-8601 in UTC. */
export function formatDateTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}
