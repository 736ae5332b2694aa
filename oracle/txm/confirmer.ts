/**
 * Confirms by the account's mined nonce, then by receipts of every attempt at that nonce.
 * Mined transactions are re-checked against the canonical chain until final: one whose block
 * was reorged out goes back to pending, and the bumper re-sends its bytes.
 */
import { parseEventLogs, type Hash, type TransactionReceipt } from "viem";
import { inferencePaymentAbi } from "../../abis";
import type { JobRecord, TxRecord } from "../store/jobStore";
import type { TxmContext } from "./context";

/** Polls with no receipt for a mined nonce before we conclude someone else's transaction took it. */
const LOST_AFTER_POLLS = 5;

/** Keys of the jobs a receipt actually did: a batch skips tasks no longer open, a revert does nothing. */
function doneKeys(receipt: TransactionReceipt): Set<string> {
  const keys = new Set<string>();
  if (receipt.status !== "success") return keys;
  for (const log of parseEventLogs({ abi: inferencePaymentAbi, logs: receipt.logs })) {
    if (log.eventName === "TaskCompleted" || log.eventName === "TaskCancelled") keys.add(log.args.taskId.toLowerCase());
  }
  return keys;
}

export function createConfirmer(context: TxmContext) {
  const misses = new Map<number, number>();
  let lastHead: Hash | undefined;

  async function receiptOf(tx: TxRecord): Promise<TransactionReceipt | undefined> {
    for (const attempt of [...tx.attempts].reverse()) {
      const receipt = await context.publicClient.getTransactionReceipt({ hash: attempt.hash }).catch((error: Error) => {
        if (error.name === "TransactionReceiptNotFoundError") return undefined;
        throw error;
      });
      if (receipt) return receipt;
    }
    return undefined;
  }

  async function settle(tx: TxRecord, jobs: JobRecord[], receipt: TransactionReceipt) {
    const { store, metrics, log } = context;
    const keys = doneKeys(receipt);
    // A node operation has no task id; its success is the receipt's.
    for (const job of jobs) if (receipt.status === "success" && (job.job.kind === "register_node" || job.job.kind === "rate_node")) keys.add(job.job.key);
    const { confirmed, requeued } = await store.markMined(tx.id, {
      hash: receipt.transactionHash,
      blockNumber: receipt.blockNumber,
      blockHash: receipt.blockHash,
      gasSpent: receipt.gasUsed * receipt.effectiveGasPrice,
      settledKeys: keys,
    });
    metrics.gasSpent.inc(Number(receipt.gasUsed * receipt.effectiveGasPrice));
    metrics.confirmationLatency.observe((Date.now() - tx.createdAt) / 1000);
    for (const job of confirmed) metrics.settled.inc({ kind: job.job.kind });
    if (receipt.status !== "success") metrics.failed.inc({ class: "revert" });
    log.info({
      msg: receipt.status === "success" ? "transaction confirmed" : "transaction reverted; its jobs go back to be prepared",
      nonce: tx.nonce,
      tx_hash: receipt.transactionHash,
      block_number: receipt.blockNumber.toString(),
      gas_used: receipt.gasUsed.toString(),
      confirmed: confirmed.length,
      requeued: requeued.length,
    });
  }

  async function confirmUnmined(unmined: readonly TxRecord[], minedNonce: number, head: bigint) {
    const { store, settings, log } = context;
    for (const tx of unmined) {
      if (tx.nonce >= minedNonce) break;
      context.crash.hit("during-confirmation");
      const receipt = await receiptOf(tx);
      if (!receipt) {
        const count = (misses.get(tx.id) ?? 0) + 1;
        misses.set(tx.id, count);
        if (count >= LOST_AFTER_POLLS) {
          log.warn({ msg: "nonce used by a transaction that is not ours; jobs re-queued", nonce: tx.nonce, attempts: tx.attempts.map((a) => a.hash) });
          await store.markLost(tx.id);
          misses.delete(tx.id);
        }
        continue;
      }
      misses.delete(tx.id);
      if (head - receipt.blockNumber + 1n < BigInt(settings.confirmations)) continue;
      await settle(tx, await store.jobsOfTx(tx.id), receipt);
    }
  }

  async function recheckMined(head: bigint, headHash: Hash) {
    const { store, settings, log, publicClient, metrics } = context;
    // The canonical chain below an unchanged head cannot have changed since the last look.
    if (headHash === lastHead) return;
    const mined = await store.minedTxs();
    const hashes = new Map<bigint, Hash | undefined>();
    for (const tx of mined) {
      const number = tx.minedBlock!;
      if (!hashes.has(number)) hashes.set(number, number > head ? undefined : (await publicClient.getBlock({ blockNumber: number })).hash);
      if (hashes.get(number) !== tx.minedBlockHash) {
        metrics.reorgs.inc();
        log.warn({ msg: "settlement reorged out; waiting for it to be mined again", nonce: tx.nonce, tx_hash: tx.minedHash, block_number: number.toString() });
        await store.markReorgedOut(tx.id);
      } else if (head - number >= BigInt(settings.finalityDepth)) {
        await store.markFinal(tx.id);
      }
    }
    lastHead = headHash;
  }

  return async function confirm(unmined: readonly TxRecord[], minedNonce: number) {
    const block = await context.publicClient.getBlock({ blockTag: "latest" });
    await recheckMined(block.number, block.hash);
    await confirmUnmined(unmined, minedNonce, block.number);
  };
}
