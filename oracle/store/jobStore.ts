/**
 * Durable job and transaction state: the source of truth of the oracle. A message is
 * acknowledged only after its job is committed here; a transaction is broadcast only after its
 * signed bytes are committed here.
 *
 * Every transaction here takes its locks in one order, tables and rows alike: leases → txs →
 * attempts → jobs (and `migrate` creates and indexes the tables in that order), so two replicas
 * never wait on each other in a circle. What Postgres still aborts (two multi-row updates of the
 * same jobs, a serialization failure) is retried whole by the Sql layer (db.ts retryTransient).
 */
import type { Address, Hash, Hex } from "viem";
import { BaseError } from "../../common/errors";
import { decodeJob, encodeJob, type DeadReason, type Job } from "../message";
import type { Row, Sql } from "./db";
import { schemaStatements } from "./schema";

export type JobState = "received" | "ready" | "submitted" | "confirmed" | "dead";
export type TxState = "signed" | "pending" | "mined" | "final" | "lost";
export type TxKind = "settle" | "settle_batch" | "fail" | "register_node" | "rate_node" | "noop";

export type JobRecord = {
  id: number;
  job: Job;
  state: JobState;
  actualCost: bigint | undefined;
  score: number | undefined;
  txId: number | undefined;
};

export type Attempt = {
  id: number;
  hash: Hash;
  raw: Hex;
  maxFee: bigint;
  priorityFee: bigint;
  createdAt: number;
  broadcastAt: number | undefined;
};

export type TxRecord = {
  id: number;
  nonce: number;
  kind: TxKind;
  to: Address;
  data: Hex;
  gas: bigint;
  state: TxState;
  createdAt: number;
  minedHash: Hash | undefined;
  minedBlock: bigint | undefined;
  minedBlockHash: Hash | undefined;
  /** Every attempt at this nonce, oldest first. */
  attempts: Attempt[];
};

export type SignedAttempt = { hash: Hash; raw: Hex; maxFee: bigint; priorityFee: bigint };

export type RecordOutcome = { inserted: boolean; conflict: boolean };

export class LeaseLostError extends BaseError {
  override name = "LeaseLostError";
}

export type JobStore = ReturnType<typeof createJobStore>;

export type CreateJobStoreParameters = {
  sql: Sql;
  schema: string;
  chainId: number;
  contract: Address;
  /** The signing address whose nonces and transactions this store tracks. */
  from: Address;
};

const array = (values: readonly (number | string)[]) => `{${values.join(",")}}`;
const optionalBigint = (value: unknown) => (value === null || value === undefined ? undefined : BigInt(value as string));

