/**
 * Polls until a condition holds: for the harness and the benches, where vitest's `vi.waitFor`
 * is not at hand. Resolves with the condition's first truthy value.
 */
import { setTimeout as sleep } from "node:timers/promises";

export async function waitUntil<T>(condition: () => T | Promise<T>, what: string, timeoutMs = 60_000, intervalMs = 100): Promise<Exclude<T, false | 0 | "" | null | undefined>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value as Exclude<T, false | 0 | "" | null | undefined>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
