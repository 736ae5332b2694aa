/**
 * The job state machine. received → ready (priced and simulated) → submitted (on a call sent to
 * the transaction manager) → confirmed (its task settled on chain), or dead (never sendable).
 * The job store writes every change through `JOB_TRANSITIONS`, so a change from a state the
 * table does not allow matches no row.
 */
export type JobState = "received" | "ready" | "submitted" | "confirmed" | "dead";

export const JOB_STATES: readonly JobState[] = ["received", "ready", "submitted", "confirmed", "dead"];

export const JOB_TRANSITIONS = {
  /** Priced and simulated: ready to go into a call. */
  prepared: { from: ["received"], to: "ready" },
  /** Already in the wanted state on chain (a duplicate, or our own settlement we lost track of). */
  alreadyDone: { from: ["received"], to: "confirmed" },
  /** Can never be settled: dead-lettered with its reason. */
  rejected: { from: ["received"], to: "dead" },
  submitted: { from: ["ready"], to: "submitted" },
  /** The call's receipt shows its task settled. */
  settled: { from: ["submitted"], to: "confirmed" },
  /** Back to be prepared again: the chain moved under it, its call was dropped, or a batch skipped it. */
  requeued: { from: ["ready", "submitted"], to: "received" },
  /** The block with its settlement left the canonical chain; the same call is being sent again. */
  reorged: { from: ["confirmed"], to: "submitted" },
} as const satisfies Record<string, { from: readonly JobState[]; to: JobState }>;

export type JobTransition = keyof typeof JOB_TRANSITIONS;

/** The state `transition` leads to from `state`, or undefined when it does not apply. */
export function nextJobState(state: JobState, transition: JobTransition): JobState | undefined {
  const rule = JOB_TRANSITIONS[transition];
  return (rule.from as readonly JobState[]).includes(state) ? rule.to : undefined;
}
