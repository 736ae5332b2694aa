/**
 * The transaction state machine (see TxState). The store writes every change through
 * `TX_TRANSITIONS`, so a change from a state the table does not allow matches no row.
 */
import type { TxState } from "./types";

export const TX_TRANSITIONS = {
  /** Nonce assigned, first attempt signed and saved (not yet broadcast). */
  assigned: { from: ["unstarted"], to: "signed" },
  /** The estimate reverted: no nonce was spent. */
  rejected: { from: ["unstarted"], to: "rejected" },
  broadcast: { from: ["signed"], to: "pending" },
  /** A receipt of one of its attempts, with the confirmations asked for. */
  mined: { from: ["signed", "pending"], to: "mined" },
  /** Its block left the canonical chain: its bytes are sent again. */
  reorged: { from: ["mined"], to: "pending" },
  final: { from: ["mined"], to: "final" },
  /** Its nonce was mined by a transaction that is not one of its attempts. */
  lost: { from: ["signed", "pending"], to: "lost" },
} as const satisfies Record<string, { from: readonly TxState[]; to: TxState }>;

export type TxTransition = keyof typeof TX_TRANSITIONS;

export function nextTxState(state: TxState, transition: TxTransition): TxState | undefined {
  const rule = TX_TRANSITIONS[transition];
  return (rule.from as readonly TxState[]).includes(state) ? rule.to : undefined;
}

/** SQL for a guarded state change: `set state = <to>` … `and state = any(<from>)`. */
export const transitionSql = (transition: TxTransition) => {
  const rule = TX_TRANSITIONS[transition];
  return { to: rule.to, from: `{${rule.from.join(",")}}` };
};
