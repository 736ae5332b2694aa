/**
 * The settlement pipeline, between the job store and the transaction manager: received jobs are
 * priced, checked and simulated; ready jobs are planned into calls and handed to the transaction
 * manager under the call's idempotency key, in the same database transaction that puts the jobs
 * on the call. Outcomes come back through the handler in ./outcomes.
 */
import type { Address } from "viem";
import type { Logger } from "pino";
import { backoffDelay } from "../../common/resilience";
import type { Sql } from "../../common/sql";
import type { OracleMetrics } from "../metrics";
import { classifyError, errorText } from "../txm/classify";
import type { TxManager } from "../txm/manager";
import { callKeyOf, encodeCall, planCalls } from "./calls";
import type { JobRecord, JobStore } from "./jobs";
import { MisconfiguredError, type createPreparer, type PrepareJob } from "./prepare";
import { BaseError } from "../../common/errors";

export type PipelineSettings = { batchThreshold: number; batchSize: number; prepareConcurrency: number };

/** A job that could not be prepared waits this long, doubling per failure, before the next try. */
const PREPARE_RETRY = { initialMs: 1_000, maxMs: 60_000 };

async function inPool<T>(items: readonly T[], size: number, run: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, async () => {
    while (next < items.length) await run(items[next++]!);
  }));
}

export function createSettlementPipeline(parameters: {
  sql: Sql;
  jobs: JobStore;
  txm: TxManager;
  prepare: ReturnType<typeof createPreparer>;
  contract: Address;
  settings: PipelineSettings;
  metrics: OracleMetrics;
  logger: Logger;
}) {
  const { sql, jobs, txm, prepare, settings, metrics, logger } = parameters;
  /** Prepares `records`; returns what to write (in bulk, after the pass's reads). */
  async function prepareAll(records: readonly JobRecord[]) {
    const prepareJob: PrepareJob = prepare();
    const ready: { id: number; actualCost?: bigint; score?: number }[] = [];
    const done: JobRecord[] = [];
    await inPool(records, settings.prepareConcurrency, async (record) => {
      try {
        const prepared = await prepareJob(record);
        if (prepared.outcome === "ready") ready.push({ id: record.id, ...prepared });
        else if (prepared.outcome === "done") done.push(record);
        else await jobs.markDead(record.id, prepared);
      } catch (error) {
        if (!(error instanceof MisconfiguredError) && classifyError(error) === "transient") throw error;
        metrics.failed.inc({ class: error instanceof MisconfiguredError ? "misconfigured" : "prepare_error" });
        logger.error({ msg: "job could not be prepared; retrying later", job_id: record.id, key: record.job.key, error: errorText(error) });
        await jobs.deferJob(record.id, backoffDelay(record.retries + 1, PREPARE_RETRY));
      }
    });
    await jobs.markReady(ready);
    for (const record of await jobs.markDone(done.map((record) => record.id))) {
      metrics.settled.inc({ operation: record.job.operation });
      logger.info({ msg: "job already done on chain", job_id: record.id, key: record.job.key });
    }
  }

  return {
    /** Prices, checks and simulates received jobs. */
    async prepareReceived(limit = 1_000) {
      await prepareAll(await jobs.jobsToPrepare(limit));
    },

    /** Plans ready jobs into calls and hands them to the transaction manager; returns how many. */
    async submitReady(): Promise<number> {
      const room = await txm.room();
      if (room <= 0) return 0;
      const calls = planCalls(await jobs.readyJobs(room * settings.batchSize), { room, batchSize: settings.batchSize, batchThreshold: settings.batchThreshold });
      for (const call of calls) {
        const key = callKeyOf(call);
        await sql.transaction(async (run) => {
          await txm.send({ idempotencyKey: key, to: parameters.contract, data: encodeCall(call) }, run);
          if (!(await jobs.submit(run, call.jobs.map((record) => record.id), key))) {
            throw new BaseError(`Jobs changed state while call ${key} was planned`, { retryable: true });
          }
        });
        logger.debug({ msg: "call submitted", call_key: key, operation: call.operation, jobs: call.jobs.length });
      }
      return calls.length;
    },
  };
}
