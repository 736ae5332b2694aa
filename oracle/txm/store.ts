/**
 * The transaction manager's durable state: requests, their nonce and every signed attempt, and
 * the signing lease. Signed bytes are committed before they are broadcast, so a crash re-sends
 * the very same transaction. Each state change that ends or undoes a request reports its outcome
 * to the caller inside the same database transaction.
 *
 * Lock order, for this store and its callers alike: leases → txs → attempts → the caller's
 * tables, so two replicas never wait on each other in a circle.
 */
import type { Address, Hash, Hex, TransactionReceipt } from "viem";
import { BaseError } from "../../common/errors";
import type { Row, Sql } from "../../common/sql";
import { transitionSql, type TxTransition } from "./states";
import type { Attempt, DropReason, OutcomeHandler, SignedAttempt, TxRecord, TxRequest, TxState } from "./types";

export class LeaseLostError extends BaseError {
  override name = "LeaseLostError";
}

export type TxStore = ReturnType<typeof createTxStore>;

export type CreateTxStoreParameters = {
  sql: Sql;
  schema: string;
  chainId: number;
  /** The signing address whose nonces this store hands out. */
  from: Address;
  onOutcome: OutcomeHandler;
};

const array = (values: readonly (number | string)[]) => `{${values.join(",")}}`;
const optionalBigint = (value: unknown) => (value === null || value === undefined ? undefined : BigInt(value as string));

