/**
 * Puts ready jobs on chain: picks single or batched settlement by backlog, estimates gas
 * (a revert here sends the jobs back to be prepared, no nonce spent), assigns the nonce, signs
 * and saves the attempt in one database transaction, and only then broadcasts.
 */
import type { Hex } from "viem";
import type { Job } from "../message";
import type { JobRecord, TxKind } from "../store/jobStore";
import { broadcast } from "./broadcast";
import { classifyError, revertReason } from "./classify";
import { currentFees, signAttempt, type Fees, type TxmContext } from "./context";
import { encodeBatchCall, encodeJobCall } from "./calls";

type Planned = { kind: TxKind; data: Hex; jobs: JobRecord[] };

// Node operations first: a settlement for a node being registered must not overtake it.
const ORDER: readonly Job["kind"][] = ["register_node", "rate_node", "fail", "settle"];

async function plan(context: TxmContext, room: number): Promise<Planned[]> {
  const { store, settings } = context;
  const planned: Planned[] = [];
  for (const kind of ORDER) {
    if (planned.length >= room) break;
    const remaining = room - planned.length;
    if (kind === "settle") {
      const ready = await store.readyJobs(["settle"], settings.batchSize * remaining);
      if (ready.length >= settings.batchThreshold) {
        for (let i = 0; i < ready.length && planned.length < room; i += settings.batchSize) {
          const jobs = ready.slice(i, i + settings.batchSize);
          planned.push(jobs.length === 1 ? { kind: "settle", data: encodeJobCall(jobs[0]!), jobs } : { kind: "settle_batch", data: encodeBatchCall(jobs), jobs });
        }
        continue;
      }
      for (const job of ready.slice(0, remaining)) planned.push({ kind: "settle", data: encodeJobCall(job), jobs: [job] });
      continue;
    }
    for (const job of await store.readyJobs([kind], remaining)) planned.push({ kind, data: encodeJobCall(job), jobs: [job] });
  }
  return planned;
}

/** Sends what fits under the in-flight cap; returns how many transactions went out. */
export async function sendReady(context: TxmContext): Promise<number> {
  const { store, settings, publicClient, account, log, metrics } = context;
  const room = settings.maxInFlight - (await store.inFlightCount());
  if (room <= 0) return 0;
  const planned = await plan(context, room);
  if (planned.length === 0) return 0;

  const chainNonce = await publicClient.getTransactionCount({ address: account.address, blockTag: "pending" });
  const fees: Fees = await currentFees(context);
  let sent = 0;
  for (const tx of planned) {
    const jobIds = tx.jobs.map((job) => job.id);
    let gas: bigint;
    try {
      const estimate = await publicClient.estimateGas({ account: account.address, to: context.contract, data: tx.data });
      // Headroom: the state the estimate ran on can move before the block (ratings, stakes).
      gas = (estimate * 13n) / 10n;
    } catch (error) {
      if (classifyError(error) !== "revert") throw error;
      log.warn({ msg: "estimate reverted; jobs go back to be prepared", tx_kind: tx.kind, job_ids: jobIds, reason: revertReason(error) });
      await store.requeueJobs(jobIds);
      continue;
    }
    const record = await store.createTx({
      holder: context.holder,
      chainNonce,
      kind: tx.kind,
      to: context.contract,
      data: tx.data,
      gas,
      jobIds,
      sign: (nonce) => signAttempt(context, { nonce, to: context.contract, data: tx.data, gas }, fees),
    });
    metrics.attempts.inc({ reason: "new" });
    log.info({
      msg: "transaction signed",
      tx_kind: tx.kind,
      nonce: record.nonce,
      tx_hash: record.attempts[0]!.hash,
      jobs: tx.jobs.length,
      max_fee_wei: fees.maxFee.toString(),
    });
    context.crash.hit("after-nonce-before-broadcast");
    await broadcast(context, record.attempts[0]!, record);
    sent += 1;
  }
  return sent;
}
