/** One signed attempt: the exact bytes the store keeps and the broadcaster re-sends. */
import { keccak256, type Address, type Hex } from "viem";
import type { Fees, SignedAttempt, TxmContext } from "./types";

export async function signAttempt(
  context: Pick<TxmContext, "account" | "chainId">,
  tx: { nonce: number; to: Address; data: Hex; value: bigint; gas: bigint },
  fees: Fees,
): Promise<SignedAttempt> {
  const raw = await context.account.signTransaction({
    type: "eip1559",
    chainId: context.chainId,
    nonce: tx.nonce,
    to: tx.to,
    data: tx.data,
    value: tx.value,
    gas: tx.gas,
    maxFeePerGas: fees.maxFee,
    maxPriorityFeePerGas: fees.priorityFee,
  });
  return { hash: keccak256(raw), raw, maxFee: fees.maxFee, priorityFee: fees.priorityFee };
}
