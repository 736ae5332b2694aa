/**
 * Indexing progress: how far Ponder has committed, read from its `_ponder_checkpoint` table.
 * That table is written in the same transaction as the rows it covers, so a reader that sees a
 * checkpoint also sees its data. Its strings are Ponder's fixed-width encoding: block timestamp
 * (10 digits), chain id (16), block number (16), then the position inside the block.
 */
import type { ChainTags, TaggedBlock } from "../common/finality";

/** Runs one read-only SQL statement against the indexer's schema and returns its rows (any driver: postgres.js, PGlite). */
export type QueryRows = (sql: string) => Promise<Record<string, unknown>[]>;

/** One chain's progress: its latest, safe and finalized committed blocks. */
export type ChainProgress = {
  chainName: string;
  chainId: number;
  latest: BlockPoint;
  safe: BlockPoint;
  finalized: BlockPoint;
};

export type BlockPoint = { number: number; timestamp: number };

/** A `_ponder_checkpoint` row, whichever driver read it: its points still in Ponder's encoding. */
export type CheckpointRow = Pick<ChainProgress, "chainName" | "chainId"> & Record<"latestCheckpoint" | "safeCheckpoint" | "finalizedCheckpoint", string>;

export function decodeCheckpoint(checkpoint: string): BlockPoint {
  return { timestamp: Number(checkpoint.slice(0, 10)), number: Number(checkpoint.slice(26, 42)) };
}

export function progressOf(row: CheckpointRow): ChainProgress {
  return {
    chainName: row.chainName,
    chainId: row.chainId,
    latest: decodeCheckpoint(row.latestCheckpoint),
    safe: decodeCheckpoint(row.safeCheckpoint),
    finalized: decodeCheckpoint(row.finalizedCheckpoint),
  };
}

/** Where a progress's safe and finalized blocks come from: the chain's tags, or the indexer's fixed depth (Ponder's). */
export type FinalitySource = "chain" | "depth";

/**
 * The progress with the chain's own tags applied: a tagged block counts as safe (finalized) only
 * once the indexer committed it, so neither ever runs ahead of the committed block, and neither
 * moves behind the indexer's own fixed-depth answer (kept as `finalizedByDepth`: a block below it
 * is final whatever fork the indexer read it from, since Ponder itself no longer reorgs it). Without
 * tags, that fixed depth.
 */
export function withChainFinality<P extends ChainProgress>(progress: P, tags: ChainTags | undefined): P & { finality: FinalitySource; finalizedByDepth: BlockPoint } {
  if (!tags) return { ...progress, finality: "depth", finalizedByDepth: progress.finalized };
  const committed = (own: BlockPoint, tagged: TaggedBlock | undefined): BlockPoint => {
    if (!tagged) return own;
    const point = tagged.number >= progress.latest.number ? progress.latest : tagged;
    return point.number > own.number ? point : own;
  };
  return { ...progress, safe: committed(progress.safe, tags.safe), finalized: committed(progress.finalized, tags.finalized), finality: "chain", finalizedByDepth: progress.finalized };
}

export async function readProgress(query: QueryRows): Promise<ChainProgress[]> {
  const rows = await query(
    `SELECT chain_name, chain_id, latest_checkpoint, safe_checkpoint, finalized_checkpoint FROM _ponder_checkpoint ORDER BY chain_name`,
  );
  return rows.map((row) =>
    progressOf({
      chainName: String(row.chain_name),
      chainId: Number(row.chain_id),
      latestCheckpoint: String(row.latest_checkpoint),
      safeCheckpoint: String(row.safe_checkpoint),
      finalizedCheckpoint: String(row.finalized_checkpoint),
    }),
  );
}
