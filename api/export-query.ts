/**
 * What an export request asks for, read from its path and query string: the table, the format,
 * the block to read at, and the same filters as the GraphQL list of that table, each validated
 * with the API's own wire parsers (api/wire.ts), so a bad address is INVALID_ADDRESS here as there.
 */
import { z } from "zod";
import { bucketInterval, revenueStream, taskStatus } from "../schema";
import { ApiError } from "./errors";
import { assertRange } from "./time";
import { parseAddress, parseDateTime } from "./wire";

const EXPORT_FORMATS = ["csv", "ndjson"] as const;
type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** How a filter narrows the rows: its table property equals the value, or is at least / below it. */
type Condition = { property: string; op: "eq" | "gte" | "lt" };
type FilterSpec = { value: z.ZodType; condition: Condition };

/** A wire parser as a zod transform: its ApiError becomes an issue carrying the error's code. */
function wire<T>(parse: (value: unknown) => T) {
  return z.string().transform((value, context) => {
    try {
      return parse(value);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      context.addIssue({ code: "custom", message: error.message, params: { code: error.code } });
      return z.NEVER;
    }
  });
}

const address = wire(parseAddress);
const dateTime = wire(parseDateTime);
const flag = z.enum(["true", "false"]).transform((value) => value === "true");
const percent = z.string().regex(/^\d{1,3}$/, "must be a whole number from 0 to 100").transform(Number).pipe(z.number().max(100));

const eq = (property: string, value: z.ZodType): FilterSpec => ({ value, condition: { property, op: "eq" } });
const since = (property: string): FilterSpec => ({ value: dateTime, condition: { property, op: "gte" } });
const before = (property: string): FilterSpec => ({ value: dateTime, condition: { property, op: "lt" } });

/** Each table's filters, named as its GraphQL list's filter fields (`nodes(filter:)`, `payouts(filter:)`, …). */
const EXPORT_FILTERS = {
  payouts: {
    recipient: eq("recipient", address),
    node: eq("node", address),
    stream: eq("stream", z.enum(revenueStream.enumValues)),
    from: since("timestamp"),
    to: before("timestamp"),
  },
  "revenue-buckets": {
    interval: eq("interval", z.enum(bucketInterval.enumValues)),
    stream: eq("stream", z.enum(revenueStream.enumValues)),
    /** Reads the per-node buckets (node_revenue_bucket) instead of the totals. */
    node: eq("node", address),
    from: since("bucketStart"),
    to: before("bucketStart"),
  },
  tasks: {
    user: eq("user", address),
    node: eq("node", address),
    status: eq("status", z.enum(taskStatus.enumValues)),
    createdFrom: since("createdAt"),
    createdTo: before("createdAt"),
  },
  stakers: {},
  nodes: {
    active: eq("active", flag),
    owner: eq("owner", address),
    minReliability: { value: percent, condition: { property: "reliability", op: "gte" } },
  },
} satisfies Record<string, Record<string, FilterSpec>>;

export type ExportTable = keyof typeof EXPORT_FILTERS;
export type ExportFilter = { condition: Condition; value: unknown; name: string };
export type ExportRequest = { table: ExportTable; format: ExportFormat; block: number | undefined; filters: ExportFilter[] };
export type ExportQueryError = { status: 400 | 404; code: string; message: string };

const FILE = /^([a-z-]+)\.([a-z]+)$/;
const block = z.string().regex(/^\d{1,15}$/, "must be a block number (a non-negative integer)").transform(Number);
/** The time bounds of each table that must not cross. */
const RANGES: [string, string][] = [["from", "to"], ["createdFrom", "createdTo"]];

/** `file` is the path's last part (`payouts.csv`); `params` the query string. */
export function parseExportQuery(file: string, params: URLSearchParams): { request: ExportRequest } | { error: ExportQueryError } {
  const [, table, format] = FILE.exec(file) ?? [];
  if (!table || !Object.hasOwn(EXPORT_FILTERS, table) || !(EXPORT_FORMATS as readonly string[]).includes(format!)) {
    const known = Object.keys(EXPORT_FILTERS).flatMap((name) => EXPORT_FORMATS.map((extension) => `${name}.${extension}`));
    return { error: { status: 404, code: "EXPORT_NOT_FOUND", message: `No export named ${JSON.stringify(file.slice(0, 64))}; there are ${known.join(", ")}` } };
  }
  const specs: Record<string, FilterSpec> = EXPORT_FILTERS[table as ExportTable];
  const names = [...params.keys()];
  const repeated = names.find((name, index) => names.indexOf(name) !== index);
  if (repeated) return { error: { status: 400, code: "BAD_USER_INPUT", message: `Parameter ${repeated.slice(0, 64)} is given more than once` } };
  const shape = Object.fromEntries([["block", block], ...Object.entries(specs).map(([name, spec]) => [name, spec.value])].map(([name, value]) => [name, (value as z.ZodType).optional()]));
  const parsed = z
    .object(shape)
    .strict()
    .safeParse(Object.fromEntries(params));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const code = (issue as { params?: { code?: string } }).params?.code ?? "BAD_USER_INPUT";
    const message =
      issue.code === "unrecognized_keys"
        ? `Unknown parameter ${issue.keys.map((key) => key.slice(0, 64)).join(", ")}; this export takes ${["block", ...Object.keys(specs)].join(", ")}`
        : `Parameter ${issue.path.join(".")}: ${issue.message}`;
    return { error: { status: 400, code, message } };
  }
  const values = parsed.data as Record<string, unknown>;
  try {
    for (const [from, to] of RANGES) assertRange(values[from] as number | undefined, values[to] as number | undefined);
  } catch (error) {
    if (error instanceof ApiError) return { error: { status: 400, code: error.code, message: error.message } };
    throw error;
  }
  const filters = Object.entries(specs)
    .filter(([name]) => values[name] !== undefined)
    .map(([name, spec]) => ({ name, condition: spec.condition, value: values[name] }));
  return { request: { table: table as ExportTable, format: format as ExportFormat, block: values.block as number | undefined, filters } };
}
