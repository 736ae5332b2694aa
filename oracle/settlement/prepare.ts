/**
 * Turns a received job into a sendable one, or decides it needs no transaction: reads the task
 * and node on chain, prices the work, and simulates the call. A task already in the state the
 * job asks for is done (a duplicate, or our own settlement); a deterministic revert is dead,
 * with its reason, before any nonce is spent.
 */
import { zeroAddress, type Address, type PublicClient } from "viem";
import { inferencePaymentAbi } from "../../abis";
import { BaseError } from "../../common/errors";
import { TASK_STATUSES } from "../../domain/tasks";
import type { DeadReason, Job } from "../message";
import { performanceScore, priceTask, type ModelTable } from "../pricing";
import { classifyError, revertReason } from "../txm/classify";
import { callOf } from "./calls";
import type { JobRecord } from "./jobs";

export type Prepared =
  | { outcome: "ready"; actualCost?: bigint; score?: number }
  | { outcome: "done" }
  | ({ outcome: "dead" } & DeadReason);

/** Prepares one job; see `createPreparer`'s `forPass`. */
export type PrepareJob = (record: JobRecord) => Promise<Prepared>;

export class MisconfiguredError extends BaseError {
  override name = "MisconfiguredError";
}

export function createPreparer(parameters: { publicClient: PublicClient; contract: Address; from: Address; models: ModelTable }) {
  const { publicClient, contract, from } = parameters;
  const readTask = (taskId: `0x${string}`) =>
    publicClient.readContract({ address: contract, abi: inferencePaymentAbi, functionName: "tasks", args: [taskId] });
  const readNode = (node: Address) => publicClient.readContract({ address: contract, abi: inferencePaymentAbi, functionName: "nodes", args: [node] });
  type NodeInfo = Awaited<ReturnType<typeof readNode>>;

  async function check(job: Job, readNode: (node: Address) => Promise<NodeInfo>): Promise<Prepared> {
    if (job.operation === "registerNode") {
      const [owner, , , , active] = await readNode(job.node);
      if (active) {
        return owner.toLowerCase() === job.owner
          ? { outcome: "done" }
          : { outcome: "dead", code: "node_already_active", reason: `node ${job.node} is already registered to ${owner}` };
      }
      return { outcome: "ready" };
    }
    if (job.operation === "updateNodeRating") {
      const [owner, , , reliability, active] = await readNode(job.node);
      if (owner === zeroAddress) return { outcome: "dead", code: "node_not_registered", reason: `node ${job.node} is not registered` };
      if (!active) return { outcome: "dead", code: "node_inactive", reason: `node ${job.node} is deactivated` };
      return reliability === BigInt(job.rating) ? { outcome: "done" } : { outcome: "ready" };
    }

    const [[, taskNode, escrow, , statusIndex], [owner, , , reliability, active]] = await Promise.all([readTask(job.taskId), readNode(job.node)]);
    const status = TASK_STATUSES[statusIndex] ?? "NONE";
    if (status === "NONE") return { outcome: "dead", code: "task_not_found", reason: `task ${job.taskId} does not exist on chain` };
    if (status === "COMPLETED" || status === "CANCELLED") {
      // Settled the way this job asks, by this node: ours, or an identical report already paid.
      const wanted = job.operation === "completeTask" ? "COMPLETED" : "CANCELLED";
      if (status === wanted && taskNode.toLowerCase() === job.node) return { outcome: "done" };
      return {
        outcome: "dead",
        code: status === "COMPLETED" ? "task_already_settled" : "task_cancelled",
        reason: `task ${job.taskId} is already ${status.toLowerCase()} on chain (node ${taskNode})`,
      };
    }
    if (owner === zeroAddress) return { outcome: "dead", code: "node_not_registered", reason: `node ${job.node} is not registered` };
    if (job.operation === "failTask") return { outcome: "ready" };
    if (!active) return { outcome: "dead", code: "node_inactive", reason: `node ${job.node} is deactivated` };
    const model = parameters.models[job.model];
    if (!model) return { outcome: "dead", code: "unknown_model", reason: `model ${job.model} is not in the price table` };
    return {
      outcome: "ready",
      actualCost: priceTask({ model, tokensGenerated: job.tokensGenerated, escrow }),
      score: performanceScore({ reliability, metrics: job.metrics }),
    };
  }

  async function prepare(record: JobRecord, readNode: (node: Address) => Promise<NodeInfo>): Promise<Prepared> {
    const checked = await check(record.job, readNode);
    if (checked.outcome !== "ready") return checked;
    // A task result's first time: the checks above cover every revert of its call, and the
    // transaction manager's estimate simulates the whole call before a nonce is spent. A job
    // that came back (its call dropped or reverted) is simulated alone, to find the one at fault.
    if ("taskId" in record.job && record.submissions === 0) return checked;
    const call = callOf(record.job, checked);
    try {
      await publicClient.simulateContract({ account: from, address: contract, abi: inferencePaymentAbi, ...call } as never);
    } catch (error) {
      if (classifyError(error) !== "revert") throw error;
      const reason = revertReason(error);
      if (reason.startsWith("AccessControlUnauthorizedAccount")) {
        // The oracle's key lacks ORACLE_ROLE: no message is at fault, so none is dead-lettered.
        throw new MisconfiguredError(`The oracle key ${from} is not allowed to call ${call.functionName}`, { details: reason, retryable: true });
      }
      return { outcome: "dead", code: "revert", reason: `${call.functionName} would revert: ${reason}` };
    }
    return checked;
  }

  /**
   * A preparer for one pass: a node read once serves every job of the pass (many results name
   * the same few nodes); the next pass reads afresh.
   */
  return function forPass(): PrepareJob {
    const nodes = new Map<Address, Promise<NodeInfo>>();
    const readNodeOnce = (node: Address) => {
      if (!nodes.has(node)) nodes.set(node, readNode(node).catch((error: unknown) => (nodes.delete(node), Promise.reject(error))));
      return nodes.get(node)!;
    };
    return (record: JobRecord) => prepare(record, readNodeOnce);
  };
}