export function createJobStore(parameters: CreateJobStoreParameters) {
  const { sql, chainId } = parameters;
  const contract = parameters.contract.toLowerCase();
  const from = parameters.from.toLowerCase();
  const s = `"${parameters.schema}"`;

  const toJob = (row: Row): JobRecord => ({
    id: Number(row.id),
    job: decodeJob(row.payload as Record<string, unknown>),
    state: row.state as JobState,
    actualCost: optionalBigint(row.actual_cost),
    score: row.score === null ? undefined : Number(row.score),
    txId: row.tx_id === null ? undefined : Number(row.tx_id),
  });
  const jobColumns = `id::text, payload, state, actual_cost::text, score, tx_id::text`;

  const toAttempt = (row: Row): Attempt => ({
    id: Number(row.id),
    hash: row.hash as Hash,
    raw: row.raw as Hex,
    maxFee: BigInt(row.max_fee as string),
    priorityFee: BigInt(row.priority_fee as string),
    createdAt: Number(row.created_ms),
    broadcastAt: row.broadcast_ms === null ? undefined : Number(row.broadcast_ms),
  });

  async function loadTxs(where: string, params: unknown[]): Promise<TxRecord[]> {
    const rows = await sql.query(
      `select id::text, nonce::text, kind, to_address, data, gas::text, state, mined_hash, mined_block::text, mined_block_hash,
              extract(epoch from created_at) * 1000 as created_ms
         from ${s}.txs where chain_id = $1 and from_address = $2 and ${where} order by nonce`,
      [chainId, from, ...params],
    );
    if (rows.length === 0) return [];
    const attempts = await sql.query(
      `select id::text, tx_id::text, hash, raw, max_fee::text, priority_fee::text,
              extract(epoch from created_at) * 1000 as created_ms, extract(epoch from broadcast_at) * 1000 as broadcast_ms
         from ${s}.attempts where tx_id = any($1::bigint[]) order by id`,
      [array(rows.map((row) => row.id as string))],
    );
    return rows.map((row) => ({
      id: Number(row.id),
      nonce: Number(row.nonce),
      kind: row.kind as TxKind,
      to: row.to_address as Address,
      data: row.data as Hex,
      gas: BigInt(row.gas as string),
      state: row.state as TxState,
      createdAt: Number(row.created_ms),
      minedHash: (row.mined_hash ?? undefined) as Hash | undefined,
      minedBlock: optionalBigint(row.mined_block),
      minedBlockHash: (row.mined_block_hash ?? undefined) as Hash | undefined,
      attempts: attempts.filter((attempt) => attempt.tx_id === row.id).map(toAttempt),
    }));
  }

  return {
    async migrate() {
      await sql.transaction(async (tx) => {
        // Two replicas starting together would otherwise race on `create … if not exists`.
        await tx.query(`select pg_advisory_xact_lock(hashtext($1))`, [parameters.schema]);
        for (const statement of schemaStatements(parameters.schema)) await tx.query(statement);
      });
    },

    /**
     * Records a job under its idempotency key (chain, contract, key). A second message for the
     * same key is a duplicate when it says the same thing and a conflict when it does not.
     */
    async recordJob(job: Job): Promise<RecordOutcome> {
      const payload = JSON.stringify(encodeJob(job));
      const inserted = await sql.query(
        `insert into ${s}.jobs (chain_id, contract, key, kind, payload) values ($1, $2, $3, $4, $5::text::jsonb)
           on conflict (chain_id, contract, key) do nothing returning id`,
        [chainId, contract, job.key, job.kind, payload],
      );
      if (inserted.length > 0) return { inserted: true, conflict: false };
      const [existing] = await sql.query(`select payload = $4::text::jsonb as same from ${s}.jobs where chain_id = $1 and contract = $2 and key = $3`, [
        chainId,
        contract,
        job.key,
        payload,
      ]);
      return { inserted: false, conflict: existing?.same !== true };
    },

    async jobsToPrepare(limit: number): Promise<JobRecord[]> {
      const rows = await sql.query(
        `select ${jobColumns} from ${s}.jobs where chain_id = $1 and contract = $2 and state = 'received' and not_before <= now()
           order by id limit $3`,
        [chainId, contract, limit],
      );
      return rows.map(toJob);
    },

    async readyJobs(kinds: readonly Job["kind"][], limit: number): Promise<JobRecord[]> {
      const rows = await sql.query(
        `select ${jobColumns} from ${s}.jobs where chain_id = $1 and contract = $2 and state = 'ready' and kind = any($3::text[])
           order by id limit $4`,
        [chainId, contract, array(kinds), limit],
      );
      return rows.map(toJob);
    },

    async jobsOfTx(txId: number): Promise<JobRecord[]> {
      const rows = await sql.query(`select ${jobColumns} from ${s}.jobs where tx_id = $1 order by id`, [txId]);
      return rows.map(toJob);
    },

    async job(key: string): Promise<(JobRecord & { reason: string | undefined }) | undefined> {
      const [row] = await sql.query(`select ${jobColumns}, reason from ${s}.jobs where chain_id = $1 and contract = $2 and key = $3`, [
        chainId,
        contract,
        key,
      ]);
      return row ? { ...toJob(row), reason: (row.reason ?? undefined) as string | undefined } : undefined;
    },

    async markReady(id: number, priced: { actualCost?: bigint; score?: number }) {
      await sql.query(
        `update ${s}.jobs set state = 'ready', actual_cost = $2, score = $3, updated_at = now() where id = $1 and state = 'received'`,
        [id, priced.actualCost?.toString() ?? null, priced.score ?? null],
      );
    },

    /** Back to be prepared again: the chain moved under a ready job. */
    async requeueJobs(ids: readonly number[]) {
      if (ids.length === 0) return;
      await sql.query(`update ${s}.jobs set state = 'received', updated_at = now() where id = any($1::bigint[]) and state = 'ready'`, [array(ids)]);
    },

    /** Already done on chain (a duplicate report, or our own settlement we lost track of). */
    async markDone(id: number) {
      await sql.query(
        `update ${s}.jobs set state = 'confirmed', confirmed_at = coalesce(confirmed_at, now()), updated_at = now() where id = $1`,
        [id],
      );
    },

    async markDead(id: number, dead: DeadReason) {
      await sql.query(
        `update ${s}.jobs set state = 'dead', reason_code = $2, reason = $3, dead_letter_pending = true, updated_at = now() where id = $1`,
        [id, dead.code, dead.reason],
      );
    },

    /** Retry later, after a transient failure, with a growing delay. */
    async deferJob(id: number, baseMs: number) {
      await sql.query(
        `update ${s}.jobs set retries = retries + 1, updated_at = now(),
           not_before = now() + make_interval(secs => least($2::float8 * power(2, retries), 60000) / 1000) where id = $1`,
        [id, baseMs],
      );
    },

    /** Dead jobs whose dead-letter message is not yet published (an outbox). */
    async pendingDeadLetters(limit: number) {
      const rows = await sql.query(
        `select id::text, key, kind, payload, reason_code, reason from ${s}.jobs
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
      const rows = await sql.query(
        `select state, count(*)::int as n from ${s}.jobs where chain_id = $1 and contract = $2 group by state`,
        [chainId, contract],
      );
      return Object.fromEntries(rows.map((row) => [row.state as string, Number(row.n)]));
    },

    /**
     * Takes or renews the signing lease for `from`: one sender per key, so two replicas never
     * hand out the same nonce. Returns whether `holder` has it now.
     */
    async acquireLease(holder: string, ttlMs: number): Promise<boolean> {
      const rows = await sql.query(
        `insert into ${s}.leases (chain_id, address, holder, expires_at) values ($1, $2, $3, now() + make_interval(secs => $4::float8 / 1000))
           on conflict (chain_id, address) do update set holder = excluded.holder, expires_at = excluded.expires_at
           where ${s}.leases.holder = excluded.holder or ${s}.leases.expires_at < now()
         returning holder`,
        [chainId, from, holder, ttlMs],
      );
      return rows.length > 0;
    },

    async releaseLease(holder: string) {
      await sql.query(`delete from ${s}.leases where chain_id = $1 and address = $2 and holder = $3`, [chainId, from, holder]);
    },

    /**
     * Assigns the next nonce, signs at it and saves the signed attempt, all in one database
     * transaction that also checks the lease is still ours (a fence against a paused replica).
     * The nonce is the store's highest + 1, fast-forwarded to `chainNonce` when a transaction
     * from outside used the key.
     */
    async createTx(input: {
      holder: string;
      chainNonce: number;
      kind: TxKind;
      to: Address;
      data: Hex;
      gas: bigint;
      jobIds: readonly number[];
      sign: (nonce: number) => Promise<SignedAttempt>;
    }): Promise<TxRecord> {
      return sql.transaction(async (tx) => {
        const lease = await tx.query(
          `select holder from ${s}.leases where chain_id = $1 and address = $2 and holder = $3 and expires_at > now() for update`,
          [chainId, from, input.holder],
        );
        if (lease.length === 0) throw new LeaseLostError(`Signing lease for ${from} is not held by ${input.holder}`, { retryable: true });
        const [next] = await tx.query(`select coalesce(max(nonce) + 1, 0)::text as nonce from ${s}.txs where chain_id = $1 and from_address = $2`, [
          chainId,
          from,
        ]);
        const nonce = Math.max(Number(next!.nonce), input.chainNonce);
        const signed = await input.sign(nonce);
        const [row] = await tx.query(
          `insert into ${s}.txs (chain_id, from_address, nonce, kind, to_address, data, gas, state)
             values ($1, $2, $3, $4, $5, $6, $7, 'signed') returning id::text`,
          [chainId, from, nonce, input.kind, input.to.toLowerCase(), input.data, input.gas.toString()],
        );
        const txId = Number(row!.id);
        await tx.query(`insert into ${s}.attempts (tx_id, hash, raw, max_fee, priority_fee) values ($1, $2, $3, $4, $5)`, [
          txId,
          signed.hash,
          signed.raw,
          signed.maxFee.toString(),
          signed.priorityFee.toString(),
        ]);
        if (input.jobIds.length > 0) {
          const moved = await tx.query(
            `update ${s}.jobs set state = 'submitted', tx_id = $1, updated_at = now() where id = any($2::bigint[]) and state = 'ready' returning id`,
            [txId, array(input.jobIds)],
          );
          if (moved.length !== input.jobIds.length) {
            throw new BaseError(`Jobs changed state while transaction ${nonce} was built`, { retryable: true });
          }
        }
        const now = Date.now();
        return {
          id: txId,
          nonce,
          kind: input.kind,
          to: input.to,
          data: input.data,
          gas: input.gas,
          state: "signed",
          createdAt: now,
          minedHash: undefined,
          minedBlock: undefined,
          minedBlockHash: undefined,
          attempts: [{ id: 0, ...signed, createdAt: now, broadcastAt: undefined }],
        };
      });
    },

    /** Transactions not yet mined, lowest nonce first. */
    unminedTxs: () => loadTxs(`state in ('signed', 'pending')`, []),
    /** Mined transactions still inside the reorg window. */
    minedTxs: () => loadTxs(`state = 'mined'`, []),
    tx: async (id: number) => (await loadTxs(`id = $3`, [id]))[0],

    async inFlightCount(): Promise<number> {
      const [row] = await sql.query(
        `select count(*)::int as n from ${s}.txs where chain_id = $1 and from_address = $2 and state in ('signed', 'pending')`,
        [chainId, from],
      );
      return Number(row!.n);
    },

    async addAttempt(txId: number, attempt: SignedAttempt, replace?: { to: Address; data: Hex; gas: bigint; kind: TxKind }) {
      await sql.transaction(async (tx) => {
        if (replace) {
          // The no-op takes the nonce; its jobs go back to be prepared (and sent) again.
          await tx.query(`update ${s}.txs set kind = $2, to_address = $3, data = $4, gas = $5 where id = $1`, [
            txId,
            replace.kind,
            replace.to.toLowerCase(),
            replace.data,
            replace.gas.toString(),
          ]);
        }
        await tx.query(`insert into ${s}.attempts (tx_id, hash, raw, max_fee, priority_fee) values ($1, $2, $3, $4, $5)`, [
          txId,
          attempt.hash,
          attempt.raw,
          attempt.maxFee.toString(),
          attempt.priorityFee.toString(),
        ]);
        if (replace) await tx.query(`update ${s}.jobs set state = 'received', tx_id = null, updated_at = now() where tx_id = $1`, [txId]);
      });
    },

    async markBroadcast(hash: Hash) {
      await sql.transaction(async (tx) => {
        await tx.query(`update ${s}.txs set state = 'pending' where id = (select tx_id from ${s}.attempts where hash = $1) and state = 'signed'`, [hash]);
        await tx.query(`update ${s}.attempts set broadcast_at = coalesce(broadcast_at, now()) where hash = $1`, [hash]);
      });
    },

    /**
     * The nonce is mined with one of our attempts. Jobs whose task the receipt settled are
     * confirmed; the others (skipped in a batch, or a reverted transaction) go back to be
     * prepared again, which finds out whether they are done or dead.
     */
    async markMined(
      txId: number,
      mined: { hash: Hash; blockNumber: bigint; blockHash: Hash; gasSpent: bigint; settledKeys: ReadonlySet<string> },
    ): Promise<{ confirmed: JobRecord[]; requeued: JobRecord[] }> {
      return sql.transaction(async (tx) => {
        await tx.query(
          `update ${s}.txs set state = 'mined', mined_hash = $2, mined_block = $3, mined_block_hash = $4, gas_spent = $5, mined_at = now() where id = $1`,
          [txId, mined.hash, mined.blockNumber.toString(), mined.blockHash, mined.gasSpent.toString()],
        );
        const jobs = (await tx.query(`select ${jobColumns} from ${s}.jobs where tx_id = $1 and state = 'submitted'`, [txId])).map(toJob);
        const confirmed = jobs.filter((job) => mined.settledKeys.has(job.job.key));
        const requeued = jobs.filter((job) => !mined.settledKeys.has(job.job.key));
        if (confirmed.length > 0) {
          await tx.query(`update ${s}.jobs set state = 'confirmed', confirmed_at = now(), updated_at = now() where id = any($1::bigint[])`, [
            array(confirmed.map((job) => job.id)),
          ]);
        }
        if (requeued.length > 0) {
          await tx.query(`update ${s}.jobs set state = 'received', tx_id = null, updated_at = now() where id = any($1::bigint[])`, [
            array(requeued.map((job) => job.id)),
          ]);
        }
        return { confirmed, requeued };
      });
    },

    /** The block that held the transaction left the canonical chain: wait for it (or resend) again. */
    async markReorgedOut(txId: number) {
      await sql.transaction(async (tx) => {
        await tx.query(
          `update ${s}.txs set state = 'pending', mined_hash = null, mined_block = null, mined_block_hash = null, gas_spent = null, mined_at = null
             where id = $1`,
          [txId],
        );
        await tx.query(`update ${s}.jobs set state = 'submitted', confirmed_at = null, updated_at = now() where tx_id = $1 and state = 'confirmed'`, [
          txId,
        ]);
      });
    },

    async markFinal(txId: number) {
      await sql.query(`update ${s}.txs set state = 'final' where id = $1`, [txId]);
    },

    /** The nonce was used by a transaction that is not one of our attempts. */
    async markLost(txId: number) {
      await sql.transaction(async (tx) => {
        await tx.query(`update ${s}.txs set state = 'lost' where id = $1`, [txId]);
        await tx.query(`update ${s}.jobs set state = 'received', tx_id = null, updated_at = now() where tx_id = $1`, [txId]);
      });
    },
  };
}
