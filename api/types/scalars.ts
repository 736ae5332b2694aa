/**
 * Wire formats: money as decimal strings (never a JSON number, which loses precision above
 * 2^53), addresses in any case in and lowercase out, times as ISO-8601 UTC.
 */
import { Kind, type ValueNode } from "graphql";
import { isAddress, isHex, type Address, type Hex } from "viem";
import { builder } from "../builder";
import { ApiError, clip } from "../errors";

const DECIMAL = /^-?\d+$/;

/** The client's value as a message quotes it: a short prefix at most. */
const quote = (value: unknown) => clip(JSON.stringify(value) ?? String(value));
const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

function parseBigInt(value: unknown): bigint {
  if (typeof value !== "string" || !DECIMAL.test(value)) {
    throw new ApiError("INVALID_BIGINT", `BigInt must be a decimal integer string, got ${quote(value)}`);
  }
  return BigInt(value);
}

function parseAddress(value: unknown): Address {
  if (typeof value !== "string" || !isAddress(value, { strict: false })) {
    throw new ApiError("INVALID_ADDRESS", `Address must be 0x followed by 40 hex digits, got ${quote(value)}`);
  }
  return value.toLowerCase() as Address;
}

function parseBytes32(value: unknown): Hex {
  if (typeof value !== "string" || !isHex(value, { strict: true }) || value.length !== 66) {
    throw new ApiError("INVALID_BYTES32", `Bytes32 must be 0x followed by 64 hex digits, got ${quote(value)}`);
  }
  return value.toLowerCase() as Hex;
}

function parseDateTime(value: unknown): number {
  const millis = typeof value === "string" && ISO_DATETIME.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(millis)) {
    throw new ApiError("INVALID_DATETIME", `DateTime must be ISO-8601 with a zone (e.g. 2025-01-31T00:00:00Z), got ${quote(value)}`);
  }
  return Math.floor(millis / 1000);
}

/** Only string literals are accepted, so that a literal and a variable parse the same way. */
function fromStringLiteral<T>(parse: (value: unknown) => T) {
  return (node: ValueNode) => parse(node.kind === Kind.STRING ? node.value : `<${node.kind}>`);
}

builder.scalarType("BigInt", {
  description: "An integer of any size (uint256 amounts in wei), as a decimal string.",
  serialize: (value) => value.toString(),
  parseValue: parseBigInt,
  // An integer literal is exact in the query text, unlike a JSON number in variables.
  parseLiteral: (node) => parseBigInt(node.kind === Kind.INT || node.kind === Kind.STRING ? node.value : `<${node.kind}>`),
});

builder.scalarType("Address", {
  description: "A 20-byte address: 0x and 40 hex digits, any case in, lowercase out.",
  serialize: (value) => value.toLowerCase(),
  parseValue: parseAddress,
  parseLiteral: fromStringLiteral(parseAddress),
});

builder.scalarType("Bytes32", {
  description: "32 bytes as 0x and 64 hex digits (task ids, transaction hashes), lowercase out.",
  serialize: (value) => value.toLowerCase(),
  parseValue: parseBytes32,
  parseLiteral: fromStringLiteral(parseBytes32),
});

builder.scalarType("DateTime", {
  description: "An instant as ISO-8601 in UTC, e.g. 2025-01-31T12:00:00.000Z.",
  serialize: (seconds) => new Date(seconds * 1000).toISOString(),
  parseValue: parseDateTime,
  parseLiteral: fromStringLiteral(parseDateTime),
});
