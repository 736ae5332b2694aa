/** What the transaction manager's parts share: one signer, one store, one chain. */
import { keccak256, type Address, type Hex, type LocalAccount, type PublicClient } from "viem";
import type { CrashPoints } from "../crash";
import type { Logger } from "../logger";
import type { OracleMetrics } from "../metrics";
import type { JobStore, SignedAttempt } from "../store/jobStore";

export type TxmSettings = {
  confirmations: number;
  finalityDepth: number;
  stuckAfterMs: number;
  rebroadcastMs: number;
  bumpPercent: number;
  maxFee: bigint;
  maxAttempts: number;
  maxInFlight: number;
  batchThreshold: number;
  batchSize: number;
};

export type TxmContext = {
  publicClient: PublicClient;
  account: LocalAccount;
  chainId: number;
  contract: Address;
  store: JobStore;
  settings: TxmSettings;
  metrics: OracleMetrics;
  log: Logger;
  crash: CrashPoints;
  /** Who holds the signing lease when this process does. */
  holder: string;
};

export type Fees = { maxFee: bigint; priorityFee: bigint };

const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);

/** The network's current fees, capped: the cap bounds what one stuck settlement can cost. */
export async function currentFees(context: TxmContext): Promise<Fees> {
  const fees = await context.publicClient.estimateFeesPerGas();
  const maxFee = min(fees.maxFeePerGas, context.settings.maxFee);
  return { maxFee, priorityFee: min(fees.maxPriorityFeePerGas, maxFee) };
}

/**
 * Fees for a replacement: at least `bumpPercent` over the previous attempt on both fields (nodes
 * reject a replacement under +10%), or the market if that is higher, capped. Undefined when the
 * cap leaves no room for a valid replacement.
 */
export function bumpedFees(previous: Fees, market: Fees, settings: TxmSettings): Fees | undefined {
  const bump = (value: bigint) => (value * BigInt(100 + settings.bumpPercent) + 99n) / 100n;
  const maxFee = min(max(bump(previous.maxFee), market.maxFee), settings.maxFee);
  const priorityFee = min(max(bump(previous.priorityFee), market.priorityFee), maxFee);
  const tenPercent = (value: bigint) => (value * 110n + 99n) / 100n;
  if (maxFee < tenPercent(previous.maxFee) || priorityFee < tenPercent(previous.priorityFee)) return undefined;
  return { maxFee, priorityFee };
}

export async function signAttempt(
  context: TxmContext,
  tx: { nonce: number; to: Address; data: Hex; gas: bigint },
  fees: Fees,
): Promise<SignedAttempt> {
  const raw = await context.account.signTransaction({
    type: "eip1559",
    chainId: context.chainId,
    nonce: tx.nonce,
    to: tx.to,
    data: tx.data,
    gas: tx.gas,
    value: 0n,
    maxFeePerGas: fees.maxFee,
    maxPriorityFeePerGas: fees.priorityFee,
  });
  return { hash: keccak256(raw), raw, maxFee: fees.maxFee, priorityFee: fees.priorityFee };
}
