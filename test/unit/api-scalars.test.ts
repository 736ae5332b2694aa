/**
 * The API's wire formats on the real schema: each custom scalar's accepted and refused values
 * (as variables and as literals, with the error code a client sees), the range check, and the
 * staking overview's rate fields.
 */
import { graphql, GraphQLObjectType, GraphQLScalarType, parseValue as parseValueNode, type GraphQLResolveInfo } from "graphql";
import { describe, expect, it } from "vitest";
import { ApiError } from "../../api/errors";
import { buildSchema } from "../../api/schema";
import { assertRange } from "../../api/time";

const schema = buildSchema();
const scalar = (name: string) => schema.getType(name) as GraphQLScalarType;

/** What the scalar makes of a variable's value: the parsed value, or the error's code. */
function fromVariable(name: string, value: unknown): unknown {
  try {
    return scalar(name).parseValue(value);
  } catch (error) {
    if (error instanceof ApiError) return error.code;
    throw error;
  }
}

/** The same for a literal in the query text (GraphQL syntax, e.g. `"0xab"` or `12`). */
function fromLiteral(name: string, literal: string): unknown {
  try {
    return scalar(name).parseLiteral(parseValueNode(literal), undefined);
  } catch (error) {
    if (error instanceof ApiError) return error.code;
    throw error;
  }
}

const MIXED = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const LOWER = MIXED.toLowerCase();
const HASH = `0x${"Ab".repeat(32)}`;

describe("scalars", () => {
  it.each<[string, string, unknown, unknown]>([
    // [scalar, what, variable value, parsed or error code]
    ["Address", "checksummed, lowercased", MIXED, LOWER],
    ["Address", "lower case", LOWER, LOWER],
    ["Address", "upper-case hex digits, not a checksum, still accepted", `0x${LOWER.slice(2).toUpperCase()}`, LOWER],
    ["Address", "one digit short", LOWER.slice(0, -1), "INVALID_ADDRESS"],
    ["Address", "one byte too many", `${LOWER}00`, "INVALID_ADDRESS"],
    ["Address", "no 0x", LOWER.slice(2), "INVALID_ADDRESS"],
    ["Address", "not hex", `0x${"g".repeat(40)}`, "INVALID_ADDRESS"],
    ["Address", "32 bytes", HASH, "INVALID_ADDRESS"],
    ["Address", "a number", 1234, "INVALID_ADDRESS"],
    ["Address", "null inside a list", null, "INVALID_ADDRESS"],
    ["Bytes32", "mixed case, lowercased", HASH, HASH.toLowerCase()],
    ["Bytes32", "one digit short", HASH.slice(0, -1), "INVALID_BYTES32"],
    ["Bytes32", "one byte too many", `${HASH}00`, "INVALID_BYTES32"],
    ["Bytes32", "an address", LOWER, "INVALID_BYTES32"],
    ["Bytes32", "0x and nothing", "0x", "INVALID_BYTES32"],
    ["Bytes32", "not hex", `0x${"z".repeat(64)}`, "INVALID_BYTES32"],
    ["BigInt", "beyond 2^53, exact", "123456789012345678901234567890", 123456789012345678901234567890n],
    ["BigInt", "negative", "-5", -5n],
    ["BigInt", "zero", "0", 0n],
    ["BigInt", "a JSON number loses precision, so it is refused", 5, "INVALID_BIGINT"],
    ["BigInt", "a decimal fraction", "1.5", "INVALID_BIGINT"],
    ["BigInt", "exponent notation", "1e18", "INVALID_BIGINT"],
    ["BigInt", "hex", "0x10", "INVALID_BIGINT"],
    ["BigInt", "padded with spaces", " 1", "INVALID_BIGINT"],
    ["BigInt", "empty", "", "INVALID_BIGINT"],
    ["DateTime", "UTC, to unix seconds", "2025-01-31T00:00:00Z", 1_738_281_600],
    ["DateTime", "an offset", "2025-01-31T09:00:00+09:00", 1_738_281_600],
    ["DateTime", "milliseconds round down to the second", "2025-01-31T00:00:00.999Z", 1_738_281_600],
    ["DateTime", "no seconds", "2025-01-31T00:00Z", 1_738_281_600],
    ["DateTime", "before the epoch", "1969-12-31T23:59:59Z", -1],
    ["DateTime", "no zone: ambiguous, refused", "2025-01-31T00:00:00", "INVALID_DATETIME"],
    ["DateTime", "a date alone", "2025-01-31", "INVALID_DATETIME"],
    ["DateTime", "a 13th month", "2025-13-01T00:00:00Z", "INVALID_DATETIME"],
    ["DateTime", "unix seconds", 1_738_281_600, "INVALID_DATETIME"],
    ["DateTime", "unix seconds as text", "1738281600", "INVALID_DATETIME"],
  ])("%s: %s", (name, _what, value, expected) => {
    expect(fromVariable(name, value)).toEqual(expected);
  });

  it.each<[string, string, unknown]>([
    // [scalar, literal, parsed or error code]: literals parse exactly as variables do
    ["Address", `"${MIXED}"`, LOWER],
    ["Address", `"0x12"`, "INVALID_ADDRESS"],
    ["Address", "12", "INVALID_ADDRESS"],
    ["Bytes32", `"${HASH}"`, HASH.toLowerCase()],
    ["Bytes32", "[]", "INVALID_BYTES32"],
    ["DateTime", `"2025-01-31T00:00:00Z"`, 1_738_281_600],
    ["DateTime", "1738281600", "INVALID_DATETIME"],
    // An integer literal is exact in the query's text, unlike a JSON number.
    ["BigInt", "123456789012345678901234567890", 123456789012345678901234567890n],
    ["BigInt", `"42"`, 42n],
    ["BigInt", "1.5", "INVALID_BIGINT"],
    ["BigInt", "true", "INVALID_BIGINT"],
  ])("%s literal %s", (name, literal, expected) => {
    expect(fromLiteral(name, literal)).toEqual(expected);
  });

  it("serializes addresses and hashes lowercase, amounts as decimal strings, times as ISO-8601 UTC", () => {
    expect(scalar("Address").serialize(MIXED)).toBe(LOWER);
    expect(scalar("Bytes32").serialize(HASH)).toBe(HASH.toLowerCase());
    expect(scalar("BigInt").serialize(2n ** 255n)).toBe("57896044618658097711785492504343953926634992332820282019728792003956564819968");
    expect(scalar("DateTime").serialize(1_738_281_600)).toBe("2025-01-31T00:00:00.000Z");
  });

  it("quotes at most a prefix of a long refused value", () => {
    const huge = `0x${"f".repeat(10_000)}`;
    const message = (() => {
      try {
        scalar("Address").parseValue(huge);
      } catch (error) {
        return (error as Error).message;
      }
    })()!;
    expect(message).toContain("Address must be 0x followed by 40 hex digits");
    expect(message.length).toBeLessThan(200);
  });

  it.each([
    // [what, query, variables, error code]
    ["a bad address variable", `query($a: Address!) { account(address: $a) { address } }`, { a: "0x12" }, "INVALID_ADDRESS"],
    ["a bad address literal", `{ account(address: "0x12") { address } }`, {}, "INVALID_ADDRESS"],
    ["a bad hash literal", `{ task(id: "0xab") { id } }`, {}, "INVALID_BYTES32"],
    ["a bad time variable", `query($f: DateTime) { revenueSummary(from: $f) { from } }`, { f: "yesterday" }, "INVALID_DATETIME"],
  ])("reaches the client as extensions.code: %s", async (_what, source, variableValues, code) => {
    // Refused while the request is validated or its variables coerced: no resolver, so no context, runs.
    const result = await graphql({ schema, source, variableValues, contextValue: {} });
    expect(result.data).toBeUndefined();
    expect(result.errors?.map((error) => error.extensions.code)).toEqual([code]);
  });
});

