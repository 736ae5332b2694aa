/** The lag's cause (domain/lag.ts): one row per situation a reader's chain client can be in. */
import { describe, expect, it } from "vitest";
import { judgeLag, type HeadObservation, type LagCause, type LagInput } from "../../domain/lag";

const NOW = 1_000_000;
const base: LagInput = { now: NOW, indexedBlock: 100, backfilled: true, observation: undefined, maxLagBlocks: 2, staleAfterMs: 10_000, rateLimitWindowMs: 30_000 };
const seen = (number: number, forMs: number, extra: Partial<HeadObservation> = {}): HeadObservation => ({ head: { number, since: NOW - forMs }, ...extra });

describe("judgeLag", () => {
  it.each<[string, Partial<LagInput>, LagCause, RegExp | null]>([
    ["no chain client, backfill done", {}, "NONE", null],
    ["no chain client, backfilling", { backfilled: false }, "CATCHING_UP", /backfill is not complete/],
    ["at the head", { observation: seen(101, 500) }, "NONE", null],
    ["within the allowed lag, despite a recent 429", { observation: seen(102, 500, { rateLimitedAt: NOW - 1_000 }) }, "NONE", null],
    ["behind a healthy head", { observation: seen(120, 500) }, "CATCHING_UP", /indexed block 100 is 20 blocks behind the head 120/],
    ["backfilling behind a healthy head", { backfilled: false, observation: seen(120, 500) }, "CATCHING_UP", /backfill is not complete/],
    ["behind, a 429 five seconds ago", { observation: seen(120, 500, { rateLimitedAt: NOW - 5_000 }) }, "RPC_RATE_LIMITED", /20 blocks behind the head 120; the RPC rate-limited \(HTTP 429\) a request 5 s ago/],
    ["behind, the last 429 long ago", { observation: seen(120, 500, { rateLimitedAt: NOW - 60_000 }) }, "CATCHING_UP", /20 blocks behind/],
    ["the head read refused with 429", { observation: seen(120, 500, { failure: { rateLimited: true, message: "HTTP 429" } }) }, "RPC_RATE_LIMITED", /refuses head reads with HTTP 429.*HTTP 429/],
    ["the head read failed otherwise", { observation: { failure: { rateLimited: false, message: "fetch failed" } } }, "RPC_UNREACHABLE", /cannot be read: fetch failed/],
    ["the head still for longer than allowed", { observation: seen(100, 12_000) }, "RPC_HEAD_STALE", /head block 100 has not moved for 12 s \(at most 10 s expected\)/],
    ["stale beats behind and a 429", { observation: seen(120, 12_000, { rateLimitedAt: NOW }) }, "RPC_HEAD_STALE", /has not moved/],
    ["the head still, but not for long", { observation: seen(100, 9_000) }, "NONE", null],
    ["the stale check off", { staleAfterMs: 0, observation: seen(100, 600_000) }, "NONE", null],
  ])("%s → %s", (_name, input, cause, message) => {
    const judgement = judgeLag({ ...base, ...input });
    expect(judgement.cause).toBe(cause);
    if (message) expect(judgement.message).toMatch(message);
    else expect(judgement.message).toBeNull();
  });
});
