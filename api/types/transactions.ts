/**
 * Read-your-write: after sending a transaction, a client asks whether the index has caught up
 * with it, and sees what it changed. With a chain client the answer comes from the receipt's
 * block; without one, from the rows the transaction produced.
 */
import { TransactionReceiptNotFoundError, type Hex } from "viem";
import { payout, stakingEvent, task } from "../../schema";
import { builder } from "../builder";
import type { ApiContext } from "../context";
import { rowsBy } from "../loaders";
import { IndexedTransactionRef, PayoutRef, StakingChangeRef, TaskRef, type IndexedTransaction } from "./refs";

function changesOf(context: ApiContext, hash: Hex) {
  return Promise.all([
    rowsBy(context, payout, payout.transactionHash, [payout.logIndex, payout.id]).load(hash),
    rowsBy(context, stakingEvent, stakingEvent.transactionHash, [stakingEvent.logIndex]).load(hash),
    rowsBy(context, task, task.createdTx, [task.id]).load(hash),
    rowsBy(context, task, task.settledTx, [task.settledLogIndex]).load(hash),
  ]);
}

async function minedAt(context: ApiContext, hash: Hex): Promise<number | undefined> {
  if (!context.chain) return undefined;
  try {
    return Number((await context.chain.getTransactionReceipt({ hash })).blockNumber);
  } catch (error) {
    if (error instanceof TransactionReceiptNotFoundError) return undefined;
    throw error;
  }
}

/** Where a transaction stands in the index: null when neither the chain nor the index knows it. */
export async function findTransaction(context: ApiContext, hash: Hex): Promise<IndexedTransaction | null> {
  const [mined, changes, status] = await Promise.all([minedAt(context, hash), changesOf(context, hash), context.status()]);
  const [payouts, staking, created, settled] = changes;
  const rowBlock = [
    ...payouts.map((row) => row.blockNumber),
    ...staking.map((row) => row.blockNumber),
    ...created.map((row) => row.createdBlock),
    ...settled.map((row) => row.settledBlock!),
  ].at(0);
  if (mined === undefined && rowBlock === undefined) return null;
  const blockNumber = mined ?? rowBlock!;
  return { hash, blockNumber, indexed: blockNumber <= status.latest.number };
}

IndexedTransactionRef.implement({
  fields: (t) => ({
    hash: t.expose("hash", { type: "Bytes32" }),
    blockNumber: t.exposeInt("blockNumber", { nullable: true }),
    indexed: t.exposeBoolean("indexed", { description: "Every change of this transaction is in the index." }),
    finalized: t.boolean({
      resolve: async (tx, _args, context) => tx.blockNumber !== null && (await context.isFinalized(tx.blockNumber)),
    }),
    payouts: t.field({ type: [PayoutRef], resolve: async (tx, _args, context) => (await changesOf(context, tx.hash))[0] }),
    stakingChanges: t.field({ type: [StakingChangeRef], resolve: async (tx, _args, context) => (await changesOf(context, tx.hash))[1] }),
    tasksCreated: t.field({ type: [TaskRef], resolve: async (tx, _args, context) => (await changesOf(context, tx.hash))[2] }),
    tasksSettled: t.field({
      type: [TaskRef],
      description: "Tasks this transaction completed or cancelled (their current state).",
      resolve: async (tx, _args, context) => (await changesOf(context, tx.hash))[3],
    }),
  }),
});

builder.queryField("transaction", (t) =>
  t.field({
    type: IndexedTransactionRef,
    nullable: true,
    description: "Null when neither the chain (if the server has a client) nor the index knows the hash.",
    args: { hash: t.arg({ type: "Bytes32", required: true }) },
    resolve: (_root, { hash }, context) => findTransaction(context, hash),
  }),
);
