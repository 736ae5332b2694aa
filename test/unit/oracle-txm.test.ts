/**
 * The transaction manager (oracle/txm) without a node: its pure decisions as tables, then the
 * manager end to end against an in-memory chain (./fake-chain) with its real store on PGlite in
 * memory and a real signing lease. Durations are tiny and real: the store's timestamps come
 * from the database clock, which a fake timer would not move.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import {
  BaseError as ViemError,
  ContractFunctionExecutionError,
  ContractFunctionRevertedError,
  EstimateGasExecutionError,
  ExecutionRevertedError,
  HttpRequestError,
  RpcRequestError,
  TimeoutError,
  encodeErrorResult,
  getAddress,
  keccak256,
  stringToHex,
  type Address,
  type Hex,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { inferencePaymentAbi } from "../../abis";
import { BaseError } from "../../common/errors";
import { migrateSchema } from "../../oracle/db/migrate";
import { createPgliteSql } from "../../common/sql";
import { createMetrics } from "../../oracle/metrics";
import { bumpAction, type BumpAction } from "../../oracle/txm/bumper";
import { classifyError, revertReason, type ErrorClass } from "../../oracle/txm/classify";
import { isConfirmed, recheckVerdict } from "../../oracle/txm/confirmer";
import { bumpedFees } from "../../oracle/txm/fees";
import { createLease, type Lease } from "../../oracle/txm/lease";
import { createTxManager } from "../../oracle/txm/manager";
import { LeaseLostError, createTxStore } from "../../oracle/txm/store";
import { TX_TRANSITIONS, nextTxState, type TxTransition } from "../../oracle/txm/states";
import type { Attempt, TxOutcome, TxState, TxmSettings } from "../../oracle/txm/types";
import { createFakeChain } from "./fake-chain";

const GWEI = 1_000_000_000n;

describe("bumpedFees", () => {
  const settings = (bumpPercent: number, maxFee: bigint) => ({ bumpPercent, maxFee });
  it.each([
    // [what, previous, market, bump %, cap, expected]
    ["bumps both fields by the percentage", { maxFee: 100n, priorityFee: 10n }, { maxFee: 50n, priorityFee: 5n }, 20, 1_000n, { maxFee: 120n, priorityFee: 12n }],
    ["takes the market when it is higher", { maxFee: 100n, priorityFee: 10n }, { maxFee: 300n, priorityFee: 30n }, 20, 1_000n, { maxFee: 300n, priorityFee: 30n }],
    ["takes the market on one field and the bump on the other", { maxFee: 100n, priorityFee: 10n }, { maxFee: 300n, priorityFee: 5n }, 20, 1_000n, { maxFee: 300n, priorityFee: 12n }],
    ["caps the max fee", { maxFee: 100n, priorityFee: 10n }, { maxFee: 50n, priorityFee: 5n }, 50, 130n, { maxFee: 130n, priorityFee: 15n }],
    ["caps the market too", { maxFee: 100n, priorityFee: 10n }, { maxFee: 500n, priorityFee: 50n }, 20, 200n, { maxFee: 200n, priorityFee: 50n }],
    ["keeps the priority fee under the max fee", { maxFee: 100n, priorityFee: 100n }, { maxFee: 50n, priorityFee: 5n }, 20, 115n, { maxFee: 115n, priorityFee: 115n }],
    ["rounds up, so +10% of a tiny fee is not zero", { maxFee: 1n, priorityFee: 1n }, { maxFee: 1n, priorityFee: 1n }, 10, 1_000n, { maxFee: 2n, priorityFee: 2n }],
    ["refuses when the cap leaves under +10% on the max fee", { maxFee: 100n, priorityFee: 10n }, { maxFee: 50n, priorityFee: 5n }, 20, 109n, undefined],
    ["refuses at the cap already", { maxFee: 100n, priorityFee: 10n }, { maxFee: 500n, priorityFee: 50n }, 20, 100n, undefined],
    ["refuses when the cap leaves under +10% on the priority fee", { maxFee: 100n, priorityFee: 100n }, { maxFee: 50n, priorityFee: 5n }, 20, 105n, undefined],
    ["refuses a bump under 10% that the market does not lift", { maxFee: 100n, priorityFee: 10n }, { maxFee: 50n, priorityFee: 5n }, 5, 1_000n, undefined],
  ])("%s", (_what, previous, market, bumpPercent, cap, expected) => {
    expect(bumpedFees(previous, market, settings(bumpPercent, cap))).toEqual(expected);
  });
});

describe("bumpAction", () => {
  const NOW = 100_000;
  const settings = { stuckAfterMs: 1_000, rebroadcastMs: 300, maxAttempts: 3 };
  /** Attempts made `ago` ms before NOW, the latest broadcast `sentAgo` ms before NOW (or never). */
  const attempts = (count: number, ago: number, sentAgo?: number): Attempt[] =>
    Array.from({ length: count }, (_, index) => ({
      id: index,
      hash: keccak256(stringToHex(`attempt ${index}`)),
      raw: "0x",
      maxFee: 1n,
      priorityFee: 1n,
      createdAt: NOW - ago,
      broadcastAt: sentAgo === undefined || index < count - 1 ? undefined : NOW - sentAgo,
      noop: false,
    }));
  const tx = (nonce: number | undefined, list: Attempt[], noop = false) => ({ nonce, noop, attempts: list });

  it.each<[string, ReturnType<typeof tx>, number, number | undefined, BumpAction]>([
    // [what, tx, mined nonce, last sent by this process (ms ago), action]
    ["no nonce yet: skip", tx(undefined, attempts(1, 5_000, 5_000)), 0, undefined, "skip"],
    ["below the mined nonce: skip (the confirmer's)", tx(4, attempts(1, 5_000, 5_000)), 5, undefined, "skip"],
    ["at the mined nonce: not skipped", tx(5, attempts(1, 5_000, 5_000)), 5, undefined, "bump"],
    ["never broadcast: broadcast", tx(0, attempts(1, 10)), 0, undefined, "broadcast"],
    ["never broadcast, even when stuck: broadcast first", tx(0, attempts(1, 5_000)), 0, undefined, "broadcast"],
    ["sent by this process though never marked: wait", tx(0, attempts(1, 200)), 0, 100, "wait"],
    ["stuck exactly at the threshold: bump", tx(0, attempts(1, 1_000, 1_000)), 0, undefined, "bump"],
    ["stuck below max attempts: bump", tx(0, attempts(2, 5_000, 5_000)), 0, undefined, "bump"],
    ["stuck at max attempts: no-op", tx(0, attempts(3, 5_000, 5_000)), 0, undefined, "noop"],
    ["stuck past max attempts: no-op", tx(0, attempts(4, 5_000, 5_000)), 0, undefined, "noop"],
    ["a stuck no-op is bumped, never no-op'd again", tx(0, attempts(4, 5_000, 5_000), true), 0, undefined, "bump"],
    ["not stuck, sent rebroadcastMs ago: rebroadcast", tx(0, attempts(1, 999, 300)), 0, undefined, "rebroadcast"],
    ["not stuck, sent just now: wait", tx(0, attempts(1, 999, 299)), 0, undefined, "wait"],
    ["this process's last send counts over the stored one: wait", tx(0, attempts(1, 999, 900)), 0, 100, "wait"],
    ["this process's last send is old: rebroadcast", tx(0, attempts(1, 999, 900)), 0, 400, "rebroadcast"],
  ])("%s", (_what, record, minedNonce, sentAgo, expected) => {
    expect(bumpAction(record, NOW, minedNonce, sentAgo === undefined ? undefined : NOW - sentAgo, settings)).toBe(expected);
  });
});

