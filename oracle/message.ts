/**
 * The scheduler's stream message (a public interface, documented in oracle/README.md) parsed
 * into a typed job, or into the reason it can never become one. Only the shape is checked here;
 * what needs the chain (task exists, node registered, …) is checked when the job is prepared.
 */
import { z } from "zod";
import { isAddress, type Address, type Hex } from "viem";
import type { ModelTable, NodeMetrics } from "./pricing";

export type TaskJob = {
  operation: "completeTask" | "failTask";
  key: Hex;
  taskId: Hex;
  node: Address;
  model: string;
  tokensGenerated: bigint;
  metrics: NodeMetrics;
  reportedAt: number;
};
type RegisterNodeJob = { operation: "registerNode"; key: string; node: Address; owner: Address };
type RateNodeJob = { operation: "updateNodeRating"; key: string; node: Address; rating: number };
export type Job = TaskJob | RegisterNodeJob | RateNodeJob;

/** Why a message or job was dead-lettered: a stable class for metrics, and a sentence. */
export type DeadReason = { code: string; reason: string };
export type ParseResult = { ok: true; job: Job } | ({ ok: false } & DeadReason);

// Each check carries the reason class in its params so a failure maps to one metric label.
const fail = (code: string, message: string) => ({ message, params: { code } });

const required = (field: string) =>
  z.string({ error: (issue) => (issue.input === undefined ? `${field} is missing` : `${field} must be a string`) });
const decimal = /^-?\d+(\.\d+)?$/;
const numberIn = (field: string, min: number, max: number) =>
  required(field)
    .refine((value) => decimal.test(value), fail("bad_number", `${field} must be a decimal number`))
    .transform(Number)
    .refine((value) => value >= 0, fail("negative_number", `${field} must not be negative`))
    .refine((value) => value >= min && value <= max, fail(`${field}_out_of_range`, `${field} must be within ${min}..${max}`));
const address = (field: string) =>
  required(field)
    .refine((value) => isAddress(value, { strict: false }), fail("bad_address", `${field} must be a 0x-prefixed 20-byte hex address`))
    .transform((value) => value.toLowerCase() as Address);

const taskSchema = (models: ModelTable) =>
  z.object({
    taskId: required("taskId")
      .refine((value) => /^0x[0-9a-fA-F]{64}$/.test(value), fail("bad_task_id", "taskId must be 0x followed by 64 hex digits"))
      .transform((value) => value.toLowerCase() as Hex),
    node: address("node"),
    model: required("model").refine((value) => Object.hasOwn(models, value), fail("unknown_model", "model is not in the price table")),
    tokensGenerated: required("tokensGenerated")
      .refine((value) => !value.startsWith("-"), fail("negative_number", "tokensGenerated must not be negative"))
      .refine((value) => /^\d{1,30}$/.test(value), fail("bad_integer", "tokensGenerated must be a whole number below 10^30"))
      .transform(BigInt),
    status: required("status").refine(
      (value): value is "completed" | "failed" => value === "completed" || value === "failed",
      fail("bad_status", "status must be completed or failed"),
    ),
    uptime: numberIn("uptime", 0, 100),
    tokensPerSecond: numberIn("tokensPerSecond", 0, 1e9),
    expectedTokensPerSecond: numberIn("expectedTokensPerSecond", Number.MIN_VALUE, 1e9),
    accuracy: numberIn("accuracy", 0, 1),
    reportedAt: required("reportedAt")
      .refine((value) => /^\d{1,15}$/.test(value), fail("bad_timestamp", "reportedAt must be milliseconds since the epoch"))
      .transform(Number)
      // A report from the future is a clock or forgery problem, not a result to pay for.
      .refine((value) => value <= Date.now() + 5 * 60_000, fail("bad_timestamp", "reportedAt is in the future")),
  });

const registerSchema = z.object({ opId: required("opId").min(1), node: address("node"), owner: address("owner") });
const rateSchema = z.object({
  opId: required("opId").min(1),
  node: address("node"),
  rating: required("rating")
    .refine((value) => /^\d{1,3}$/.test(value) && Number(value) <= 100, fail("rating_out_of_range", "rating must be a whole number in 0..100"))
    .transform(Number),
});

function deadReason(error: z.ZodError): DeadReason {
  const issue = error.issues[0]!;
  const field = issue.path.join(".");
  const params = "params" in issue ? (issue.params as { code?: string } | undefined) : undefined;
  const code = params?.code ?? (issue.message.endsWith("is missing") ? "missing_field" : "bad_type");
  return { code, reason: issue.message.startsWith(field) ? issue.message : `${field}: ${issue.message}` };
}

export function parseMessage(fields: Record<string, string>, models: ModelTable): ParseResult {
  if (fields.op !== undefined) {
    if (fields.op === "registerNode") {
      const result = registerSchema.safeParse(fields);
      if (!result.success) return { ok: false, ...deadReason(result.error) };
      const { opId, node, owner } = result.data;
      return { ok: true, job: { operation: "registerNode", key: `registerNode:${opId}`, node, owner } };
    }
    if (fields.op === "updateNodeRating") {
      const result = rateSchema.safeParse(fields);
      if (!result.success) return { ok: false, ...deadReason(result.error) };
      const { opId, node, rating } = result.data;
      return { ok: true, job: { operation: "updateNodeRating", key: `updateNodeRating:${opId}`, node, rating } };
    }
    return { ok: false, code: "unknown_op", reason: `op ${JSON.stringify(fields.op)} is not registerNode or updateNodeRating` };
  }
  const result = taskSchema(models).safeParse(fields);
  if (!result.success) return { ok: false, ...deadReason(result.error) };
  const message = result.data;
  return {
    ok: true,
    job: {
      operation: message.status === "completed" ? "completeTask" : "failTask",
      key: message.taskId,
      taskId: message.taskId,
      node: message.node,
      model: message.model,
      tokensGenerated: message.tokensGenerated,
      metrics: {
        uptime: message.uptime,
        tokensPerSecond: message.tokensPerSecond,
        expectedTokensPerSecond: message.expectedTokensPerSecond,
        accuracy: message.accuracy,
      },
      reportedAt: message.reportedAt,
    },
  };
}

/** The job as stored (JSON, money as decimal strings) and back. */
export function encodeJob(job: Job): Record<string, unknown> {
  return "tokensGenerated" in job ? { ...job, tokensGenerated: job.tokensGenerated.toString() } : { ...job };
}

export function decodeJob(payload: Record<string, unknown>): Job {
  const job = payload as Job & { tokensGenerated?: string };
  return job.operation === "completeTask" || job.operation === "failTask"
    ? { ...(job as unknown as TaskJob), tokensGenerated: BigInt(job.tokensGenerated as unknown as string) }
    : job;
}

/** The scheduler's fields for a task result: what the simulator writes and the tests forge. */
export type TaskResultFields = {
  taskId: string;
  node: string;
  model: string;
  tokensGenerated: string;
  status: string;
  uptime: string;
  tokensPerSecond: string;
  expectedTokensPerSecond: string;
  accuracy: string;
  reportedAt: string;
};