export function createTxStore(parameters: CreateTxStoreParameters) {
  const { sql, chainId, onOutcome } = parameters;
  const from = parameters.from.toLowerCase();
  const s = `"${parameters.schema}"`;

  const toAttempt = (row: Row): Attempt => ({
    id: Number(row.id),
    hash: row.hash as Hash,
    raw: row.raw as Hex,
    maxFee: BigInt(row.max_fee as string),
    priorityFee: BigInt(row.priority_fee as string),
    createdAt: Number(row.created_ms),
    broadcastAt: row.broadcast_ms === null ? undefined : Number(row.broadcast_ms),
    noop: row.noop === true,
  });

  async function load(where: string, params: unknown[], limit = 10_000): Promise<TxRecord[]> {
    const rows = await sql.query(
      `select id::text, idempotency_key, nonce::text, kind, to_address, data, value::text, gas_limit::text, gas::text, state,
              mined_hash, mined_block::text, mined_block_hash, extract(epoch from created_at) * 1000 as created_ms
         from ${s}.txs where chain_id = $1 and from_address = $2 and ${where} order by nonce nulls last, id limit ${limit}`,
      [chainId, from, ...params],
    );
    if (rows.length === 0) return [];
    const attempts = await sql.query(
      `select id::text, tx_id::text, hash, raw, max_fee::text, priority_fee::text, noop,
              extract(epoch from created_at) * 1000 as created_ms, extract(epoch from broadcast_at) * 1000 as broadcast_ms
         from ${s}.attempts where tx_id = any($1::bigint[]) order by id`,
      [array(rows.map((row) => row.id as string))],
    );
    const byTx = new Map<string, Row[]>();
    for (const attempt of attempts) byTx.set(attempt.tx_id as string, [...(byTx.get(attempt.tx_id as string) ?? []), attempt]);
    return rows.map((row) => ({
      id: Number(row.id),
      idempotencyKey: row.idempotency_key as string,
      nonce: row.nonce === null ? undefined : Number(row.nonce),
      noop: row.kind === "noop",
      to: row.to_address as Address,
      data: row.data as Hex,
      value: BigInt(row.value as string),
      gasLimit: optionalBigint(row.gas_limit),
      gas: optionalBigint(row.gas),
      state: row.state as TxState,
      createdAt: Number(row.created_ms),
      minedHash: (row.mined_hash ?? undefined) as Hash | undefined,
      minedBlock: optionalBigint(row.mined_block),
      minedBlockHash: (row.mined_block_hash ?? undefined) as Hash | undefined,
      attempts: (byTx.get(row.id as string) ?? []).map(toAttempt),
    }));
  }

  async function keyOf(run: Sql, txId: number): Promise<string> {
    const [row] = await run.query(`select idempotency_key from ${s}.txs where id = $1`, [txId]);
    return row!.idempotency_key as string;
  }

  async function insertAttempt(run: Sql, txId: number, attempt: SignedAttempt, noop = false) {
    await run.query(`insert into ${s}.attempts (tx_id, hash, raw, max_fee, priority_fee, noop) values ($1, $2, $3, $4, $5, $6)`, [
      txId,
      attempt.hash,
      attempt.raw,
      attempt.maxFee.toString(),
      attempt.priorityFee.toString(),
      noop,
    ]);
  }

  /** Whether the attempt with `hash` is the no-op that replaced the request's call. */
  const minedNoop = (tx: TxRecord, hash: Hash | undefined) => tx.attempts.some((attempt) => attempt.noop && attempt.hash === hash);

  /**
   * Moves a transaction through `transition` (TX_TRANSITIONS), setting `columns` too; returns
   * whether it was in a state the transition starts from.
   */
  async function move(run: Sql, txId: number, transition: TxTransition, columns = "", params: unknown[] = []): Promise<boolean> {
    const { to, from } = transitionSql(transition);
    const rows = await run.query(
      `update ${s}.txs set state = $2${columns} where id = $1 and state = any($3::text[]) returning id`,
      [txId, to, from, ...params],
    );
    return rows.length > 0;
  }

  async function drop(run: Sql, txId: number, transition: "rejected" | "lost", reason: DropReason, detail: string) {
    if (await move(run, txId, transition, `, reason = $4`, [detail])) {
      await onOutcome({ type: "dropped", idempotencyKey: await keyOf(run, txId), reason, detail }, run);
    }
  }

  return {
    /**
     * Saves a request unless one with its key exists. `run` lets the caller save it in its own
     * database transaction, with whatever it records about the request.
     */
    async insertRequest(request: TxRequest, run: Sql = sql): Promise<{ id: number; created: boolean }> {
      const inserted = await run.query(
        `insert into ${s}.txs (chain_id, from_address, idempotency_key, kind, to_address, data, value, gas_limit, state)
           values ($1, $2, $3, 'request', $4, $5, $6, $7, 'unstarted')
           on conflict (chain_id, from_address, idempotency_key) do nothing returning id::text`,
        [chainId, from, request.idempotencyKey, request.to.toLowerCase(), request.data, (request.value ?? 0n).toString(), request.gasLimit?.toString() ?? null],
      );
      if (inserted.length > 0) return { id: Number(inserted[0]!.id), created: true };
      const [existing] = await run.query(`select id::text from ${s}.txs where chain_id = $1 and from_address = $2 and idempotency_key = $3`, [
        chainId,
        from,
        request.idempotencyKey,
      ]);
      return { id: Number(existing!.id), created: false };
    },

    /** Requests waiting for a nonce, in the order they were asked for. */
    unstarted: (limit: number) => load(`state = 'unstarted'`, [], limit),
    /** Signed or broadcast, not yet mined; lowest nonce first. */
    unmined: () => load(`state in ('signed', 'pending')`, []),
    /** Mined, still inside the reorg window. */
    mined: () => load(`state = 'mined'`, []),
    byKey: async (idempotencyKey: string) => (await load(`idempotency_key = $3`, [idempotencyKey]))[0],

    /** Requests waiting for a nonce, and transactions signed but not yet mined. */
    async queue(): Promise<{ unstarted: number; inFlight: number }> {
      const [row] = await sql.query(
        `select count(*) filter (where state = 'unstarted')::int as unstarted, count(*) filter (where state in ('signed', 'pending'))::int as in_flight
           from ${s}.txs where chain_id = $1 and from_address = $2 and state in ('unstarted', 'signed', 'pending')`,
        [chainId, from],
      );
      return { unstarted: Number(row!.unstarted), inFlight: Number(row!.in_flight) };
    },

    /** The estimate reverted: the request ends without a nonce. */
    reject: (txId: number, detail: string) => sql.transaction((run) => drop(run, txId, "rejected", "reverted", detail)),

    /**
     * Assigns the next nonce, signs at it and saves the attempt, in one database transaction that
     * also checks the lease is still `holder`'s (a fence against a paused replica). The nonce is
     * the store's highest + 1, fast-forwarded to `chainNonce` when a transaction from outside used
     * the key.
     */
    async assignNonce(input: {
      txId: number;
      holder: string;
      chainNonce: number;
      gas: bigint;
      sign: (nonce: number) => Promise<SignedAttempt>;
    }): Promise<TxRecord> {
      await sql.transaction(async (run) => {
        const lease = await run.query(
          `select holder from ${s}.leases where chain_id = $1 and address = $2 and holder = $3 and expires_at > now() for update`,
          [chainId, from, input.holder],
        );
        if (lease.length === 0) throw new LeaseLostError(`Signing lease for ${from} is not held by ${input.holder}`);
        const [next] = await run.query(`select coalesce(max(nonce) + 1, 0)::text as nonce from ${s}.txs where chain_id = $1 and from_address = $2`, [
          chainId,
          from,
        ]);
        const nonce = Math.max(Number(next!.nonce), input.chainNonce);
        const signed = await input.sign(nonce);
        const moved = await move(run, input.txId, "assigned", `, nonce = $4, gas = $5`, [nonce, input.gas.toString()]);
        if (!moved) throw new BaseError(`Request ${input.txId} was no longer unstarted when nonce ${nonce} was assigned`, { retryable: true });
        await insertAttempt(run, input.txId, signed);
      });
      return (await load(`id = $3`, [input.txId]))[0]!;
    },

    /**
     * A replacement at the same nonce. A no-op replacement marks the request as being given up;
     * what the caller hears waits for the nonce to be mined: the request's own call if one of its
     * earlier attempts won the race, "dropped" if the no-op did.
     */
    async addAttempt(txId: number, attempt: SignedAttempt, { noop }: { noop: boolean }) {
      await sql.transaction(async (run) => {
        if (noop) await run.query(`update ${s}.txs set kind = 'noop' where id = $1`, [txId]);
        await insertAttempt(run, txId, attempt, noop);
      });
    },

    async markBroadcast(hash: Hash) {
      await sql.transaction(async (run) => {
        const [attempt] = await run.query(`update ${s}.attempts set broadcast_at = coalesce(broadcast_at, now()) where hash = $1 returning tx_id::text`, [hash]);
        if (attempt) await move(run, Number(attempt.tx_id), "broadcast");
      });
    },

    /** Mined with one of our attempts and confirmed: the caller hears of it with the receipt. */
    async markMined(tx: TxRecord, receipt: TransactionReceipt) {
      await sql.transaction(async (run) => {
        const moved = await move(run, tx.id, "mined", `, mined_hash = $4, mined_block = $5, mined_block_hash = $6, gas_spent = $7, mined_at = now()`, [
          receipt.transactionHash,
          receipt.blockNumber.toString(),
          receipt.blockHash,
          (receipt.gasUsed * receipt.effectiveGasPrice).toString(),
        ]);
        if (!moved) return;
        if (minedNoop(tx, receipt.transactionHash)) {
          await onOutcome({ type: "dropped", idempotencyKey: tx.idempotencyKey, reason: "replaced", detail: "replaced by a no-op after the last attempt" }, run);
        } else await onOutcome({ type: "mined", idempotencyKey: tx.idempotencyKey, receipt }, run);
      });
    },

    /** The block that held it left the canonical chain: back to pending, its bytes re-sent. */
    async markReorgedOut(tx: TxRecord) {
      await sql.transaction(async (run) => {
        const moved = await move(run, tx.id, "reorged", `, mined_hash = null, mined_block = null, mined_block_hash = null, gas_spent = null, mined_at = null`);
        // Its fees were enough to be mined: the bumper's stuck clock (the latest attempt's age)
        // starts again, so it re-sends these bytes rather than bump them or, at max attempts,
        // replace them with a no-op and drop a request that was just mined.
        if (moved) await run.query(`update ${s}.attempts set created_at = now() where id = (select max(id) from ${s}.attempts where tx_id = $1)`, [tx.id]);
        // A request whose no-op was mined was reported dropped, not mined: there is nothing to undo.
        if (moved && !minedNoop(tx, tx.minedHash)) await onOutcome({ type: "reorged", idempotencyKey: tx.idempotencyKey }, run);
      });
    },

    async markFinal(txId: number) {
      await move(sql, txId, "final");
    },

    /** Its nonce was used by a transaction that is not one of our attempts. */
    markLost: (tx: TxRecord) =>
      sql.transaction(async (run) => {
        await drop(run, tx.id, "lost", "nonce_taken", `nonce ${tx.nonce} was used by a transaction that is not ours`);
      }),

    /** Takes or renews the signing lease: one sender per key, so no nonce is handed out twice. */
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
  };
}