describe("confirmations and re-checks", () => {
  it.each([
    // [receipt block, head, confirmations, confirmed]
    [10n, 10n, 1, true],
    [10n, 10n, 2, false],
    [10n, 11n, 2, true],
    [10n, 20n, 12, false],
    [10n, 21n, 12, true],
    [10n, 9n, 1, false], // a receipt above the head (the head was reorged back)
    [10n, 10n, 0, true],
  ])("receipt in block %s, head %s, %s confirmations → %s", (block, head, confirmations, expected) => {
    expect(isConfirmed(block, head, confirmations)).toBe(expected);
  });

  const MINED = keccak256(stringToHex("mined block"));
  const OTHER = keccak256(stringToHex("other block"));
  it.each([
    // [what, verdict, canonical hash of the mined block (10), head, finality depth]
    ["same block, inside the window", "mined", MINED, 12n, 5],
    ["same block, one short of final", "mined", MINED, 14n, 5],
    ["same block, at the finality depth", "final", MINED, 15n, 5],
    ["another block at that height", "reorged", OTHER, 12n, 5],
    ["another block at that height, however deep", "reorged", OTHER, 100n, 5],
    ["no block at that height (head went back)", "reorged", undefined, 9n, 5],
  ] as const)("%s → %s", (_what, verdict, canonical, head, depth) => {
    expect(recheckVerdict({ minedBlock: 10n, minedBlockHash: MINED }, canonical, head, depth)).toBe(verdict);
  });
});

