/**
 * Why the index lags the chain, judged from what a reader's own chain client saw on its head
 * reads: failures (429 or no answer), a head that stopped moving while the clock went on, or
 * simply the indexed block far behind a healthy head. The rule is pure; callers keep the
 * observation (api/lag.ts for the API, one read for `far status` on Postgres).
 */

export const LAG_CAUSES = ["NONE", "CATCHING_UP", "RPC_RATE_LIMITED", "RPC_UNREACHABLE", "RPC_HEAD_STALE"] as const;
export type LagCause = (typeof LAG_CAUSES)[number];

/** What a chain client saw of the head; times in ms (Date.now()). */
export type HeadObservation = {
  /** The head block last read, and when it was first seen at that number. */
  head?: { number: number; since: number };
  /** Set when the latest head read failed. */
  failure?: { rateLimited: boolean; message: string };
  /** When the RPC last answered HTTP 429 to this client. */
  rateLimitedAt?: number;
};

export type LagInput = {
  now: number;
  indexedBlock: number;
  backfilled: boolean;
  /** Undefined where there is no chain client. */
  observation: HeadObservation | undefined;
  /** Lagging means more than this many blocks behind the head. */
  maxLagBlocks: number;
  /** The head not moving for this long means a stale RPC; 0 turns the check off. */
  staleAfterMs: number;
  /** A 429 this recent explains a lag. */
  rateLimitWindowMs: number;
};

export type LagJudgement = { cause: LagCause; message: string | null };

const seconds = (ms: number) => Math.round(ms / 1000);

export function judgeLag(input: LagInput): LagJudgement {
  const { now, observation } = input;
  if (observation?.failure) {
    return observation.failure.rateLimited
      ? { cause: "RPC_RATE_LIMITED", message: `the RPC refuses head reads with HTTP 429 (rate limited): ${observation.failure.message}` }
      : { cause: "RPC_UNREACHABLE", message: `the chain's head block cannot be read: ${observation.failure.message}` };
  }
  const head = observation?.head;
  if (!head) return input.backfilled ? { cause: "NONE", message: null } : { cause: "CATCHING_UP", message: "the historical backfill is not complete" };
  const still = now - head.since;
  if (input.staleAfterMs > 0 && still >= input.staleAfterMs) {
    return {
      cause: "RPC_HEAD_STALE",
      message: `the RPC's head block ${head.number} has not moved for ${seconds(still)} s (at most ${seconds(input.staleAfterMs)} s expected): the node behind RPC_URL is behind the chain, and so is the index`,
    };
  }
  const lagBlocks = Math.max(0, head.number - input.indexedBlock);
  if (input.backfilled && lagBlocks <= input.maxLagBlocks) return { cause: "NONE", message: null };
  const behind = input.backfilled ? `the indexed block ${input.indexedBlock} is ${lagBlocks} blocks behind the head ${head.number}` : "the historical backfill is not complete";
  const limitedAgo = observation.rateLimitedAt === undefined ? undefined : now - observation.rateLimitedAt;
  if (limitedAgo !== undefined && limitedAgo <= input.rateLimitWindowMs) {
    return { cause: "RPC_RATE_LIMITED", message: `${behind}; the RPC rate-limited (HTTP 429) a request ${seconds(limitedAgo)} s ago: indexing is throttled` };
  }
  return { cause: "CATCHING_UP", message: behind };
}
