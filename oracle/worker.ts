/**
 * The oracle worker: an intake loop (stream → job store) and a settlement loop (job store →
 * pipeline → transaction manager → chain) side by side. Only the holder of the signing lease
 * settles; a replica without it keeps recording jobs and takes over when the lease expires.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { BrokenCircuitError, createBackoff, createBreaker } from "../common/resilience";
import type { Intake } from "./intake";
import type { OracleMetrics } from "./metrics";
import type { JobStore } from "./settlement/jobs";
import type { createSettlementPipeline } from "./settlement/pipeline";
import type { ResultStream } from "./stream";
import { classifyError, errorText } from "./txm/classify";
import type { Lease } from "./txm/lease";
import type { TxManager } from "./txm/manager";
import { LeaseLostError } from "./txm/store";

export type WorkerSettings = {
  pollMs: number;
  breakerFailures: number;
  breakerCooldownMs: number;
  shutdownTimeoutMs: number;
};

/** Loops wait this long after a failure, doubling per failure in a row. */
const LOOP_BACKOFF = { initialMs: 250, maxMs: 10_000 };

export function createOracleWorker(parameters: {
  intake: Intake;
  jobs: JobStore;
  pipeline: ReturnType<typeof createSettlementPipeline>;
  txm: TxManager;
  lease: Lease;
  stream: ResultStream;
  settings: WorkerSettings;
  metrics: OracleMetrics;
  logger: Logger;
}) {
  const { intake, jobs, pipeline, txm, lease, stream, settings, metrics, logger } = parameters;
  // Only an RPC that does not answer opens the breaker: not a lost lease, a revert or our own bug.
  const breaker = createBreaker({
    failures: settings.breakerFailures,
    cooldownMs: settings.breakerCooldownMs,
    counts: (error) => !(error instanceof LeaseLostError) && classifyError(error) === "transient",
  });
  breaker.onBreak(() => {
    metrics.breakerOpen.set(1);
    metrics.breakerOpened.inc();
    logger.error({ msg: "circuit breaker open: RPC failing, no new transactions" });
  });
  breaker.onReset(() => {
    metrics.breakerOpen.set(0);
    logger.info({ msg: "circuit breaker closed" });
  });

  let stopping = false;

  /** One pass of the settlement loop; returns whether anything is still in flight. */
  async function settlePass(): Promise<boolean> {
    if (!lease.held && !(await lease.renew())) return false;
    if (!stopping) await pipeline.prepareReceived();
    if (!stopping) await pipeline.submitReady();
    const { unmined } = await txm.tick({ sendNew: !stopping });
    return unmined > 0;
  }

  async function refreshGauges() {
    const counts = await jobs.countByState();
    for (const state of ["received", "ready", "submitted", "confirmed", "dead"]) metrics.backlog.set({ state }, counts[state] ?? 0);
    metrics.backlog.set({ state: "stream" }, await stream.backlog());
  }

  async function intakeLoop() {
    const backoff = createBackoff(LOOP_BACKOFF);
    await intake.start();
    while (!stopping) {
      try {
        await intake.poll();
        backoff.succeeded();
      } catch (error) {
        const wait = backoff.failed();
        logger.error({ msg: "intake failed; backing off", error: errorText(error), failures: backoff.failures });
        await sleep(wait);
      }
    }
  }

  async function settleLoop() {
    const backoff = createBackoff({ ...LOOP_BACKOFF, initialMs: settings.pollMs });
    let stopDeadline: number | undefined;
    let lastGauges = 0;
    for (;;) {
      if (stopping) {
        stopDeadline ??= Date.now() + settings.shutdownTimeoutMs;
        if (Date.now() > stopDeadline) {
          logger.warn({ msg: "shutdown timeout; leaving transactions in flight to the next start" });
          return;
        }
      }
      let inFlight = true;
      const endPass = metrics.settlePass.startTimer();
      try {
        inFlight = await breaker.execute(settlePass);
        endPass();
        backoff.succeeded();
      } catch (error) {
        if (error instanceof LeaseLostError) {
          metrics.leaseLost.inc();
          logger.warn({ msg: "signing lease lost during a pass; signing stops until it is held again", error: errorText(error) });
        } else if (!(error instanceof BrokenCircuitError)) {
          const kind = classifyError(error);
          metrics.failed.inc({ class: kind === "transient" ? "transient" : "settle_error" });
          logger.error({ msg: "settlement pass failed; backing off", error: errorText(error), class: kind, failures: backoff.failures + 1, stack: kind === "fatal" ? (error as Error).stack : undefined });
          await sleep(backoff.failed());
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
      running ??= lease.start().then(() => Promise.all([intakeLoop(), settleLoop()]));
      return running;
    },
    /** Graceful: takes no new messages, sends nothing new, and waits for what is in flight. */
    async stop() {
      stopping = true;
      await running;
      await lease.stop();
    },
  };
}
