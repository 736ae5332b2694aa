/**
 * Keeps every unmined transaction moving: sends saved attempts never broadcast (a crash between
 * save and send), re-sends the latest attempt when it may have left the mempool, replaces an
 * attempt stuck past the threshold with higher fees at the same nonce, and after the last
 * attempt replaces the request with a no-op so the nonce clears (the caller hears "dropped").
 */
import { broadcast } from "./broadcast";
import { bumpedFees, currentFees } from "./fees";
import { signAttempt } from "./sign";
import type { TxmContext, TxRecord } from "./types";

const NOOP_GAS = 21_000n;

/** What the bumper does with one unmined transaction now: a pure decision, tested as a table. */
export type BumpAction = "skip" | "broadcast" | "rebroadcast" | "bump" | "noop" | "wait";

export function bumpAction(
  tx: Pick<TxRecord, "nonce" | "noop" | "attempts">,
  now: number,
  minedNonce: number,
  lastSent: number | undefined,
  settings: { stuckAfterMs: number; rebroadcastMs: number; maxAttempts: number },
): BumpAction {
  if (tx.nonce === undefined || tx.nonce < minedNonce) return "skip";
  const latest = tx.attempts.at(-1)!;
  if (latest.broadcastAt === undefined && lastSent === undefined) return "broadcast";
  if (now - latest.createdAt >= settings.stuckAfterMs) return !tx.noop && tx.attempts.length >= settings.maxAttempts ? "noop" : "bump";
  const sentAt = lastSent ?? latest.broadcastAt ?? latest.createdAt;
  return now - sentAt >= settings.rebroadcastMs ? "rebroadcast" : "wait";
}

export function createBumper(context: TxmContext) {
  const lastSent = new Map<number, number>();

  async function replace(tx: TxRecord, noop: boolean) {
    const { settings, store, logger, metrics, account } = context;
    const latest = tx.attempts.at(-1)!;
    const fees = bumpedFees(latest, await currentFees(context.chain, settings), settings);
    if (!fees) {
      // At the fee cap: a replacement would be refused as underpriced, so keep resending.
      logger.warn({ msg: "stuck transaction at the fee cap", nonce: tx.nonce, tx_hash: latest.hash, max_fee_wei: latest.maxFee.toString() });
      await broadcast(context, latest, tx);
      return;
    }
    // A request given up stays given up: its bumps are no-ops too.
    const asNoop = noop || tx.noop;
    const target = asNoop ? { to: account.address, data: "0x" as const, value: 0n, gas: NOOP_GAS } : { to: tx.to, data: tx.data, value: tx.value, gas: tx.gas! };
    const attempt = await signAttempt(context, { nonce: tx.nonce!, ...target }, fees);
    await store.addAttempt(tx.id, attempt, { noop: asNoop });
    metrics.attempts.inc({ reason: noop ? "noop" : "bump" });
    logger.warn({
      msg: noop ? "transaction replaced by a no-op; its request is given up" : "stuck transaction bumped",
      nonce: tx.nonce,
      idempotency_key: tx.idempotencyKey,
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
    const now = Date.now();
    for (const tx of unmined) {
      const action = bumpAction(tx, now, minedNonce, lastSent.get(tx.id), context.settings);
      if (action === "skip" || action === "wait") continue;
      if (action === "bump" || action === "noop") {
        await replace(tx, action === "noop");
        continue;
      }
      await broadcast(context, tx.attempts.at(-1)!, tx);
      lastSent.set(tx.id, now);
    }
  };
}
