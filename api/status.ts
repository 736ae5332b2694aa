/**
 * Whether the indexer keeps up, judged by blocks: the indexed block against the chain's head
 * block. Ponder's own `is_ready` only says the backfill ended, and a block's timestamp says
 * nothing on a chain that mines no blocks (or warps its clock); a stalled indexer shows as a
 * growing distance to the head.
 */
import type { PublicClient } from "viem";
import type { ChainFinality } from "../common/finality";
import type { ApiConfig } from "./config";
import { readIndexingStatus, type ApiDb, type IndexingStatus } from "./db";

export type ChainHeadReader = Pick<PublicClient, "getBlockNumber">;

export type SyncState = {
  /** The chain's head block; null where the API has no chain client (a replica without RPC_URL). */
  headBlock: number | null;
  lagBlocks: number | null;
  synced: boolean;
  /** Why not synced, for /ready's body and operators. */
  reason: string | null;
};

/** Status queries and readiness probes share one head read per this long, however many ask. */
const HEAD_TTL_MS = 1_000;
/** How long a status read waits for the head before reporting it unreadable. */
const HEAD_WAIT_MS = 2_000;

const heads = new WeakMap<ChainHeadReader, { readAt: number; head: Promise<number> }>();

/** The chain's head block number, read at most once per HEAD_TTL_MS per chain client. */
function chainHead(chain: ChainHeadReader): Promise<number> {
  const cached = heads.get(chain);
  if (cached && Date.now() - cached.readAt <= HEAD_TTL_MS) return cached.head;
  // viem caches the block number for the client's polling interval (4 s by default): this cache replaces it.
  const head = chain.getBlockNumber({ cacheTime: 0 }).then(Number);
  heads.set(chain, { readAt: Date.now(), head });
  head.catch(() => heads.delete(chain));
  return head;
}

/** The rule, on its own: backfill over, and at most `maxLagBlocks` behind a known head. */
export function judgeSync(status: IndexingStatus, head: number | Error | undefined, maxLagBlocks: number): SyncState {
  if (head instanceof Error) {
    return { headBlock: null, lagBlocks: null, synced: false, reason: `the chain's head block cannot be read: ${head.message.split("\n")[0]}` };
  }
  if (head === undefined) {
    return { headBlock: null, lagBlocks: null, synced: status.backfilled, reason: status.backfilled ? null : "the historical backfill is not complete" };
  }
  const lagBlocks = Math.max(0, head - status.latest.number);
  if (!status.backfilled) return { headBlock: head, lagBlocks, synced: false, reason: "the historical backfill is not complete" };
  const synced = lagBlocks <= maxLagBlocks;
  return {
    headBlock: head,
    lagBlocks,
    synced,
    reason: synced ? null : `the indexed block ${status.latest.number} is ${lagBlocks} blocks behind the chain's head ${head} (at most ${maxLagBlocks} allowed)`,
  };
}

/** The head as judgeSync takes it: unknown without a chain client, an Error when the read failed. */
export async function headFor(chain: ChainHeadReader | undefined): Promise<number | Error | undefined> {
  if (!chain) return undefined;
  // A stalled RPC would hold /ready, /metrics and every status query for its whole timeout.
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Error>((resolve) => (timer = setTimeout(() => resolve(new Error(`the chain's RPC did not answer within ${HEAD_WAIT_MS} ms`)), HEAD_WAIT_MS)));
  try {
    return await Promise.race([chainHead(chain).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The indexer's progress and the rule's verdict on it, read now; undefined before Ponder's first checkpoint. */
export async function readSync(
  db: ApiDb,
  chain: ChainHeadReader | undefined,
  maxLagBlocks: number,
  finality?: ChainFinality,
): Promise<{ status: IndexingStatus; sync: SyncState } | undefined> {
  const [status, head] = await Promise.all([readIndexingStatus(db, finality).catch(() => undefined), headFor(chain)]);
  return status && { status, sync: judgeSync(status, head, maxLagBlocks) };
}

/** What /ready answers (the replica's, and the embedded API's /synced): 200 when synced, else 503 with the reason. */
export async function readiness(db: ApiDb, chain: ChainHeadReader | undefined, config: Pick<ApiConfig, "API_SYNCED_MAX_LAG_BLOCKS">) {
  const read = await readSync(db, chain, config.API_SYNCED_MAX_LAG_BLOCKS);
  if (!read) return { ok: false, body: "the indexer has not written its first checkpoint yet" };
  return { ok: read.sync.synced, body: read.sync.synced ? "ok" : read.sync.reason! };
}
