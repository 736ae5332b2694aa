/**
 * The lag's cause as the API sees it (domain/lag.ts has the rule): this module keeps, per chain
 * client, what its head reads observed — the head and since when it has not moved, whether the
 * last read failed, when the RPC last answered 429. The API reads the head through a client of
 * its own rather than Ponder's: Ponder retries a failing request for up to a minute in its
 * queue, which would hide a 429 and hold a status query that long.
 */
import { createPublicClient, type PublicClient } from "viem";
import { rpcTransport } from "../common/rpc";
import { judgeLag, type HeadObservation, type LagJudgement } from "../domain/lag";
import type { ApiConfig } from "./config";
import type { IndexingStatus } from "./db";
import { headFor, type ChainHeadReader } from "./status";

/** A 429 this recent explains a lag (Ponder backs off for up to a few seconds per 429, and retries). */
const RATE_LIMIT_WINDOW_MS = 30_000;
/** A failed head read counts as rate-limited when a 429 came this recently (behind `fallback`, the last URL's error is the one thrown). */
const FAILURE_429_MS = 5_000;

const observations = new WeakMap<object, HeadObservation>();

/** The API's chain client over RPC_URL (every URL, in order); the HTTP 429s it meets are noted for the lag's cause. */
export function createApiChainClient(rpcUrl: string): PublicClient {
  const observation: HeadObservation = {};
  const client = createPublicClient({
    transport: rpcTransport(rpcUrl, {
      retryCount: 1,
      onFetchResponse: (response) => {
        if (response.status === 429) observation.rateLimitedAt = Date.now();
      },
    }),
  });
  observations.set(client, observation);
  return client;
}

const answered429 = (error: Error) => "walk" in error && typeof error.walk === "function" && Boolean(error.walk((cause: unknown) => (cause as { status?: number })?.status === 429));

/** Why `status` lags the chain's head, reading the head (cached a second, api/status.ts) and noting what the read saw. */
export async function lagOf(chain: ChainHeadReader | undefined, status: IndexingStatus, config: Pick<ApiConfig, "API_SYNCED_MAX_LAG_BLOCKS" | "API_HEAD_STALE_MS">): Promise<LagJudgement> {
  const head = await headFor(chain);
  const now = Date.now();
  let observation: HeadObservation | undefined;
  if (chain) {
    observation = observations.get(chain) ?? {};
    observations.set(chain, observation);
    if (head instanceof Error) {
      const recent429 = observation.rateLimitedAt !== undefined && now - observation.rateLimitedAt <= FAILURE_429_MS;
      observation.failure = { rateLimited: answered429(head) || recent429, message: head.message.split("\n")[0]! };
    } else if (head !== undefined) {
      observation.failure = undefined;
      if (observation.head?.number !== head) observation.head = { number: head, since: now };
    }
  }
  return judgeLag({
    now,
    indexedBlock: status.latest.number,
    backfilled: status.backfilled,
    observation,
    maxLagBlocks: config.API_SYNCED_MAX_LAG_BLOCKS,
    staleAfterMs: config.API_HEAD_STALE_MS,
    rateLimitWindowMs: RATE_LIMIT_WINDOW_MS,
  });
}
