/**
 * Confirms by the account's mined nonce, then by the receipts of every attempt at that nonce,
 * and reports each confirmed request's receipt to its caller. Mined transactions are re-checked
 * against the canonical chain until final: one whose block was reorged out goes back to
 * pending (the caller hears "reorged"), and the bumper re-sends its bytes.
 */
import type { Hash, TransactionReceipt } from "viem";
import type { TxmContext, TxRecord } from "./types";

/** Polls with no receipt for a mined nonce before we conclude someone else's transaction took it. */
const LOST_AFTER_POLLS = 5;

/** Whether a receipt at `receiptBlock` has the confirmations asked for, with `head` the latest block. */
export const isConfirmed = (receiptBlock: bigint, head: bigint, confirmations: number) => head - receiptBlock + 1n >= BigInt(confirmations);

/** What a re-check makes of a mined transaction: a pure decision, tested as a table. */
export function recheckVerdict(tx: Pick<TxRecord, "minedBlock" | "minedBlockHash">, canonicalHash: Hash | undefined, head: bigint, finalityDepth: number) {
  if (canonicalHash !== tx.minedBlockHash) return "reorged" as const;
  return head - tx.minedBlock! >= BigInt(finalityDepth) ? ("final" as const) : ("mined" as const);
}

export function createConfirmer(context: TxmContext) {
  const misses = new Map<number, number>();
  let lastHead: Hash | undefined;

  async function receiptOf(tx: TxRecord): Promise<TransactionReceipt | undefined> {
    for (const attempt of [...tx.attempts].reverse()) {
      const receipt = await context.chain.getTransactionReceipt({ hash: attempt.hash }).catch((error: Error) => {
        if (error.name === "TransactionReceiptNotFoundError") return undefined;
        throw error;
      });
      if (receipt) return receipt;
    }
    return undefined;
  }

  async function confirmed(tx: TxRecord, receipt: TransactionReceipt) {
    const { store, metrics, logger } = context;
    await store.markMined(tx, receipt);
    metrics.gasSpent.inc(Number(receipt.gasUsed * receipt.effectiveGasPrice));
    metrics.confirmationLatency.observe((Date.now() - tx.createdAt) / 1000);
    if (receipt.status !== "success") metrics.failed.inc({ class: "revert" });
    logger.info({
      msg: receipt.status === "success" ? "transaction confirmed" : "transaction mined reverted",
      idempotency_key: tx.idempotencyKey,
      nonce: tx.nonce,
      tx_hash: receipt.transactionHash,
      block_number: receipt.blockNumber.toString(),
      gas_used: receipt.gasUsed.toString(),
    });
  }

  async function confirmUnmined(unmined: readonly TxRecord[], minedNonce: number, head: bigint) {
    const { store, settings, logger } = context;
    for (const tx of unmined) {
      if (tx.nonce! >= minedNonce) break;
      context.crash.hit("during-confirmation");
      const receipt = await receiptOf(tx);
      if (!receipt) {
        const count = (misses.get(tx.id) ?? 0) + 1;
        misses.set(tx.id, count);
        if (count >= LOST_AFTER_POLLS) {
          logger.warn({ msg: "nonce used by a transaction that is not ours; request dropped", nonce: tx.nonce, attempts: tx.attempts.map((a) => a.hash) });
          await store.markLost(tx);
          misses.delete(tx.id);
        }
        continue;
      }
      misses.delete(tx.id);
      if (isConfirmed(receipt.blockNumber, head, settings.confirmations)) await confirmed(tx, receipt);
    }
  }

  async function recheckMined(head: bigint, headHash: Hash) {
    const { store, settings, logger, chain, metrics } = context;
    // The canonical chain below an unchanged head cannot have changed since the last look.
    if (headHash === lastHead) return;
    const hashes = new Map<bigint, Hash | undefined>();
    for (const tx of await store.mined()) {
      const number = tx.minedBlock!;
      if (!hashes.has(number)) hashes.set(number, number > head ? undefined : (await chain.getBlock({ blockNumber: number })).hash);
      const verdict = recheckVerdict(tx, hashes.get(number), head, settings.finalityDepth);
      if (verdict === "reorged") {
        metrics.reorgs.inc();
        logger.warn({ msg: "mined transaction reorged out; waiting for it to be mined again", nonce: tx.nonce, tx_hash: tx.minedHash, block_number: number.toString() });
        await store.markReorgedOut(tx);
      } else if (verdict === "final") {
        await store.markFinal(tx.id);
      }
    }
    lastHead = headHash;
  }

  return async function confirm(unmined: readonly TxRecord[], minedNonce: number) {
    const block = await context.chain.getBlock({ blockTag: "latest" });
    await recheckMined(block.number, block.hash);
    await confirmUnmined(unmined, minedNonce, block.number);
  };
}
