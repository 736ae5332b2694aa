/**
 * Tasks: their ids and their statuses, as InferencePayment defines them.
 *
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

/** `InferencePayment.TaskStatus` in the contract's order: `tasks(id)` returns an index into this. */
export const TASK_STATUSES = ["NONE", "CREATED", "COMPLETED", "CANCELLED"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
/** The statuses an indexed task can have: the indexer sees a task from its creation on. */
export const INDEXED_TASK_STATUSES = ["CREATED", "COMPLETED", "CANCELLED"] as const satisfies readonly TaskStatus[];
