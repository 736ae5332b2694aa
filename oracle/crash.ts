/**
 * Named crash points for the fault tests: ORACLE_CRASH_AT=point:n kills the process with
 * SIGKILL (no cleanup, like a power cut) the n-th time `point` is reached.
 */
export type CrashPoint =
  | "after-record-before-ack"
  | "after-dead-letter-before-mark"
  | "after-nonce-before-broadcast"
  | "after-broadcast-before-save"
  | "during-confirmation";

export type CrashPoints = { hit(point: CrashPoint): void };

export function createCrashPoints(spec: string | undefined): CrashPoints {
  if (!spec) return { hit() {} };
  const [target, count] = spec.split(":");
  let remaining = Number(count ?? 1);
  return {
    hit(point) {
      if (point !== target) return;
      remaining -= 1;
      if (remaining <= 0) process.kill(process.pid, "SIGKILL");
    },
  };
}
