/** Fee choices: what to pay now, and what a replacement at the same nonce must pay. */
import type { ChainBackend, Fees, TxmSettings } from "./types";

const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);

/** Nodes refuse a replacement that does not pay at least 10% more on both fields. */
const REPLACEMENT_MIN_PERCENT = 10n;

const increase = (value: bigint, percent: bigint) => (value * (100n + percent) + 99n) / 100n;

/** The network's current fees, capped: the cap bounds what one stuck transaction can cost. */
export async function currentFees(chain: ChainBackend, settings: Pick<TxmSettings, "maxFee">): Promise<Fees> {
  const fees = await chain.estimateFeesPerGas();
  const maxFee = min(fees.maxFeePerGas, settings.maxFee);
  return { maxFee, priorityFee: min(fees.maxPriorityFeePerGas, maxFee) };
}

/**
 * Fees for a replacement: at least `bumpPercent` over the previous attempt on both fields, or
 * the market if that is higher, capped. Undefined when the cap leaves no room for a replacement
 * the node would accept.
 */
export function bumpedFees(previous: Fees, market: Fees, settings: Pick<TxmSettings, "bumpPercent" | "maxFee">): Fees | undefined {
  const percent = BigInt(settings.bumpPercent);
  const maxFee = min(max(increase(previous.maxFee, percent), market.maxFee), settings.maxFee);
  const priorityFee = min(max(increase(previous.priorityFee, percent), market.priorityFee), maxFee);
  if (maxFee < increase(previous.maxFee, REPLACEMENT_MIN_PERCENT) || priorityFee < increase(previous.priorityFee, REPLACEMENT_MIN_PERCENT)) return undefined;
  return { maxFee, priorityFee };
}
