/**
 * What the transaction manager's outcomes mean for jobs: a receipt confirms the jobs whose task
 * it settled (a batch skips tasks no longer open; a revert settles nothing) and sends the
 * others back to be prepared, which finds out whether they are done or dead.
 */
import { parseEventLogs, type TransactionReceipt } from "viem";
import { inferencePaymentAbi } from "../../abis";
import type { Logger } from "pino";
import type { OracleMetrics } from "../metrics";
import type { OutcomeHandler } from "../txm/types";
import type { JobRecord, JobStore } from "./jobs";

/** The ids of the jobs a receipt actually did. */
export function settledJobIds(jobs: readonly JobRecord[], receipt: Pick<TransactionReceipt, "status" | "logs">): number[] {
  if (receipt.status !== "success") return [];
  const tasks = new Set<string>();
  for (const log of parseEventLogs({ abi: inferencePaymentAbi, logs: receipt.logs })) {
    if (log.eventName === "TaskCompleted" || log.eventName === "TaskCancelled") tasks.add(log.args.taskId.toLowerCase());
  }
  // A node operation has no task id; its success is the receipt's.
  return jobs.filter((record) => !("taskId" in record.job) || tasks.has(record.job.taskId)).map((record) => record.id);
}

export function createOutcomeHandler(parameters: { jobs: JobStore; metrics: OracleMetrics; logger: Logger }): OutcomeHandler {
  const { jobs, metrics, logger } = parameters;
  return async (outcome, run) => {
    const key = outcome.idempotencyKey;
    if (outcome.type === "mined") {
      const { confirmed, requeued } = await jobs.callMined(run, key, settledJobIds(await jobs.jobsOfCall(run, key), outcome.receipt));
      for (const record of confirmed) metrics.settled.inc({ operation: record.job.operation });
      if (requeued.length > 0) logger.info({ msg: "jobs the call did not settle go back to be prepared", call_key: key, requeued: requeued.length });
    } else if (outcome.type === "reorged") {
      await jobs.callReorged(run, key);
    } else {
      const requeued = await jobs.callDropped(run, key);
      logger.warn({ msg: "call dropped; its jobs go back to be prepared", call_key: key, reason: outcome.reason, detail: outcome.detail, requeued: requeued.length });
    }
  };
}