describe("TX_TRANSITIONS", () => {
  const STATES: TxState[] = ["unstarted", "signed", "pending", "mined", "final", "rejected", "lost"];
  // Written out rather than derived from TX_TRANSITIONS, so that a change to the table shows here.
  const ALLOWED: Record<TxTransition, Partial<Record<TxState, TxState>>> = {
    assigned: { unstarted: "signed" },
    rejected: { unstarted: "rejected" },
    broadcast: { signed: "pending" },
    mined: { signed: "mined", pending: "mined" },
    reorged: { mined: "pending" },
    final: { mined: "final" },
    lost: { signed: "lost", pending: "lost" },
  };

  it("has exactly the transitions listed here", () => {
    expect(Object.keys(TX_TRANSITIONS).sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  const pairs = (Object.keys(ALLOWED) as TxTransition[]).flatMap((transition) => STATES.map((state) => [transition, state, ALLOWED[transition][state]] as const));
  it.each(pairs)("%s from %s → %s", (transition, state, expected) => {
    expect(nextTxState(state, transition)).toBe(expected);
  });

  it.each<[string, TxState, TxTransition]>([
    ["a final transaction is not reorged", "final", "reorged"],
    ["a rejected request gets no nonce", "rejected", "assigned"],
    ["a lost transaction is not mined", "lost", "mined"],
    ["a re-send does not move a pending transaction", "pending", "broadcast"],
    ["an unstarted request is not mined", "unstarted", "mined"],
    ["a mined transaction is not lost", "mined", "lost"],
  ])("refused: %s", (_what, state, transition) => {
    expect(nextTxState(state, transition)).toBeUndefined();
  });

  it("leaves final, rejected and lost with no way out", () => {
    for (const state of ["final", "rejected", "lost"] as const) {
      expect((Object.keys(ALLOWED) as TxTransition[]).filter((transition) => nextTxState(state, transition) !== undefined)).toEqual([]);
    }
  });
});

describe("classifyError", () => {
  const url = "http://rpc.test";
  const rpc = (message: string) => new RpcRequestError({ body: {}, error: { code: -32000, message }, url });
  const TASK_NODE: Address = "0x00000000000000000000000000000000000000aa";
  const customError = encodeErrorResult({ abi: inferencePaymentAbi, errorName: "NodeNotActive", args: [TASK_NODE] });
  const reverted = new ContractFunctionRevertedError({ abi: inferencePaymentAbi, functionName: "completeTask", data: customError });
  const executionReverted = (message: string) => new ExecutionRevertedError({ cause: rpc(message), message });

  it.each<[string, ErrorClass, unknown]>([
    ["HttpRequestError", "transient", new HttpRequestError({ url, status: 502, body: {} })],
    ["TimeoutError", "transient", new TimeoutError({ url, body: {} })],
    ["a timeout under an estimate's error", "transient", new EstimateGasExecutionError(new TimeoutError({ url, body: {} }), {})],
    ["ContractFunctionRevertedError", "revert", reverted],
    ["a revert under a contract call's error", "revert", new ContractFunctionExecutionError(reverted, { abi: inferencePaymentAbi, functionName: "failTask", args: [keccak256("0x01"), TASK_NODE] })],
    ["an estimate the node reverted", "revert", new EstimateGasExecutionError(executionReverted("execution reverted: Unauthorized"), {})],
    ["a plain 'execution reverted' message", "revert", new Error("execution reverted: NodeNotActive")],
    ["'already known'", "probably_sent", rpc("already known")],
    ["'nonce too low'", "probably_sent", rpc("nonce too low: next nonce 5, tx nonce 4")],
    ["'nonce too low' as a plain Error", "probably_sent", new Error("nonce too low")],
    ["'replacement transaction underpriced' (the same nonce is in the pool)", "probably_sent", rpc("replacement transaction underpriced")],
    ["'max fee per gas less than block base fee'", "underpriced", rpc("max fee per gas less than block base fee: address 0x1, maxFeePerGas: 1, baseFee: 7")],
    ["'transaction underpriced'", "underpriced", rpc("transaction underpriced")],
    ["a retryable BaseError", "transient", new BaseError("store busy", { retryable: true })],
    ["a non-retryable BaseError", "fatal", new BaseError("bad config")],
    ["a non-retryable BaseError whatever its message says", "fatal", new BaseError("nonce too low")],
    ["a viem error we cannot place", "transient", new ViemError("something odd")],
    ["a node error we cannot place", "transient", rpc("something odd")],
    ["'fetch failed'", "transient", new Error("fetch failed")],
    ["ECONNREFUSED", "transient", new Error("connect ECONNREFUSED 127.0.0.1:8545")],
    ["a plain Error", "fatal", new Error("cannot read properties of undefined")],
    ["a TypeError", "fatal", new TypeError("x is not a function")],
  ])("%s → %s", (_what, expected, error) => {
    expect(classifyError(error)).toBe(expected);
  });

  it.each<[string, unknown, string]>([
    ["a custom error with its arguments", reverted, `NodeNotActive(${getAddress(TASK_NODE)})`],
    ["a node's revert message", new EstimateGasExecutionError(executionReverted("execution reverted: Unauthorized"), {}), "Execution reverted with reason: Unauthorized."],
    ["a plain error's message", new Error("execution reverted: boom"), "execution reverted: boom"],
  ])("revertReason: %s", (_what, error, expected) => {
    expect(revertReason(error)).toBe(expected);
  });
});

describe("the transaction manager against a fake chain", () => {
  const CHAIN_ID = 31337;
  const TARGET: Address = "0x00000000000000000000000000000000000000c0";
  const REVERTING: Address = "0x00000000000000000000000000000000000000dd";
  const logger = pino({ level: "silent" });
  const SETTINGS: TxmSettings = {
    confirmations: 1,
    finalityDepth: 10,
    stuckAfterMs: 60_000,
    rebroadcastMs: 60_000,
    bumpPercent: 20,
    maxFee: 100n * GWEI,
    maxAttempts: 3,
    maxInFlight: 16,
    leaseMs: 30_000,
  };
  // One schema: each test signs with a fresh key, and the store keeps every key's rows apart.
  const schema = "txm_unit";
  let sql: Awaited<ReturnType<typeof createPgliteSql>>;
  const leases: Lease[] = [];

  beforeAll(async () => {
    sql = await createPgliteSql({ dataDir: "memory://" });
    await migrateSchema({ pglite: sql.pglite }, schema);
  });
  afterEach(async () => {
    for (const lease of leases.splice(0)) await lease.stop();
  });
  afterAll(async () => {
    await sql?.close();
  });

  /** A manager with a fresh key and chain; its lease started unless told. */
  async function harness(overrides: Partial<TxmSettings> = {}, options: { startLease?: boolean } = {}) {
    const settings = { ...SETTINGS, ...overrides };
    const account = privateKeyToAccount(generatePrivateKey());
    const chain = createFakeChain();
    const outcomes: TxOutcome[] = [];
    const store = createTxStore({
      sql,
      schema,
      chainId: CHAIN_ID,
      from: account.address,
      onOutcome: async (outcome) => {
        outcomes.push(outcome);
      },
    });
    const holder = `holder:${account.address}`;
    const lease = createLease({ store, holder, ttlMs: settings.leaseMs, logger });
    leases.push(lease);
    if (options.startLease ?? true) expect(await lease.start()).toBe(true);
    const metrics = createMetrics();
    const txm = createTxManager({ chain: chain.backend, store, account, chainId: CHAIN_ID, settings, metrics, logger, crash: { hit() {} }, lease, holder });
    const send = (key: string, to: Address = TARGET) => txm.send({ idempotencyKey: key, to, data: stringToHex(key) });
    const tick = () => txm.tick({ sendNew: true });
    return { settings, account, chain, outcomes, store, holder, lease, txm, send, tick };
  }

  const dataOf = (key: string): Hex => stringToHex(key);

  it("keeps one request per idempotency key", async () => {
    const { txm, store, chain, tick } = await harness();
    const first = await txm.send({ idempotencyKey: "call-1", to: TARGET, data: "0x01" });
    const second = await txm.send({ idempotencyKey: "call-1", to: TARGET, data: "0x02" });
    expect(first.created).toBe(true);
    expect(second).toEqual({ id: first.id, created: false });
    expect(await tick()).toEqual({ unmined: 1, sent: 1 });
    expect(chain.pooled().map((tx) => tx.data)).toEqual(["0x01"]);
    expect((await store.byKey("call-1"))?.data).toBe("0x01");
  });

  it("saves a request in the caller's transaction, and not at all when that rolls back", async () => {
    const { txm, store } = await harness();
    await expect(
      sql.transaction(async (run) => {
        await txm.send({ idempotencyKey: "rolled-back", to: TARGET, data: "0x" }, run);
        throw new Error("the caller's own write failed");
      }),
    ).rejects.toThrow("the caller's own write failed");
    expect(await store.byKey("rolled-back")).toBeUndefined();
  });

  it("signs and broadcasts in request order at consecutive nonces", async () => {
    const { send, tick, chain, store } = await harness();
    const keys = ["e", "b", "d", "a", "c"];
    for (const key of keys) await send(key);
    expect(await tick()).toEqual({ unmined: 5, sent: 5 });
    expect(chain.pooled().map((tx) => [tx.nonce, tx.data])).toEqual(keys.map((key, nonce) => [nonce, dataOf(key)]));
    expect(chain.sends.map((sent) => sent.answer)).toEqual(Array(5).fill("accepted"));
    for (const [nonce, key] of keys.entries()) expect(await store.byKey(key)).toMatchObject({ nonce, state: "pending" });
  });

  it("reports exactly one mined outcome, with the receipt, once confirmed, and finalizes", async () => {
    const { send, tick, chain, outcomes, store } = await harness({ confirmations: 2, finalityDepth: 3 });
    await send("call-1");
    await tick();
    const [sent] = chain.pooled();
    chain.mine();
    await tick();
    expect(outcomes).toEqual([]); // one confirmation of two
    chain.mine();
    await tick();
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ type: "mined", idempotencyKey: "call-1", receipt: { transactionHash: sent!.hash, blockNumber: 1n, status: "success" } });
    expect(await store.byKey("call-1")).toMatchObject({ state: "mined", minedHash: sent!.hash, minedBlock: 1n });
    chain.mineBlocks(2);
    await tick();
    expect(await store.byKey("call-1")).toMatchObject({ state: "final" });
    await tick();
    expect(outcomes).toHaveLength(1);
  });

  it("drops a request whose estimate reverts without spending a nonce", async () => {
    const { send, tick, chain, outcomes, store } = await harness();
    chain.revertEstimatesTo(REVERTING, "NodeNotActive");
    await send("reverts", REVERTING);
    await send("next");
    expect(await tick()).toEqual({ unmined: 1, sent: 1 });
    expect(outcomes).toEqual([{ type: "dropped", idempotencyKey: "reverts", reason: "reverted", detail: expect.stringContaining("NodeNotActive") }]);
    expect(await store.byKey("reverts")).toMatchObject({ state: "rejected", nonce: undefined, attempts: [] });
    expect(await store.byKey("next")).toMatchObject({ state: "pending", nonce: 0 });
    expect(chain.pooled().map((tx) => [tx.nonce, tx.data])).toEqual([[0, dataOf("next")]]);
    await send("after");
    await tick();
    expect(await store.byKey("after")).toMatchObject({ nonce: 1 });
  });

  it("replaces a stuck transaction at the same nonce with higher fees, and the replacement is mined", async () => {
    const { send, tick, chain, outcomes, store } = await harness({ stuckAfterMs: 0, maxAttempts: 5 });
    await send("stuck");
    await tick();
    await tick();
    const record = (await store.byKey("stuck"))!;
    expect(record.attempts).toHaveLength(2);
    const [first, second] = record.attempts;
    expect(second!.maxFee).toBeGreaterThanOrEqual((first!.maxFee * 120n) / 100n);
    expect(second!.priorityFee).toBeGreaterThanOrEqual((first!.priorityFee * 120n) / 100n);
    expect(chain.sends.map((sent) => [sent.nonce, sent.answer])).toEqual([
      [0, "accepted"],
      [0, "replaced"],
    ]);
    expect(chain.pooled().map((tx) => tx.hash)).toEqual([second!.hash]);
    chain.mine();
    await tick();
    expect(outcomes).toEqual([{ type: "mined", idempotencyKey: "stuck", receipt: expect.objectContaining({ transactionHash: second!.hash }) }]);
  });

  it("after the last attempt replaces the request with a no-op, and reports it dropped once the no-op is mined", async () => {
    const { send, tick, chain, outcomes, store, account } = await harness({ stuckAfterMs: 0, maxAttempts: 2 });
    await send("hopeless");
    await tick(); // attempt 1
    await tick(); // attempt 2: a bump
    await tick(); // attempt 3: the no-op
    const given = (await store.byKey("hopeless"))!;
    expect(given).toMatchObject({ noop: true, nonce: 0 });
    expect(given.attempts.map((attempt) => attempt.noop)).toEqual([false, false, true]);
    // Nothing is reported yet: an earlier attempt could still win the nonce.
    expect(outcomes).toEqual([]);
    await tick(); // a stuck no-op is bumped again, still a no-op
    expect((await store.byKey("hopeless"))!.attempts).toHaveLength(4);
    expect(chain.pooled()).toMatchObject([{ nonce: 0, to: account.address.toLowerCase(), data: "0x", gas: 21_000n }]);
    chain.mine();
    await tick();
    expect(chain.minedTxs()).toMatchObject([{ nonce: 0, to: account.address.toLowerCase(), data: "0x" }]);
    expect(await store.byKey("hopeless")).toMatchObject({ state: "mined" });
    expect(outcomes).toEqual([{ type: "dropped", idempotencyKey: "hopeless", reason: "replaced", detail: expect.any(String) }]);
  });

  it("at the fee cap re-sends the same bytes instead of signing a replacement the node would refuse", async () => {
    const { send, tick, chain, store } = await harness({ stuckAfterMs: 0, maxFee: 2n * GWEI });
    chain.setFees({ maxFee: 5n * GWEI, priorityFee: GWEI / 10n });
    await send("capped");
    await tick();
    await tick();
    await tick();
    const record = (await store.byKey("capped"))!;
    expect(record.attempts).toHaveLength(1);
    expect(record.attempts[0]!.maxFee).toBe(2n * GWEI);
    expect(chain.sends.map((sent) => sent.answer)).toEqual(["accepted", "already known", "already known"]);
  });

  // KNOWN BUG, kept as a failing expectation: the request is reported dropped when its no-op is
  // signed, but an earlier attempt can still be mined before the no-op replaces it. The caller
  // then asks again (the outcome says "never mined") for a call that was executed, and the
  // receipt is not reported because the record is now a no-op. Remove `.fails` once fixed.
  it("reports the receipt when an earlier attempt is mined while its no-op is being sent", async () => {
    const { send, tick, chain, outcomes, store } = await harness({ stuckAfterMs: 0, maxAttempts: 2 });
    await send("raced");
    await tick(); // attempt 1
    await tick(); // attempt 2
    const { attempts } = (await store.byKey("raced"))!;
    chain.beforeNextSend(() => chain.mine()); // attempt 2's block arrives while the no-op is sent
    await tick(); // the no-op: "nonce too low"
    await tick();
    expect(chain.minedTxs().map((tx) => tx.hash)).toEqual([attempts[1]!.hash]);
    expect(outcomes).toEqual([{ type: "mined", idempotencyKey: "raced", receipt: expect.objectContaining({ transactionHash: attempts[1]!.hash }) }]);
  });

  it("confirms on the next tick when the chain mines each transaction at once", async () => {
    const { send, tick, chain, outcomes, store } = await harness();
    chain.automine = true;
    await send("a");
    await send("b");
    await tick();
    expect(chain.pooled()).toEqual([]);
    expect(chain.minedTxs().map((tx) => tx.nonce)).toEqual([0, 1]);
    await tick();
    expect(outcomes.map((outcome) => [outcome.type, outcome.idempotencyKey])).toEqual([
      ["mined", "a"],
      ["mined", "b"],
    ]);
    expect(await store.byKey("b")).toMatchObject({ state: "mined", nonce: 1 });
  });

  it.each([
    ["goes back to the pool", false, SETTINGS.rebroadcastMs],
    ["is dropped by the node, so the bumper sends the same bytes again", true, 0],
  ])("reports a mined transaction whose block is reorged out, then mined again, when it %s", async (_what, dropTransactions, rebroadcastMs) => {
    const { send, tick, chain, outcomes, store } = await harness({ rebroadcastMs });
    await send("call-1");
    await tick();
    const [sent] = chain.pooled();
    const first = chain.mine();
    await tick();
    expect(outcomes.map((outcome) => outcome.type)).toEqual(["mined"]);
    chain.reorg(1, { dropTransactions });
    chain.mine(); // a block at the same height with another hash
    await tick();
    expect(outcomes.map((outcome) => outcome.type)).toEqual(["mined", "reorged"]);
    expect(await store.byKey("call-1")).toMatchObject({ state: "pending", minedBlock: undefined });
    if (dropTransactions) chain.mine(); // the bytes the bumper re-sent
    await tick();
    expect(outcomes.map((outcome) => outcome.type)).toEqual(["mined", "reorged", "mined"]);
    const again = outcomes[2] as Extract<TxOutcome, { type: "mined" }>;
    expect(again.receipt.transactionHash).toBe(sent!.hash);
    expect(again.receipt.blockHash).not.toBe(first.hash);
    expect(chain.minedTxs().map((tx) => tx.hash)).toEqual([sent!.hash]);
  });

  it("re-sends a reorged transaction's bytes rather than judging it stuck by its old attempt's age", async () => {
    // Its fees were enough to be mined: the stuck clock starts again when it is reorged out, so
    // the last attempt's age neither bumps it nor, at max attempts, drops it for a no-op.
    const stuckAfterMs = 400;
    const { send, tick, chain, outcomes, store } = await harness({ stuckAfterMs, maxAttempts: 2 });
    await send("call-1");
    await tick();
    await sleep(stuckAfterMs + 20);
    await tick(); // a bump: the last attempt
    const { attempts } = (await store.byKey("call-1"))!;
    expect(attempts).toHaveLength(2);
    chain.mine();
    await tick();
    await sleep(stuckAfterMs + 20); // the reorg comes later than stuckAfterMs after the last attempt
    chain.reorg(1);
    await tick();
    expect(outcomes.map((outcome) => outcome.type)).toEqual(["mined", "reorged"]);
    expect(await store.byKey("call-1")).toMatchObject({ state: "pending", noop: false, attempts: [{ hash: attempts[0]!.hash }, { hash: attempts[1]!.hash }] });
    chain.mine();
    await tick();
    expect(outcomes.map((outcome) => outcome.type)).toEqual(["mined", "reorged", "mined"]);
    expect(chain.minedTxs().map((tx) => tx.hash)).toEqual([attempts[1]!.hash]);
  });

  it("drops a request whose nonce a foreign transaction took, after the confirmer's misses", async () => {
    const { send, tick, chain, outcomes, store, account } = await harness();
    await send("taken");
    await tick();
    const [ours] = chain.pooled();
    // The same key signs elsewhere, paying enough to replace ours in the pool.
    const foreign = await account.signTransaction({
      type: "eip1559",
      chainId: CHAIN_ID,
      nonce: 0,
      to: account.address,
      gas: 21_000n,
      maxFeePerGas: ours!.maxFee * 2n,
      maxPriorityFeePerGas: ours!.priorityFee * 2n,
    });
    await chain.backend.sendRawTransaction({ serializedTransaction: foreign });
    chain.mine();
    await tick();
    expect(outcomes).toEqual([]); // one miss could be a node that has not indexed the receipt yet
    let ticks = 1;
    while (outcomes.length === 0 && ticks < 10) {
      await tick();
      ticks += 1;
    }
    expect(ticks).toBeLessThanOrEqual(5);
    expect(outcomes).toEqual([{ type: "dropped", idempotencyKey: "taken", reason: "nonce_taken", detail: expect.stringContaining("nonce 0") }]);
    expect(await store.byKey("taken")).toMatchObject({ state: "lost" });
    await send("after");
    await tick();
    expect(await store.byKey("after")).toMatchObject({ nonce: 1, state: "pending" });
  });

  it("signs nothing while another holder has the lease", async () => {
    const { send, tick, chain, store, lease, holder } = await harness({}, { startLease: false });
    expect(await store.acquireLease("another replica", 60_000)).toBe(true);
    expect(await lease.start()).toBe(false);
    expect(lease.held).toBe(false);
    await send("call-1");
    expect(await tick()).toEqual({ unmined: 0, sent: 0 });
    expect(chain.sends).toEqual([]);
    const request = (await store.byKey("call-1"))!;
    expect(request).toMatchObject({ state: "unstarted", nonce: undefined });
    let signed = false;
    const sign = async () => {
      signed = true;
      return { hash: keccak256("0x"), raw: "0x" as Hex, maxFee: 1n, priorityFee: 1n };
    };
    await expect(store.assignNonce({ txId: request.id, holder, chainNonce: 0, gas: 21_000n, sign })).rejects.toBeInstanceOf(LeaseLostError);
    expect(signed).toBe(false);
  });

  it("fences a holder whose lease row was taken while it thought it held it", async () => {
    const { send, tick, chain, store, lease, account } = await harness();
    expect(lease.held).toBe(true);
    await sql.query(`update "${schema}".leases set holder = 'another replica' where address = $1`, [account.address.toLowerCase()]);
    await send("call-1");
    await expect(tick()).rejects.toBeInstanceOf(LeaseLostError);
    expect(chain.sends).toEqual([]);
    expect(await store.byKey("call-1")).toMatchObject({ state: "unstarted", nonce: undefined, attempts: [] });
  });

  describe("the signing lease", () => {
    /** Two replicas' leases on one key's row. */
    async function twoReplicas(ttlMs: number) {
      const { store, account } = await harness({ leaseMs: ttlMs }, { startLease: false });
      let lost = 0;
      const mine = createLease({ store, holder: "replica a", ttlMs, logger, onLost: () => (lost += 1) });
      const theirs = createLease({ store, holder: "replica b", ttlMs, logger });
      leases.push(mine, theirs);
      return { store, mine, theirs, account, lost: () => lost };
    }

    it("one holder at a time; stopping hands it over", async () => {
      const { mine, theirs } = await twoReplicas(30_000);
      expect(await mine.start()).toBe(true);
      expect(await theirs.renew()).toBe(false);
      expect([mine.held, theirs.held]).toEqual([true, false]);
      await mine.stop();
      expect(mine.held).toBe(false);
      expect(await theirs.renew()).toBe(true);
    });

    it("an expired lease can be taken over", async () => {
      const ttlMs = 300;
      const { mine, theirs } = await twoReplicas(ttlMs);
      expect(await mine.renew()).toBe(true); // renewed once, not on a timer: it lapses
      expect(await theirs.renew()).toBe(false);
      await sleep(ttlMs + 50);
      expect(mine.held).toBe(false);
      expect(await theirs.renew()).toBe(true);
      expect(await mine.renew()).toBe(false);
    });

    it("a renewal that finds the row taken says the lease was lost, once", async () => {
      const { mine, account, lost } = await twoReplicas(30_000);
      expect(await mine.renew()).toBe(true);
      await sql.query(`update "${schema}".leases set holder = 'replica b' where address = $1`, [account.address.toLowerCase()]);
      expect(await mine.renew()).toBe(false);
      expect(await mine.renew()).toBe(false);
      expect(mine.held).toBe(false);
      expect(lost()).toBe(1);
    });
  });

  it("keeps at most maxInFlight transactions unmined", async () => {
    const { send, tick, chain, txm, outcomes, store } = await harness({ maxInFlight: 2 });
    for (const key of ["a", "b", "c"]) await send(key);
    expect(await txm.room()).toBe(-1);
    expect(await tick()).toEqual({ unmined: 2, sent: 2 });
    expect(await tick()).toEqual({ unmined: 2, sent: 0 });
    expect(chain.pooled().map((tx) => tx.nonce)).toEqual([0, 1]);
    expect(await store.byKey("c")).toMatchObject({ state: "unstarted" });
    chain.mine();
    expect(await tick()).toEqual({ unmined: 1, sent: 1 });
    expect(outcomes.map((outcome) => [outcome.type, outcome.idempotencyKey])).toEqual([
      ["mined", "a"],
      ["mined", "b"],
    ]);
    expect(await store.byKey("c")).toMatchObject({ state: "pending", nonce: 2 });
    expect(await txm.room()).toBe(1);
  });
});
