/**
 * Named crash points for the fault tests: ORACLE_CRASH_AT=point:n kills the process with
 * SIGKILL (no cleanup, like a power cut) the n-th time `point` is reached.
 */
import type { TxmCrashPoint } from "./txm/types";

type CrashPoint = "after-record-before-ack" | "after-dead-letter-before-mark" | TxmCrashPoint;

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
