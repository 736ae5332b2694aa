/** The project's one back-off, retry and circuit-breaker policy (common/resilience), and which SQL errors it retries. */
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { BrokenCircuitError, CircuitState, backoffDelay, createBackoff, createBreaker, retryWhen } from "../../common/resilience";
import { isTransientSqlError } from "../../common/sql";

describe("backoffDelay", () => {
  const parameters = { initialMs: 100, maxMs: 1_000 };
  it.each([
    // [failures in a row, wait]
    [0, 0],
    [-1, 0],
    [1, 100],
    [2, 200],
    [3, 400],
    [4, 800],
    [5, 1_000],
    [6, 1_000],
    [40, 1_000],
  ])("after %s failures waits %s ms", (failures, wait) => {
    expect(backoffDelay(failures, parameters)).toBe(wait);
  });

  it("gives the same wait for the same count (nothing random in it)", () => {
    expect(Array.from({ length: 5 }, () => backoffDelay(3, parameters))).toEqual(Array(5).fill(400));
  });
});

describe("createBackoff", () => {
  const parameters = { initialMs: 100, maxMs: 1_000 };
  it("jitters, never past the cap, and starts over after a success", () => {
    const backoff = createBackoff(parameters);
    const waits = Array.from({ length: 20 }, () => backoff.failed());
    expect(backoff.failures).toBe(20);
    for (const wait of waits) expect(wait).toBeGreaterThanOrEqual(0);
    for (const wait of waits) expect(wait).toBeLessThanOrEqual(parameters.maxMs);
    backoff.succeeded();
    expect(backoff.failures).toBe(0);
    // Decorrelated jitter: the first wait is within twice the initial one.
    expect(backoff.failed()).toBeLessThan(2 * parameters.initialMs);
  });

  it("spreads replicas that fail together", () => {
    const firstWaits = new Set(Array.from({ length: 20 }, () => createBackoff(parameters).failed()));
    expect(firstWaits.size).toBeGreaterThan(1);
  });
});

class Retryable extends Error {}

describe("retryWhen", () => {
  const policy = { initialMs: 1, maxMs: 2 };
  /** A call that fails with `errors[n]` on its n-th try and succeeds once they run out. */
  function flaky(errors: Error[]) {
    let tries = 0;
    const run = async () => {
      const error = errors[tries];
      tries += 1;
      if (error) throw error;
      return `ok after ${tries}`;
    };
    return { run, tries: () => tries };
  }

  it.each<[string, number, Error[], { result?: string; error?: string; tries: number }]>([
    // [what, attempts, errors by try, result]
    ["succeeds at once", 3, [], { result: "ok after 1", tries: 1 }],
    ["retries a retryable error", 3, [new Retryable("1")], { result: "ok after 2", tries: 2 }],
    ["succeeds on the last attempt", 3, [new Retryable("1"), new Retryable("2")], { result: "ok after 3", tries: 3 }],
    ["gives up after `attempts` tries, with the last error", 3, [new Retryable("1"), new Retryable("2"), new Retryable("3"), new Retryable("4")], { error: "3", tries: 3 }],
    ["one attempt is one try", 1, [new Retryable("1")], { error: "1", tries: 1 }],
    ["does not retry an error that is not retryable", 5, [new Error("fatal")], { error: "fatal", tries: 1 }],
    ["stops at the first error that is not retryable", 5, [new Retryable("1"), new Error("fatal"), new Retryable("3")], { error: "fatal", tries: 2 }],
  ])("%s", async (_what, attempts, errors, expected) => {
    const call = flaky(errors);
    const outcome = retryWhen(call.run, { ...policy, attempts, retryable: (error) => error instanceof Retryable });
    if (expected.result !== undefined) await expect(outcome).resolves.toBe(expected.result);
    else await expect(outcome).rejects.toThrow(new RegExp(`^${expected.error}$`));
    expect(call.tries()).toBe(expected.tries);
  });
});

describe("createBreaker", () => {
  const COOLDOWN_MS = 40;
  const counted = new Retryable("rpc down");
  const uncounted = new Error("a revert, not an outage");
  const breaker = () => createBreaker({ failures: 3, cooldownMs: COOLDOWN_MS, counts: (error) => error instanceof Retryable });
  const fail = (policy: ReturnType<typeof breaker>, error: Error) => policy.execute(() => Promise.reject(error)).catch((caught: unknown) => caught);

  it("opens after N counted failures in a row and then refuses without calling", async () => {
    const policy = breaker();
    for (let i = 0; i < 2; i += 1) expect(await fail(policy, counted)).toBe(counted);
    expect(policy.state).toBe(CircuitState.Closed);
    expect(await fail(policy, counted)).toBe(counted);
    expect(policy.state).toBe(CircuitState.Open);
    let called = false;
    await expect(policy.execute(async () => (called = true))).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(called).toBe(false);
  });

  it("ignores errors it does not count, which pass through", async () => {
    const policy = breaker();
    for (let i = 0; i < 10; i += 1) expect(await fail(policy, uncounted)).toBe(uncounted);
    expect(policy.state).toBe(CircuitState.Closed);
    // Nor do they break a run of counted failures: they do not touch the breaker at all.
    await fail(policy, counted);
    await fail(policy, counted);
    await fail(policy, uncounted);
    await fail(policy, counted);
    expect(policy.state).toBe(CircuitState.Open);
  });

  it("a success resets the count", async () => {
    const policy = breaker();
    await fail(policy, counted);
    await fail(policy, counted);
    await policy.execute(async () => "ok");
    await fail(policy, counted);
    await fail(policy, counted);
    expect(policy.state).toBe(CircuitState.Closed);
  });

  it("after the cooldown one call probes: a success closes it, a failure opens it again", async () => {
    const policy = breaker();
    for (let i = 0; i < 3; i += 1) await fail(policy, counted);
    expect(policy.state).toBe(CircuitState.Open);
    await sleep(COOLDOWN_MS + 10);
    expect(await fail(policy, counted)).toBe(counted);
    expect(policy.state).toBe(CircuitState.Open);
    await expect(policy.execute(async () => "ok")).rejects.toBeInstanceOf(BrokenCircuitError);
    await sleep(COOLDOWN_MS + 10);
    await expect(policy.execute(async () => "ok")).resolves.toBe("ok");
    expect(policy.state).toBe(CircuitState.Closed);
  });
});

describe("isTransientSqlError", () => {
  const sqlError = (code: unknown) => Object.assign(new Error("postgres said no"), { code });
  it.each<[string, unknown, boolean]>([
    ["a deadlock victim (40P01)", sqlError("40P01"), true],
    ["a serialization failure (40001)", sqlError("40001"), true],
    ["a plain object with the code", { code: "40001" }, true],
    ["a unique violation (23505)", sqlError("23505"), false],
    ["a lock timeout (55P03)", sqlError("55P03"), false],
    ["a plain Error", new Error("40P01"), false],
    ["undefined", undefined, false],
    ["null", null, false],
    ["the code as a string", "40P01", false],
  ])("%s → %s", (_what, error, expected) => {
    expect(isTransientSqlError(error)).toBe(expected);
  });
});
