/**
 * Polls until a condition holds: for the harness and the benches, where vitest's `vi.waitFor`
 * is not at hand. Resolves with the condition's first truthy value.
 */
import { setTimeout as sleep } from "node:timers/promises";

/**
 * How many times longer than on a quiet machine a deadline may take. The deadlines written in
 * the tests are what a quiet machine needs with room to spare; CI and a developer's laptop often
 * run a second test run or a build beside them, where starting Ponder alone takes minutes on two
 * cores. A deadline only costs time when something is already broken, so it is generous.
 * `TEST_TIMEOUT_SCALE` sets it (a positive number).
 */
const TIMEOUT_SCALE = (() => {
  const value = Number(process.env.TEST_TIMEOUT_SCALE ?? 3);
  if (!(value > 0)) throw new Error(`Invalid setting TEST_TIMEOUT_SCALE: must be a positive number, got "${process.env.TEST_TIMEOUT_SCALE}"`);
  return value;
})();

/** A deadline of `quietMs` on a quiet machine, allowing for a busy one (TEST_TIMEOUT_SCALE). */
export function patience(quietMs: number): number {
  return Math.round(quietMs * TIMEOUT_SCALE);
}

/** Polls `condition` until it is truthy, for at most `patience(timeoutMs)`. */
export async function waitUntil<T>(condition: () => T | Promise<T>, what: string, timeoutMs = 60_000, intervalMs = 100): Promise<Exclude<T, false | 0 | "" | null | undefined>> {
  const allowedMs = patience(timeoutMs);
  const deadline = Date.now() + allowedMs;
  for (;;) {
    const value = await condition();
    if (value) return value as Exclude<T, false | 0 | "" | null | undefined>;
    if (Date.now() > deadline) throw new Error(`timed out after ${allowedMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
