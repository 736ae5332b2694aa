/**
 * Stream → store. Each entry is parsed; a valid job is committed under its idempotency key and
 * only then acknowledged; anything that can never be a job is dead-lettered with its reason and
 * acknowledged. Entries left pending by a consumer that died are taken over (XAUTOCLAIM).
 */
import type { CrashPoints } from "./crash";
import type { Logger } from "pino";
import { parseMessage, type DeadReason, type Job } from "./message";
import type { OracleMetrics } from "./metrics";
import type { ModelTable } from "./pricing";
import type { JobStore } from "./settlement/jobs";
import type { ResultStream, StreamEntry } from "./stream";

export type IntakeSettings = { consumer: string; count: number; blockMs: number; claimIdleMs: number };

export type Intake = ReturnType<typeof createIntake>;

export function createIntake(parameters: {
  stream: ResultStream;
  store: JobStore;
  models: ModelTable;
  settings: IntakeSettings;
  metrics: OracleMetrics;
  logger: Logger;
  crash: CrashPoints;
}) {
  const { stream, store, metrics, logger, settings } = parameters;
  let lastClaim = 0;

  /**
   * Publishes a dead letter once per source (the stream refuses a repeat after a crash), counting
   * and logging only the first publication.
   */
  async function publishDeadLetter(sourceId: string, dead: DeadReason, payload: unknown, fields: Record<string, unknown>) {
    const published = await stream.deadLetter({ sourceId, code: dead.code, reason: dead.reason, payload: JSON.stringify(payload) });
    if (published === undefined) return;
    metrics.failed.inc({ class: dead.code });
    metrics.deadLetters.inc({ code: dead.code });
    logger.warn({ msg: "dead-lettered", source_id: sourceId, code: dead.code, reason: dead.reason, ...fields });
  }

  const deadLetter = (entry: StreamEntry, dead: DeadReason) => publishDeadLetter(entry.id, dead, entry.fields, { task_id: entry.fields.taskId });

  async function handle(entries: StreamEntry[]) {
    if (entries.length === 0) return;
    const valid: { entry: StreamEntry; job: Job }[] = [];
    for (const entry of entries) {
      const parsed = parseMessage(entry.fields, parameters.models);
      if (parsed.ok) valid.push({ entry, job: parsed.job });
      else await deadLetter(entry, parsed);
    }
    const outcomes = await store.recordJobs(valid.map(({ job }) => job));
    for (const [i, { entry, job }] of valid.entries()) {
      if (outcomes[i]!.conflict) {
        await deadLetter(entry, { code: "conflicting_duplicate", reason: `a different report for ${job.key} was already recorded` });
      } else if (!outcomes[i]!.inserted) {
        logger.debug({ msg: "duplicate message", source_id: entry.id, key: job.key });
      }
    }
    parameters.crash.hit("after-record-before-ack");
    await stream.ack(entries.map((entry) => entry.id));
  }

  /** Publishes dead jobs found while preparing (an outbox, so none is lost to a crash). */
  async function flushDeadJobs() {
    const dead = await store.pendingDeadLetters(100);
    for (const job of dead) {
      await publishDeadLetter(`job:${job.id}`, job, job.payload, { job_id: job.id, key: job.key });
      parameters.crash.hit("after-dead-letter-before-mark");
    }
    await store.markDeadLettered(dead.map((job) => job.id));
  }

  return {
    async start() {
      await stream.ensureGroup();
      // Our own entries from before a restart under the same consumer name come first.
      for (;;) {
        const mine = await stream.read({ consumer: settings.consumer, count: settings.count, blockMs: 0, pending: true });
        if (mine.length === 0) break;
        await handle(mine);
      }
    },
    /** One round: new entries (blocking up to blockMs), then idle entries of dead consumers. */
    async poll() {
      await handle(await stream.read({ consumer: settings.consumer, count: settings.count, blockMs: settings.blockMs }));
      if (Date.now() - lastClaim >= settings.claimIdleMs / 2) {
        lastClaim = Date.now();
        await handle(await stream.claimIdle({ consumer: settings.consumer, minIdleMs: settings.claimIdleMs, count: settings.count }));
      }
      await flushDeadJobs();
    },
  };
}
