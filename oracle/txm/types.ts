/**
 * The transaction manager's vocabulary. It sends calls for whoever asks and knows nothing of
 * what they mean: a request is an idempotency key, a target and calldata; an outcome is what
 * the chain did with it.
 */
import type { Address, Hash, Hex, LocalAccount, PublicClient, TransactionReceipt } from "viem";
import type { Counter, Histogram } from "prom-client";
import type { Logger } from "pino";
import type { Sql } from "../../common/sql";
import type { TxStore } from "./store";

/** What a caller asks for (op-service's TxCandidate, Chainlink's TxRequest). */
export type TxRequest = {
  /** The caller's name for this request: sending the same key again is a no-op. */
  idempotencyKey: string;
  to: Address;
  data: Hex;
  value?: bigint;
  /** Without it the manager estimates gas (with headroom) when it assigns the nonce. */
  gasLimit?: bigint;
};

/**
 * unstarted (saved, no nonce) → signed (nonce and first attempt saved) → pending (broadcast) →
 * mined (confirmed by receipt) → final (past the reorg window); rejected (the estimate reverted:
 * no nonce spent) and lost (its nonce was taken by a transaction that is not ours, or by the
 * no-op that replaced it) end a request without it being mined.
 */
export type TxState = "unstarted" | "signed" | "pending" | "mined" | "final" | "rejected" | "lost";

/** What happened to a request, reported to the caller inside the same database transaction. */
export type TxOutcome =
  | { type: "mined"; idempotencyKey: string; receipt: TransactionReceipt }
  /** A reported `mined` left the canonical chain; the same bytes are being sent again. */
  | { type: "reorged"; idempotencyKey: string }
  /** It will never be mined: the caller may ask again under a new key. */
  | { type: "dropped"; idempotencyKey: string; reason: DropReason; detail: string };

export type DropReason = "reverted" | "replaced" | "nonce_taken";

export type Fees = { maxFee: bigint; priorityFee: bigint };

export type SignedAttempt = Fees & { hash: Hash; raw: Hex };

export type Attempt = SignedAttempt & {
  id: number;
  createdAt: number;
  broadcastAt: number | undefined;
  /** The self-send that replaced the request's call after its last attempt. */
  noop: boolean;
};

export type TxRecord = {
  id: number;
  idempotencyKey: string;
  /** Undefined while unstarted or rejected. */
  nonce: number | undefined;
  /** Given up: its latest attempts are no-ops (see Attempt.noop); `to` and `data` stay the request's. */
  noop: boolean;
  to: Address;
  data: Hex;
  value: bigint;
  gasLimit: bigint | undefined;
  /** The gas limit signed with (the request's, or the estimate's); undefined until signed. */
  gas: bigint | undefined;
  state: TxState;
  createdAt: number;
  minedHash: Hash | undefined;
  minedBlock: bigint | undefined;
  minedBlockHash: Hash | undefined;
  /** Every attempt at this nonce, oldest first. */
  attempts: Attempt[];
};

export type TxmSettings = {
  confirmations: number;
  finalityDepth: number;
  stuckAfterMs: number;
  rebroadcastMs: number;
  bumpPercent: number;
  maxFee: bigint;
  maxAttempts: number;
  maxInFlight: number;
  leaseMs: number;
};

/** The chain calls the manager makes: a viem PublicClient, or a fake in unit tests. */
export type ChainBackend = Pick<
  PublicClient,
  "getTransactionCount" | "estimateGas" | "estimateFeesPerGas" | "sendRawTransaction" | "getTransactionReceipt" | "getBlock"
>;

type TxmMetrics = {
  attempts: Counter<"reason">;
  failed: Counter<"class">;
  gasSpent: Counter;
  reorgs: Counter;
  confirmationLatency: Histogram;
};

export type TxmCrashPoint = "after-nonce-before-broadcast" | "after-broadcast-before-save" | "during-confirmation";

/** Called in the database transaction that records the outcome: the caller's writes commit with it. */
export type OutcomeHandler = (outcome: TxOutcome, sql: Sql) => Promise<void>;

export type TxmContext = {
  chain: ChainBackend;
  store: TxStore;
  account: LocalAccount;
  chainId: number;
  settings: TxmSettings;
  metrics: TxmMetrics;
  logger: Logger;
  crash: { hit(point: TxmCrashPoint): void };
};
