/**
 * Task lifecycle: escrow at creation, then settlement (with its payouts) or cancellation
 * (with its refund). TaskCompleted carries the whole split, so no per-transfer matching is needed.
 */
import { ponder } from "ponder:registry";
import { node, task } from "ponder:schema";
import { zeroAddress } from "viem";
import { lower, positionOf, type ChainPosition } from "./context";
import { updateEscrow } from "./escrow";
import { recordPayouts, treasuryOf } from "./revenue";

/** Where and when a task left the CREATED state, the same for a settlement and a cancellation. */
function settledAt(position: ChainPosition, createdAt: number) {
  return {
    settledAt: position.timestamp,
    settledBlock: position.blockNumber,
    settledLogIndex: position.logIndex,
    settledTx: position.transactionHash,
    durationSeconds: position.timestamp - createdAt,
    updatedBlock: position.blockNumber,
    updatedBlockHash: position.blockHash,
    updatedLogIndex: position.logIndex,
  };
}

ponder.on("InferencePayment:TaskCreated", async ({ event, context }) => {
  const position = positionOf(event);
  const user = lower(event.args.user);
  await context.db.insert(task).values({
    id: event.args.taskId,
    user,
    node: null,
    status: "CREATED",
    failed: false,
    escrow: event.args.escrow,
    createdAt: position.timestamp,
    createdBlock: position.blockNumber,
    createdTx: position.transactionHash,
    updatedBlock: position.blockNumber,
    updatedBlockHash: position.blockHash,
    updatedLogIndex: position.logIndex,
  });
  await updateEscrow(context.db, user, position, (row) => ({
    balance: event.args.newBalance,
    escrowed: row.escrowed + event.args.escrow,
  }));
});

ponder.on("InferencePayment:TaskCompleted", async ({ event, context }) => {
  const position = positionOf(event);
  const { taskId, actualCost, nodePayment, stakerPayment, treasuryPayment, refund, performanceScore } = event.args;
  const user = lower(event.args.user);
  const nodeAddress = lower(event.args.node);
  const settled = await context.db.update(task, { id: taskId }).set((row) => ({
    node: nodeAddress,
    status: "COMPLETED",
    actualCost,
    nodePayment,
    stakerPayment,
    treasuryPayment,
    refund,
    performanceScore: Number(performanceScore),
    ...settledAt(position, row.createdAt),
  }));
  await updateEscrow(context.db, user, position, (row) => ({
    balance: row.balance + refund,
    escrowed: row.escrowed - settled.escrow,
    spent: row.spent + actualCost,
  }));
  await context.db.update(node, { address: nodeAddress }).set((row) => ({
    tasksCompleted: row.tasksCompleted + 1,
    totalEarned: row.totalEarned + nodePayment,
  }));
  const settlement = { taskId, node: nodeAddress };
  await recordPayouts(
    context,
    [
      { stream: "NODE_PAYMENT", recipient: nodeAddress, amount: nodePayment, ...settlement },
      { stream: "STAKER_SHARE", recipient: lower(context.contracts.FARToken.address), amount: stakerPayment, ...settlement },
      { stream: "TREASURY", recipient: await treasuryOf(context), amount: treasuryPayment, ...settlement },
    ],
    position,
  );
});

ponder.on("InferencePayment:TaskCancelled", async ({ event, context }) => {
  const position = positionOf(event);
  const { taskId, refund, failed } = event.args;
  const blamed = lower(event.args.node);
  await context.db.update(task, { id: taskId }).set((row) => ({
    node: blamed === zeroAddress ? null : blamed,
    status: "CANCELLED",
    failed,
    refund,
    ...settledAt(position, row.createdAt),
  }));
  await updateEscrow(context.db, lower(event.args.user), position, (row) => ({
    balance: row.balance + refund,
    escrowed: row.escrowed - refund,
  }));
  if (failed) {
    await context.db.update(node, { address: blamed }).set((row) => ({ tasksFailed: row.tasksFailed + 1 }));
  }
});
