/**
 * Durable job state: a message is acknowledged only after its job is committed here. A job
 * moves only through JOB_TRANSITIONS; the call that carries it is named by the idempotency key
 * it was sent to the transaction manager under.
 *
 * Lock order (shared with the transaction manager's store): leases → txs → attempts → jobs.
 */
import type { Address } from "viem";
import { decodeJob, encodeJob, type DeadReason, type Job } from "../message";
import type { Row, Sql } from "../../common/sql";
import { JOB_TRANSITIONS, type JobState, type JobTransition } from "./states";

export type JobRecord = {
  id: number;
  job: Job;
  state: JobState;
  actualCost: bigint | undefined;
  score: number | undefined;
  callKey: string | undefined;
  /** How many calls have carried it: with its id, names its current call. */
  submissions: number;
  /** Failed attempts to prepare it. */
  retries: number;
};

export type RecordOutcome = { inserted: boolean; conflict: boolean };

export type JobStore = ReturnType<typeof createJobStore>;

const array = (values: readonly (number | string)[]) => `{${values.join(",")}}`;

/** JSON with object keys sorted, so two encodings of one payload compare equal. */
function canonical(value: unknown): string {
  const sort = (item: unknown): unknown =>
    Array.isArray(item) ? item.map(sort) : item && typeof item === "object" ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, sort(v)])) : item;
  return JSON.stringify(sort(value));
}

