/**
 * Ponder's progress as committed in the database: `_ponder_checkpoint` is written in the same
 * transaction as the rows it covers, so a reader that sees a checkpoint also sees its data.
 * Its strings are Ponder's fixed-width encoding: block timestamp (10 digits), chain id (16),
 * block number (16), then the position inside the block.
 */
import type { QueryRows } from "./verify";

export type ChainProgress = {
  chainName: string;
  chainId: number;
  latest: BlockPoint;
  safe: BlockPoint;
  finalized: BlockPoint;
};

export type BlockPoint = { number: number; timestamp: number };

export function decodeCheckpoint(checkpoint: string): BlockPoint {
  return { timestamp: Number(checkpoint.slice(0, 10)), number: Number(checkpoint.slice(26, 42)) };
}

export async function readProgress(query: QueryRows): Promise<ChainProgress[]> {
  const rows = await query(
    `SELECT chain_name, chain_id, latest_checkpoint, safe_checkpoint, finalized_checkpoint FROM _ponder_checkpoint ORDER BY chain_name`,
  );
  return rows.map((row) => ({
    chainName: String(row.chain_name),
    chainId: Number(row.chain_id),
    latest: decodeCheckpoint(String(row.latest_checkpoint)),
    safe: decodeCheckpoint(String(row.safe_checkpoint)),
    finalized: decodeCheckpoint(String(row.finalized_checkpoint)),
  }));
}