describe("time ranges", () => {
  it.each<[string, number | null | undefined, number | null | undefined, string | undefined]>([
    ["from before to", 100, 200, undefined],
    ["an empty range (from = to)", 100, 100, undefined],
    ["open at the start", null, 100, undefined],
    ["open at the end", 100, undefined, undefined],
    ["open at both ends", undefined, null, undefined],
    ["from after to", 86_400, 0, "INVALID_RANGE"],
    ["by one second", 1, 0, "INVALID_RANGE"],
  ])("%s", (_what, from, to, code) => {
    let thrown: unknown;
    try {
      assertRange(from, to);
    } catch (error) {
      thrown = error;
    }
    expect((thrown as ApiError | undefined)?.code).toBe(code);
  });

  it("names both bounds in UTC", () => {
    expect(() => assertRange(86_400, 0)).toThrow("from (1970-01-02T00:00:00.000Z) is after to (1970-01-01T00:00:00.000Z)");
  });
});

describe("staking overview rates", () => {
  const fields = (schema.getType("StakingOverview") as GraphQLObjectType).getFields();
  const resolve = (field: "apr" | "apy" | "rewardRateBps", rewardRate: bigint) => fields[field]!.resolve!({ rewardRate }, {}, {}, {} as GraphQLResolveInfo);

  it.each([
    // [reward rate in basis points per year, APR, APY with daily restaking]
    [0n, 0, 0],
    [1n, 0.0001, 0.000_100_005],
    [500n, 0.05, 0.051_267_496],
    [10_000n, 1, 1.714_567_482],
  ])("%d bp", (rate, apr, apy) => {
    expect(resolve("rewardRateBps", rate)).toBe(Number(rate));
    expect(resolve("apr", rate)).toBeCloseTo(apr, 12);
    expect(resolve("apy", rate)).toBeCloseTo(apy, 8);
  });
});
