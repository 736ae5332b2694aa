/**
 * The oracle worker: an intake loop (stream → store) and a settlement loop (store → chain) run
 * side by side. Only the holder of the signing lease settles; a replica without it keeps
 * recording jobs and takes over when the lease expires.
 */
import type { Address, LocalAccount, PublicClient } from "viem";
import type { CrashPoints } from "./crash";
import { createIntake, type IntakeSettings } from "./intake";
import type { Logger } from "./logger";
import type { OracleMetrics } from "./metrics";
import { createPreparer, MisconfiguredError } from "./prepare";
import type { ModelTable } from "./pricing";
import type { JobRecord, JobStore } from "./store/jobStore";
import type { ResultStream } from "./stream";
import { createBumper } from "./txm/bumper";
import { createCircuitBreaker } from "./txm/breaker";
import { classifyError, errorText } from "./txm/classify";
import { createConfirmer } from "./txm/confirmer";
import type { TxmContext, TxmSettings } from "./txm/context";
import { sendReady } from "./txm/sender";

export type WorkerSettings = TxmSettings & {
  intake: IntakeSettings;
  pollMs: number;
  leaseMs: number;
  breakerFailures: number;
  breakerCooldownMs: number;
  shutdownTimeoutMs: number;
  prepareConcurrency?: number;
};

export type CreateOracleWorkerParameters = {
  publicClient: PublicClient;
  account: LocalAccount;
  chainId: number;
  contract: Address;
  store: JobStore;
  stream: ResultStream;
  models: ModelTable;
  settings: WorkerSettings;
  metrics: OracleMetrics;
  log: Logger;
  crash: CrashPoints;
  /** Names this process in the signing lease; unique per process. */
  holder: string;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function inPool<T>(items: readonly T[], size: number, run: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, async () => {
    while (next < items.length) await run(items[next++]!);
  }));
}

export function createOracleWorker(parameters: CreateOracleWorkerParameters) {
  const { store, stream, settings, metrics, log, holder } = parameters;
  const context: TxmContext = { ...parameters, settings };
  const intake = createIntake({ ...parameters, settings: settings.intake });
  const prepare = createPreparer({ publicClient: parameters.publicClient, contract: parameters.contract, from: parameters.account.address, models: parameters.models });
  const bump = createBumper(context);
  const confirm = createConfirmer(context);
  const breaker = createCircuitBreaker({
    failures: settings.breakerFailures,
    cooldownMs: settings.breakerCooldownMs,
    onChange: (open) => {
      metrics.breakerOpen.set(open ? 1 : 0);
      log[open ? "error" : "info"]({ msg: open ? "circuit breaker open: RPC failing, no new transactions" : "circuit breaker closed" });
    },
  });

  let stopping = false;
  let leased = false;
  let lastLease = 0;

  async function prepareOne(record: JobRecord) {
    try {
      const prepared = await prepare(record);
      if (prepared.outcome === "ready") await store.markReady(record.id, prepared);
      else if (prepared.outcome === "done") {
        await store.markDone(record.id);
        metrics.settled.inc({ kind: record.job.kind });
        log.info({ msg: "job already done on chain", job_id: record.id, key: record.job.key });
      } else await store.markDead(record.id, prepared);
    } catch (error) {
      if (!(error instanceof MisconfiguredError) && classifyError(error) === "transient") throw error;
      metrics.failed.inc({ class: error instanceof MisconfiguredError ? "misconfigured" : "prepare_error" });
      log.error({ msg: "job could not be prepared; retrying later", job_id: record.id, key: record.job.key, error: errorText(error) });
      await store.deferJob(record.id, 1_000);
    }
  }

  async function holdLease(): Promise<boolean> {
    if (Date.now() - lastLease < settings.leaseMs / 3) return leased;
    const had = leased;
    leased = await store.acquireLease(holder, settings.leaseMs);
    lastLease = Date.now();
    if (leased !== had) log.info({ msg: leased ? "signing lease acquired" : "signing lease held by another replica", holder });
    return leased;
  }

  /** One pass of the settlement loop; returns whether anything is still in flight. */
  async function settleTick(): Promise<boolean> {
    if (!(await holdLease())) return false;
    if (!stopping) {
      const received = await store.jobsToPrepare(200);
      await inPool(received, settings.prepareConcurrency ?? 16, prepareOne);
    }
    const { account, publicClient } = parameters;
    const minedNonce = await publicClient.getTransactionCount({ address: account.address, blockTag: "latest" });
    const unmined = await store.unminedTxs();
    await confirm(unmined, minedNonce);
    const stillUnmined = await store.unminedTxs();
    await bump(stillUnmined, minedNonce);
    if (!stopping) await sendReady(context);
    return stillUnmined.length > 0;
  }

  async function refreshGauges() {
    const counts = await store.countByState();
    for (const state of ["received", "ready", "submitted", "confirmed", "dead"]) metrics.backlog.set({ state }, counts[state] ?? 0);
    metrics.backlog.set({ state: "stream" }, await stream.backlog());
  }

  async function intakeLoop() {
    let failures = 0;
    await intake.start();
    while (!stopping) {
      try {
        await intake.poll();
        failures = 0;
      } catch (error) {
        failures += 1;
        log.error({ msg: "intake failed; backing off", error: errorText(error), failures });
        await sleep(Math.min(250 * 2 ** failures, 10_000));
      }
    }
  }

  async function settleLoop() {
    let failures = 0;
    let stopDeadline: number | undefined;
    let lastGauges = 0;
    for (;;) {
      if (stopping) {
        stopDeadline ??= Date.now() + settings.shutdownTimeoutMs;
        if (Date.now() > stopDeadline) {
          log.warn({ msg: "shutdown timeout; leaving transactions in flight to the next start" });
          return;
        }
      }
      let inFlight = true;
      if (breaker.allows()) {
        try {
          inFlight = await settleTick();
          breaker.success();
          failures = 0;
        } catch (error) {
          failures += 1;
          const kind = classifyError(error);
          if (kind === "transient") breaker.failure();
          metrics.failed.inc({ class: kind === "transient" ? "transient" : "settle_error" });
          log.error({ msg: "settlement pass failed; backing off", error: errorText(error), class: kind, failures, stack: kind === "fatal" ? (error as Error).stack : undefined });
          await sleep(Math.min(settings.pollMs * 2 ** failures, 10_000));
        }
      }
      if (stopping && !inFlight) return;
      if (Date.now() - lastGauges > 1_000) {
        lastGauges = Date.now();
        await refreshGauges().catch(() => {});
      }
      await sleep(settings.pollMs);
    }
  }

  let running: Promise<unknown> | undefined;
  return {
    start() {
      running ??= Promise.all([intakeLoop(), settleLoop()]);
      return running;
    },
    /** Graceful: takes no new messages, sends nothing new, and waits for what is in flight. */
    async stop() {
      stopping = true;
      await running;
      if (leased) await store.releaseLease(holder);
    },
  };
}
