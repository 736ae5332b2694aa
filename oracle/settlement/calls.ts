/**
 * Jobs into contract calls: the function each operation calls, single or batched, and how
 * ready jobs are grouped into calls (a pure plan, tested as a table).
 */
import { encodeFunctionData, type Hex } from "viem";
import { inferencePaymentAbi } from "../../abis";
import type { Job, TaskJob } from "../message";
import type { JobRecord } from "./jobs";

type Priced = { actualCost?: bigint; score?: number };

/** The contract functions the oracle calls: one per job operation, and the two batch forms. */
type CallOperation = Job["operation"] | "completeTasks" | "failTasks";

export type PlannedCall = { operation: CallOperation; jobs: JobRecord[] };

const BATCH_OF = { completeTask: "completeTasks", failTask: "failTasks" } as const;

// Node operations first: a settlement for a node being registered must not overtake it.
const ORDER: readonly Job["operation"][] = ["registerNode", "updateNodeRating", "failTask", "completeTask"];

/** The single call for one job, with the price and score frozen when it was prepared. */
export function callOf(job: Job, priced: Priced) {
  switch (job.operation) {
    case "completeTask":
      return { functionName: "completeTask", args: [job.taskId, job.node, priced.actualCost!, BigInt(priced.score!)] } as const;
    case "failTask":
      return { functionName: "failTask", args: [job.taskId, job.node] } as const;
    case "registerNode":
      return { functionName: "registerNode", args: [job.node, job.owner] } as const;
    case "updateNodeRating":
      return { functionName: "updateNodeRating", args: [job.node, BigInt(job.rating)] } as const;
  }
}

/**
 * Groups ready jobs into at most `room` calls, in ORDER: a backlog of `batchThreshold` or more of
 * a batchable operation goes out in batches of up to `batchSize`, a smaller one as single calls.
 */
export function planCalls(ready: readonly JobRecord[], { room, batchSize, batchThreshold }: { room: number; batchSize: number; batchThreshold: number }): PlannedCall[] {
  const planned: PlannedCall[] = [];
  for (const operation of ORDER) {
    const jobs = ready.filter((record) => record.job.operation === operation);
    const batch = operation in BATCH_OF && jobs.length >= batchThreshold ? BATCH_OF[operation as keyof typeof BATCH_OF] : undefined;
    const size = batch ? batchSize : 1;
    for (let i = 0; i < jobs.length && planned.length < room; i += size) {
      const chunk = jobs.slice(i, i + size);
      planned.push({ operation: batch && chunk.length > 1 ? batch : operation, jobs: chunk });
    }
  }
  return planned;
}

/** The calldata of a planned call. */
export function encodeCall(call: PlannedCall): Hex {
  if (call.operation === "completeTasks") {
    return encodeFunctionData({
      abi: inferencePaymentAbi,
      functionName: "completeTasks",
      args: [
        call.jobs.map((record) => {
          const job = record.job as TaskJob;
          return { taskId: job.taskId, node: job.node, actualCost: record.actualCost!, performanceScore: BigInt(record.score!) };
        }),
      ],
    });
  }
  if (call.operation === "failTasks") {
    return encodeFunctionData({
      abi: inferencePaymentAbi,
      functionName: "failTasks",
      args: [call.jobs.map((record) => ({ taskId: (record.job as TaskJob).taskId, node: (record.job as TaskJob).node }))],
    });
  }
  const [record] = call.jobs;
  return encodeFunctionData({ abi: inferencePaymentAbi, ...callOf(record!.job, record!) } as never);
}

/** The idempotency key of a call: its first job and that job's submission count name it uniquely. */
export const callKeyOf = (call: PlannedCall) => `${call.operation}:${call.jobs[0]!.id}:${call.jobs[0]!.submissions + 1}`;
