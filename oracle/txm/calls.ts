/** The contract call each kind of job becomes, single or batched. */
import { encodeFunctionData, type Hex } from "viem";
import { inferencePaymentAbi } from "../../abis";
import type { Job, TaskJob } from "../message";
import type { JobRecord } from "../store/jobStore";

type Priced = { actualCost?: bigint; score?: number };

export function callOf(job: Job, priced: Priced) {
  switch (job.kind) {
    case "settle":
      return {
        functionName: "completeTask",
        args: [job.taskId, job.node, priced.actualCost!, BigInt(priced.score!)],
      } as const;
    case "fail":
      return { functionName: "failTask", args: [job.taskId, job.node] } as const;
    case "register_node":
      return { functionName: "registerNode", args: [job.node, job.owner] } as const;
    case "rate_node":
      return { functionName: "updateNodeRating", args: [job.node, BigInt(job.rating)] } as const;
  }
}

export function encodeJobCall(record: JobRecord): Hex {
  return encodeFunctionData({ abi: inferencePaymentAbi, ...callOf(record.job, record) } as never);
}

/** One completeTasks call for many settlements: the contract skips any no longer open. */
export function encodeBatchCall(records: readonly JobRecord[]): Hex {
  return encodeFunctionData({
    abi: inferencePaymentAbi,
    functionName: "completeTasks",
    args: [
      records.map((record) => {
        const job = record.job as TaskJob;
        return { taskId: job.taskId, node: job.node, actualCost: record.actualCost!, performanceScore: BigInt(record.score!) };
      }),
    ],
  });
}
