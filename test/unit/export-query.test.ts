/** The exports' query strings (api/export-query.ts): what each table takes, and each refusal's status and code. */
import { describe, expect, it } from "vitest";
import { parseExportQuery } from "../../api/export-query";

const parse = (file: string, query = "") => parseExportQuery(file, new URLSearchParams(query));
const refusal = (file: string, query = "") => {
  const result = parse(file, query);
  return "error" in result ? [result.error.status, result.error.code] : "accepted";
};

describe("export query strings", () => {
  it("reads the table, the format, the block and each filter in the API's own formats", () => {
    const address = "0xAbCdEf0000000000000000000000000000000001";
    expect(parse("payouts.csv", `recipient=${address}&stream=NODE_PAYMENT&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00%2B01:00&block=12`)).toEqual({
      request: {
        table: "payouts",
        format: "csv",
        block: 12,
        filters: [
          { name: "recipient", condition: { property: "recipient", op: "eq" }, value: address.toLowerCase() },
          { name: "stream", condition: { property: "stream", op: "eq" }, value: "NODE_PAYMENT" },
          { name: "from", condition: { property: "timestamp", op: "gte" }, value: 1_767_225_600 },
          { name: "to", condition: { property: "timestamp", op: "lt" }, value: 1_767_225_600 + 86_400 - 3_600 },
        ],
      },
    });
    expect(parse("nodes.ndjson", "active=false&minReliability=0")).toMatchObject({ request: { table: "nodes", format: "ndjson", block: undefined, filters: [{ value: false }, { value: 0 }] } });
    expect(parse("revenue-buckets.csv", "interval=DAY&node=0x0000000000000000000000000000000000000002")).toMatchObject({ request: { filters: [{ value: "DAY" }, { name: "node" }] } });
    expect(parse("stakers.csv")).toEqual({ request: { table: "stakers", format: "csv", block: undefined, filters: [] } });
  });

  it("refuses what it cannot read, with the GraphQL API's codes", () => {
    expect(refusal("payouts.csv", "recipient=0x12")).toEqual([400, "INVALID_ADDRESS"]);
    expect(refusal("tasks.csv", "createdFrom=2026-01-01")).toEqual([400, "INVALID_DATETIME"]);
    expect(refusal("tasks.csv", "createdFrom=2026-02-01T00:00:00Z&createdTo=2026-01-01T00:00:00Z")).toEqual([400, "INVALID_RANGE"]);
    expect(refusal("tasks.csv", "status=RUNNING")).toEqual([400, "BAD_USER_INPUT"]);
    expect(refusal("nodes.csv", "minReliability=101")).toEqual([400, "BAD_USER_INPUT"]);
    expect(refusal("nodes.csv", "active=yes")).toEqual([400, "BAD_USER_INPUT"]);
    expect(refusal("payouts.csv", "block=1.5")).toEqual([400, "BAD_USER_INPUT"]);
    expect(refusal("payouts.csv", "block=12&block=13")).toEqual([400, "BAD_USER_INPUT"]);
    expect(refusal("stakers.csv", "recipient=0x0000000000000000000000000000000000000001")).toEqual([400, "BAD_USER_INPUT"]);
    expect(refusal("payouts.json")).toEqual([404, "EXPORT_NOT_FOUND"]);
    expect(refusal("constructor.csv")).toEqual([404, "EXPORT_NOT_FOUND"]);
    expect(refusal("payouts")).toEqual([404, "EXPORT_NOT_FOUND"]);
  });

  it("names the parameters an export takes when given an unknown one, and clips what it quotes", () => {
    const result = parse("nodes.csv", `${"x".repeat(200)}=1`);
    expect("error" in result && result.error.message).toMatch(/^Unknown parameter x{64}; this export takes block, active, owner, minReliability$/);
  });
});
