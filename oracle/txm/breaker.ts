/**
 * A circuit breaker for long RPC outages: after `failures` transient errors in a row it opens
 * and the worker stops starting new work; after `cooldownMs` one probe is let through, and a
 * success closes it.
 */
export type CircuitBreaker = ReturnType<typeof createCircuitBreaker>;

export function createCircuitBreaker(parameters: { failures: number; cooldownMs: number; onChange?: (open: boolean) => void }) {
  let consecutive = 0;
  let openedAt: number | undefined;
  return {
    /** Whether a call may go out now (closed, or open long enough for a probe). */
    allows(): boolean {
      return openedAt === undefined || Date.now() - openedAt >= parameters.cooldownMs;
    },
    get open() {
      return openedAt !== undefined;
    },
    success() {
      consecutive = 0;
      if (openedAt !== undefined) {
        openedAt = undefined;
        parameters.onChange?.(false);
      }
    },
    failure() {
      consecutive += 1;
      if (consecutive >= parameters.failures) {
        const wasOpen = openedAt !== undefined;
        openedAt = Date.now();
        if (!wasOpen) parameters.onChange?.(true);
      }
    },
  };
}
