/**
 * Task ids are derived on chain from the creator and a salt of the creator's choosing
 * (`InferencePayment.taskIdOf`), so nobody can open an id another user is about to open. This is
 * the same derivation off chain, so a caller knows a task's id before its createTask is mined.
 */
import { encodeAbiParameters, keccak256, toHex, type Address, type Hex } from "viem";

/** The id `createTask(salt, …)` sent by `creator` gives its task. */
export function taskIdOf(creator: Address, salt: Hex): Hex {
  return keccak256(encodeAbiParameters([{ type: "address" }, { type: "bytes32" }], [creator, salt]));
}

/** A salt from a readable label, for callers that name their tasks ("sim:<run>:<n>"). */
export function taskSalt(label: string): Hex {
  return keccak256(toHex(label));
}
