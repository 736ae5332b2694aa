/**
 * Keeps every unmined transaction moving: sends saved attempts never broadcast (a crash between
 * save and send), re-sends the latest attempt when it may have left the mempool, replaces an
 * attempt stuck past the threshold with higher fees at the same nonce, and after the last
 * attempt replaces the whole transaction with a no-op so the nonce clears and the jobs re-queue.
 */
import type { TxRecord } from "../store/jobStore";
import { broadcast } from "./broadcast";
import { bumpedFees, currentFees, signAttempt, type TxmContext } from "./context";

const NOOP_GAS = 21_000n;

export function createBumper(context: TxmContext) {
  const lastSent = new Map<number, number>();

  async function replace(tx: TxRecord, noop: boolean) {
    const { settings, store, log, metrics, account } = context;
    const latest = tx.attempts.at(-1)!;
    const fees = bumpedFees(latest, await currentFees(context), settings);
    if (!fees) {
      // At the fee cap: a replacement would be rejected as underpriced, so keep resending.
      log.warn({ msg: "stuck transaction at the fee cap", nonce: tx.nonce, tx_hash: latest.hash, max_fee_wei: latest.maxFee.toString() });
      await broadcast(context, latest, tx);
      return;
    }
    const target = noop ? { to: account.address, data: "0x" as const, gas: NOOP_GAS } : tx;
    const attempt = await signAttempt(context, { nonce: tx.nonce, ...target }, fees);
    await store.addAttempt(tx.id, attempt, noop ? { ...target, kind: "noop" } : undefined);
    metrics.attempts.inc({ reason: noop ? "noop" : "bump" });
    log.warn({
      msg: noop ? "transaction replaced by a no-op; its jobs are re-queued" : "stuck transaction bumped",
      nonce: tx.nonce,
      attempt: tx.attempts.length + 1,
      tx_hash: attempt.hash,
      previous_hash: latest.hash,
      max_fee_wei: fees.maxFee.toString(),
      priority_fee_wei: fees.priorityFee.toString(),
    });
    await broadcast(context, attempt, tx);
    lastSent.set(tx.id, Date.now());
  }

  return async function bump(unmined: readonly TxRecord[], minedNonce: number) {
    const { settings } = context;
    const now = Date.now();
    for (const tx of unmined) {
      if (tx.nonce < minedNonce) continue;
      const latest = tx.attempts.at(-1)!;
      if (latest.broadcastAt === undefined && !lastSent.has(tx.id)) {
        await broadcast(context, latest, tx);
        lastSent.set(tx.id, now);
        continue;
      }
      if (now - latest.createdAt >= settings.stuckAfterMs) {
        await replace(tx, tx.kind !== "noop" && tx.attempts.length >= settings.maxAttempts);
        continue;
      }
      const sentAt = lastSent.get(tx.id) ?? latest.broadcastAt ?? latest.createdAt;
      if (now - sentAt >= settings.rebroadcastMs) {
        await broadcast(context, latest, tx);
        lastSent.set(tx.id, now);
      }
    }
  };
}
