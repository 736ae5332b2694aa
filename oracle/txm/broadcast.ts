/**
 * Sends saved bytes. Never re-signs: a resend after a crash or a mempool drop is the very same
 * transaction. Answers that mean "this nonce is already taken care of" are left to the
 * confirmer; transient errors throw for the caller's back-off and circuit breaker.
 */
import type { Hash, Hex } from "viem";
import { classifyError, errorText } from "./classify";
import type { TxmContext } from "./types";

export type BroadcastResult = "sent" | "probably_sent" | "underpriced" | "rejected";

export async function broadcast(context: TxmContext, attempt: { hash: Hash; raw: Hex }, meta: { nonce: number | undefined }): Promise<BroadcastResult> {
  try {
    await context.chain.sendRawTransaction({ serializedTransaction: attempt.raw });
  } catch (error) {
    const kind = classifyError(error);
    if (kind === "transient") throw error;
    const result: BroadcastResult = kind === "probably_sent" || kind === "underpriced" ? kind : "rejected";
    context.logger.debug({ msg: "broadcast answered with an error", tx_hash: attempt.hash, nonce: meta.nonce, result, error: errorText(error) });
    if (result === "rejected") context.metrics.failed.inc({ class: "broadcast_rejected" });
    if (result !== "probably_sent") return result;
  }
  context.crash.hit("after-broadcast-before-save");
  await context.store.markBroadcast(attempt.hash);
  return "sent";
}
