/**
 * A transaction manager that knows nothing of its callers' domain (op-service's TxManager,
 * Chainlink's txm): `send` saves a request under the caller's idempotency key; `tick` moves
 * every request along (nonce, signature, broadcast, fee bumps, confirmation, reorg re-checks)
 * and reports outcomes through the handler given to its store.
 */
import type { Sql } from "../../common/sql";
import { broadcast } from "./broadcast";
import { createBumper } from "./bumper";
import { classifyError, revertReason } from "./classify";
import { createConfirmer } from "./confirmer";
import { currentFees } from "./fees";
import type { Lease } from "./lease";
import { signAttempt } from "./sign";
import type { TxmContext, TxRequest } from "./types";

export type TxManager = ReturnType<typeof createTxManager>;

/** Headroom over the estimate: the state it ran on can move before the block (ratings, stakes). */
const withHeadroom = (estimate: bigint) => (estimate * 13n) / 10n;

export function createTxManager(parameters: TxmContext & { lease: Lease; holder: string }) {
  const context: TxmContext = parameters;
  const { store, chain, account, settings, logger, metrics, lease, holder } = parameters;
  const bump = createBumper(context);
  const confirm = createConfirmer(context);

  /** Signs and broadcasts unstarted requests in the order they came, up to the in-flight cap. */
  async function sendUnstarted(): Promise<number> {
    const room = settings.maxInFlight - (await store.queue()).inFlight;
    if (room <= 0) return 0;
    const requests = await store.unstarted(room);
    if (requests.length === 0) return 0;
    const chainNonce = await chain.getTransactionCount({ address: account.address, blockTag: "pending" });
    const fees = await currentFees(chain, settings);
    // Estimated together (one JSON-RPC batch), each against the state before any of them.
    const estimates = await Promise.allSettled(
      requests.map(async (request) => request.gasLimit ?? withHeadroom(await chain.estimateGas({ account: account.address, to: request.to, data: request.data, value: request.value }))),
    );
    let sent = 0;
    for (const [i, request] of requests.entries()) {
      if (!lease.held) break;
      const estimate = estimates[i]!;
      if (estimate.status === "rejected") {
        if (classifyError(estimate.reason) !== "revert") throw estimate.reason;
        const reason = revertReason(estimate.reason);
        logger.warn({ msg: "estimate reverted; request dropped before a nonce was spent", idempotency_key: request.idempotencyKey, reason });
        await store.reject(request.id, reason);
        continue;
      }
      const gas = estimate.value;
      const record = await store.assignNonce({
        txId: request.id,
        holder,
        chainNonce,
        gas,
        sign: (nonce) => signAttempt(context, { nonce, to: request.to, data: request.data, value: request.value, gas }, fees),
      });
      metrics.attempts.inc({ reason: "new" });
      logger.info({ msg: "transaction signed", idempotency_key: request.idempotencyKey, nonce: record.nonce, tx_hash: record.attempts[0]!.hash, max_fee_wei: fees.maxFee.toString() });
      context.crash.hit("after-nonce-before-broadcast");
      await broadcast(context, record.attempts[0]!, record);
      sent += 1;
    }
    return sent;
  }

  return {
    /** Saves a request (a no-op for a key already saved); `run` puts it in the caller's transaction. */
    send: (request: TxRequest, run?: Sql) => store.insertRequest(request, run),

    /**
     * One pass: confirm and re-check what was sent, keep unmined transactions moving, and (unless
     * `sendNew` is false, e.g. while shutting down) sign what is waiting. Only the lease holder
     * may call it. Returns how many transactions are still unmined and how many requests wait.
     */
    async tick({ sendNew }: { sendNew: boolean }): Promise<{ unmined: number; sent: number }> {
      const minedNonce = await chain.getTransactionCount({ address: account.address, blockTag: "latest" });
      await confirm(await store.unmined(), minedNonce);
      const unmined = await store.unmined();
      await bump(unmined, minedNonce);
      const sent = sendNew ? await sendUnstarted() : 0;
      return { unmined: unmined.length + sent, sent };
    },

    /** Room for new requests under the in-flight cap, counting those already waiting. */
    async room(): Promise<number> {
      const queue = await store.queue();
      return settings.maxInFlight - queue.inFlight - queue.unstarted;
    },
  };
}
