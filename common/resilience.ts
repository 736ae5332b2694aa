/**
 * The one retry, back-off and circuit-breaker policy of the project, on cockatiel: every loop
 * that waits after a failure and every call that is retried takes its delays from here, so
 * there is one formula to reason about (doubling from `initialMs`, capped at `maxMs`, jittered).
 */
import {
  ConsecutiveBreaker,
  ExponentialBackoff,
  circuitBreaker,
  handleWhen,
  noJitterGenerator,
  retry,
  type CircuitBreakerPolicy,
  type IBackoff,
} from "cockatiel";

export type BackoffParameters = { initialMs: number; maxMs: number };

const backoffOf = (parameters: BackoffParameters, jitter: boolean) =>
  new ExponentialBackoff({ initialDelay: parameters.initialMs, maxDelay: parameters.maxMs, ...(jitter ? {} : { generator: noJitterGenerator }) });

/**
 * The wait after `failures` failures in a row (1 → `initialMs`), without jitter: for delays that
 * are stored (a job's `not_before`) or asserted, where the same count must give the same wait.
 */
export function backoffDelay(failures: number, parameters: BackoffParameters): number {
  if (failures <= 0) return 0;
  let step: IBackoff<unknown> = backoffOf(parameters, false).next();
  for (let i = 1; i < failures; i += 1) step = step.next(undefined);
  return step.duration;
}

/**
 * Back-off for a loop that keeps going after failures: `failed()` returns how long to wait now
 * (jittered, so replicas do not retry in step), `succeeded()` starts over.
 */
export function createBackoff(parameters: BackoffParameters) {
  const factory = backoffOf(parameters, true);
  let step: IBackoff<unknown> | undefined;
  let failures = 0;
  return {
    failed(): number {
      failures += 1;
      step = step ? step.next(undefined) : factory.next();
      return step.duration;
    },
    succeeded() {
      failures = 0;
      step = undefined;
    },
    get failures() {
      return failures;
    },
  };
}

/** Runs `run` again, with back-off, while `retryable(error)`; gives up after `attempts` tries. */
export function retryWhen<T>(run: () => Promise<T>, parameters: BackoffParameters & { attempts: number; retryable: (error: unknown) => boolean }): Promise<T> {
  return retry(handleWhen(parameters.retryable), {
    maxAttempts: parameters.attempts - 1,
    backoff: backoffOf(parameters, true),
  }).execute(run);
}

/**
 * Opens after `failures` consecutive errors that `counts(error)` accepts (others pass through
 * without touching it); after `cooldownMs` one call probes, and a success closes it.
 */
export function createBreaker(parameters: { failures: number; cooldownMs: number; counts: (error: unknown) => boolean }): CircuitBreakerPolicy {
  return circuitBreaker(handleWhen(parameters.counts), {
    halfOpenAfter: parameters.cooldownMs,
    breaker: new ConsecutiveBreaker(parameters.failures),
  });
}

export { BrokenCircuitError, CircuitState } from "cockatiel";