export function createJobStore(parameters: { sql: Sql; schema: string; chainId: number; contract: Address }) {
  const { sql, chainId } = parameters;
  const contract = parameters.contract.toLowerCase();
  const s = `"${parameters.schema}"`;

  const toJob = (row: Row): JobRecord => ({
    id: Number(row.id),
    job: decodeJob(row.payload as Record<string, unknown>),
    state: row.state as JobState,
    actualCost: row.actual_cost === null ? undefined : BigInt(row.actual_cost as string),
    score: row.score === null ? undefined : Number(row.score),
    callKey: (row.call_key ?? undefined) as string | undefined,
    submissions: Number(row.submissions),
    retries: Number(row.retries),
  });
  const columns = `id::text, payload, state, actual_cost::text, score, call_key, submissions, retries`;
  const qualifiedColumns = `jobs.id::text, jobs.payload, jobs.state, jobs.actual_cost::text, jobs.score, jobs.call_key, jobs.submissions, jobs.retries`;

  /** Moves jobs `where` matches through `transition`, setting `set` too; returns the moved. */
  async function move(run: Sql, transition: JobTransition, where: string, params: unknown[], set = ""): Promise<JobRecord[]> {
    const rule = JOB_TRANSITIONS[transition];
    const rows = await run.query(
      `update ${s}.jobs as jobs set state = $1, updated_at = now()${set}
         where jobs.chain_id = $2 and jobs.contract = $3 and jobs.state = any($4::text[]) and ${where} returning ${qualifiedColumns}`,
      [rule.to, chainId, contract, array(rule.from), ...params],
    );
    return rows.map(toJob);
  }

  return {
    /**
     * Records jobs under their idempotency keys (chain, contract, key), in one statement. A later
     * message for a key already recorded (before, or earlier in `batch`) is a duplicate when it
     * says the same thing and a conflict when it does not. Outcomes are in `batch`'s order.
     */
    async recordJobs(batch: readonly Job[]): Promise<RecordOutcome[]> {
      if (batch.length === 0) return [];
      const rows = batch.map((job) => ({ key: job.key, operation: job.operation, payload: encodeJob(job) }));
      const inserted = await sql.query(
        `insert into ${s}.jobs (chain_id, contract, key, operation, payload)
           select $1, $2, t.key, t.operation, t.payload from jsonb_to_recordset($3::text::jsonb) as t(key text, operation text, payload jsonb)
           on conflict (chain_id, contract, key) do nothing returning key`,
        [chainId, contract, JSON.stringify(rows)],
      );
      const fresh = new Set(inserted.map((row) => row.key as string));
      const stale = rows.filter((row) => !fresh.has(row.key)).map((row) => row.key);
      const stored =
        stale.length === 0
          ? []
          : await sql.query(
              `select key, payload from ${s}.jobs where chain_id = $1 and contract = $2 and key in (select jsonb_array_elements_text($3::text::jsonb))`,
              [chainId, contract, JSON.stringify(stale)],
            );
      // Compared as the database normalises JSON, key order included.
      const payloads = new Map(stored.map((row) => [row.key as string, canonical(row.payload)]));
      const firsts = new Map<string, string>();
      return rows.map((row) => {
        const payload = canonical(row.payload);
        if (fresh.has(row.key) && !firsts.has(row.key)) {
          firsts.set(row.key, payload);
          return { inserted: true, conflict: false };
        }
        return { inserted: false, conflict: (firsts.get(row.key) ?? payloads.get(row.key)) !== payload };
      });
    },

    async jobsToPrepare(limit: number): Promise<JobRecord[]> {
      const rows = await sql.query(
        `select ${columns} from ${s}.jobs where chain_id = $1 and contract = $2 and state = 'received' and not_before <= now()
           order by id limit $3`,
        [chainId, contract, limit],
      );
      return rows.map(toJob);
    },

    /** Ready jobs, oldest first. */
    async readyJobs(limit: number): Promise<JobRecord[]> {
      const rows = await sql.query(`select ${columns} from ${s}.jobs where chain_id = $1 and contract = $2 and state = 'ready' order by id limit $3`, [
        chainId,
        contract,
        limit,
      ]);
      return rows.map(toJob);
    },

    async job(key: string): Promise<(JobRecord & { reason: string | undefined }) | undefined> {
      const [row] = await sql.query(`select ${columns}, reason from ${s}.jobs where chain_id = $1 and contract = $2 and key = $3`, [chainId, contract, key]);
      return row ? { ...toJob(row), reason: (row.reason ?? undefined) as string | undefined } : undefined;
    },

    /** Priced and checked, with the price and score frozen: ready to go into a call. One statement for all. */
    markReady: (priced: readonly { id: number; actualCost?: bigint; score?: number }[]) =>
      priced.length === 0
        ? Promise.resolve([])
        : move(
            sql,
            "prepared",
            `jobs.id = t.id`,
            [JSON.stringify(priced.map((item) => ({ id: item.id, actual_cost: item.actualCost?.toString() ?? null, score: item.score ?? null })))],
            `, actual_cost = t.actual_cost::numeric, score = t.score from jsonb_to_recordset($5::text::jsonb) as t(id bigint, actual_cost text, score integer)`,
          ),

    markDone: (ids: readonly number[]) =>
      ids.length === 0 ? Promise.resolve([]) : move(sql, "alreadyDone", `id = any($5::bigint[])`, [array(ids)], `, confirmed_at = coalesce(confirmed_at, now())`),

    /** Dead, with its reason; the dead letter goes out through the outbox (`pendingDeadLetters`). */
    markDead: (id: number, dead: DeadReason) =>
      move(sql, "rejected", `id = $5`, [id, dead.code, dead.reason], `, reason_code = $6, reason = $7, dead_letter_pending = true`),

    /** Prepared again no earlier than `delayMs` from now (after a transient failure). */
    async deferJob(id: number, delayMs: number) {
      await sql.query(`update ${s}.jobs set retries = retries + 1, updated_at = now(), not_before = now() + make_interval(secs => $2::float8 / 1000) where id = $1`, [
        id,
        delayMs,
      ]);
    },

    /** Puts ready jobs on the call `callKey`, in the caller's database transaction; all or none. */
    async submit(run: Sql, ids: readonly number[], callKey: string): Promise<boolean> {
      const moved = await move(run, "submitted", `id = any($5::bigint[])`, [array(ids), callKey], `, call_key = $6, submissions = submissions + 1`);
      return moved.length === ids.length;
    },

    jobsOfCall: async (run: Sql, callKey: string) => (await run.query(`select ${columns} from ${s}.jobs where call_key = $1 order by id`, [callKey])).map(toJob),

    /** The call's receipt: the jobs it settled are confirmed, the others go back to be prepared. */
    async callMined(run: Sql, callKey: string, settledIds: readonly number[]) {
      const confirmed = await move(run, "settled", `call_key = $5 and id = any($6::bigint[])`, [callKey, array(settledIds)], `, confirmed_at = now()`);
      const requeued = await move(run, "requeued", `call_key = $5 and state = 'submitted'`, [callKey], `, call_key = null`);
      return { confirmed, requeued };
    },

    /** The call will never be mined: its jobs go back to be prepared (and sent) again. */
    callDropped: (run: Sql, callKey: string) => move(run, "requeued", `call_key = $5 and state = 'submitted'`, [callKey], `, call_key = null`),

    /** The call's block was reorged out; the transaction manager sends it again. */
    callReorged: (run: Sql, callKey: string) => move(run, "reorged", `call_key = $5`, [callKey], `, confirmed_at = null`),

    /** Dead jobs whose dead letter is not yet published (an outbox). */
    async pendingDeadLetters(limit: number) {
      const rows = await sql.query(
        `select id::text, key, payload, reason_code, reason from ${s}.jobs
           where chain_id = $1 and contract = $2 and dead_letter_pending order by id limit $3`,
        [chainId, contract, limit],
      );
      return rows.map((row) => ({
        id: Number(row.id),
        key: row.key as string,
        payload: row.payload as Record<string, unknown>,
        code: row.reason_code as string,
        reason: row.reason as string,
      }));
    },

    async markDeadLettered(ids: readonly number[]) {
      if (ids.length === 0) return;
      await sql.query(`update ${s}.jobs set dead_letter_pending = false where id = any($1::bigint[])`, [array(ids)]);
    },

    async countByState(): Promise<Record<string, number>> {
      const rows = await sql.query(`select state, count(*)::int as n from ${s}.jobs where chain_id = $1 and contract = $2 group by state`, [
        chainId,
        contract,
      ]);
      return Object.fromEntries(rows.map((row) => [row.state as string, Number(row.n)]));
    },
  };
}
