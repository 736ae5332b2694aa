/**
 * The feed's step as a pure function: given what the indexer committed (its rows above the last
 * finalized block, and how far it got) and what the feed already announced, the changes to append.
 * New rows are ADDED, announced rows that vanished RETRACTED, rows that passed the finality depth
 * FINALIZED. Nothing at or below a finalized block is ever looked at again, so nothing final is
 * ever retracted.
 */
import type { Hex } from "viem";
import type { FeedChange, FeedRow, FeedTopic } from "./messages";

export type FeedReaderState = {
  /** Every block up to here has been announced. */
  announcedBlock: number;
  finalizedBlock: number;
  /** Announced changes not final yet: the only ones a reorg can still retract. */
  pending: FeedChange[];
};

/** The indexer's committed progress, as block numbers. */
export type CommittedHeights = { latest: number; finalized: number };

/** A committed row where the feed places it: its key and chain position. */
export type LocatedRow = Omit<FeedChange, "action" | "finalized">;

/** The blocks one step reads: rows with `lower < block <= upper`; `finalized` is where the step leaves finality. */
export type StepWindow = { lower: number; upper: number; finalized: number };

export type FeedStep = { changes: FeedChange[]; state: FeedReaderState };

/** Tasks change in place: each update is its own change, keyed by the position that wrote it. */
export function locate(topic: FeedTopic, row: FeedRow): LocatedRow {
  if (topic === "task") {
    const taskRow = row as FeedRow<"task">;
    return { topic, row, key: `${taskRow.id}@${taskRow.updatedBlock}:${taskRow.updatedLogIndex}`, blockNumber: taskRow.updatedBlock, logIndex: taskRow.updatedLogIndex };
  }
  const positioned = row as FeedRow<"payout"> | FeedRow<"staking">;
  return { topic, row, key: positioned.id, blockNumber: positioned.blockNumber, logIndex: positioned.logIndex };
}

/** The hash of the block a row was indexed from (a task's: the block of the update it holds). */
function indexedHash(located: LocatedRow): Hex {
  return located.topic === "task" ? (located.row as FeedRow<"task">).updatedBlockHash : (located.row as FeedRow<"payout"> | FeedRow<"staking">).blockHash;
}

/** A block the feed would make final, the hash it was indexed at, and the chain's own hash there (undefined: not read yet). */
export type BlockToConfirm = { number: number; indexedHash: Hex; chainHash: Hex | undefined };

/** The blocks with rows in `lower < block <= upper`, in chain order, each with the hash its rows were indexed at. */
export function blocksWithRows(rows: LocatedRow[], lower: number, upper: number): { number: number; indexedHash: Hex }[] {
  const blocks = new Map<number, Hex>();
  for (const row of rows) if (row.blockNumber > lower && row.blockNumber <= upper && !blocks.has(row.blockNumber)) blocks.set(row.blockNumber, indexedHash(row));
  return [...blocks].sort(([a], [b]) => a - b).map(([number, hash]) => ({ number, indexedHash: hash }));
}

/** How far finality may go, and whether a hash still being read holds it back (the next step may go further in the same commit). */
export type ConfirmedFinality = { finalized: number; waiting: boolean };

/**
 * How far the chain's finalized tag may finalize the feed, from `from` (final already: the
 * indexer's own fixed depth, or what the feed finalized before). The tag names a height, but the
 * indexer may still hold another fork's blocks below it: a reorg it has not polled yet, or one
 * whose rows it reverted and has not re-indexed (Ponder reverts in a transaction of its own that
 * leaves its checkpoint where it was). A row announced FINALIZED, and a block the feed finalized,
 * are never looked at again. So the tag finalizes only up to the last block with rows whose
 * indexed hash is the chain's: the indexer's blocks are hash-linked, so every block below a
 * matching one is the chain's too, while a block without rows proves nothing (the chain's block
 * there may hold rows the indexer has not read yet). A block from another fork stops it; once the
 * indexer replaced it, its rows are retracted and a later step goes on.
 */
export function confirmedFinalized(from: number, finalized: number, blocks: BlockToConfirm[]): ConfirmedFinality {
  let confirmed = from;
  for (const block of blocks) {
    if (block.number <= from) continue;
    if (block.number > finalized) break;
    if (block.chainHash === undefined) return { finalized: confirmed, waiting: true };
    if (block.chainHash !== block.indexedHash) break;
    confirmed = block.number;
  }
  return { finalized: confirmed, waiting: false };
}

/** The indexer's committed progress with its own fixed-depth finality, which needs no confirming. */
export type FinalityHeights = CommittedHeights & { finalizedByDepth: number };

/**
 * The heights a step from `state` may use: above the indexer's fixed depth, the chain's tag counts
 * only as far as `confirmedFinalized` allows on the rows read (`rows` must hold the window up to
 * `upper`); `chainHash` gives the chain's hash at a height its tag finalized, or undefined until read.
 */
export function confirmedHeights(
  state: FeedReaderState,
  heights: FinalityHeights,
  rows: LocatedRow[],
  upper: number,
  chainHash: ((blockNumber: number) => Hex | undefined) | undefined,
): { heights: CommittedHeights; waiting: boolean } {
  if (!chainHash || heights.finalized <= heights.finalizedByDepth) return { heights, waiting: false };
  const from = Math.max(state.finalizedBlock, heights.finalizedByDepth);
  const finalized = Math.min(heights.finalized, upper);
  const blocks = blocksWithRows(rows, from, finalized).map((block) => ({ ...block, chainHash: chainHash(block.number) }));
  const confirmed = confirmedFinalized(from, finalized, blocks);
  return { heights: { ...heights, finalized: confirmed.finalized }, waiting: confirmed.waiting };
}

const TOPIC_ORDER: Record<FeedTopic, number> = { task: 0, staking: 1, payout: 2 };
function chainOrder(a: LocatedRow, b: LocatedRow): number {
  return a.blockNumber - b.blockNumber || a.logIndex - b.logIndex || TOPIC_ORDER[a.topic] - TOPIC_ORDER[b.topic] || (a.key < b.key ? -1 : 1);
}

const inWindow = (rows: LocatedRow[], lower: number, upper: number) =>
  rows.filter((row) => row.blockNumber > lower && row.blockNumber <= upper).sort(chainOrder);

/**
 * Where a feed that starts now begins: everything already committed counts as announced, and as
 * final only as far as the indexer's own depth and the blocks the chain confirms (`confirmedHeights`).
 * `rows` must hold every committed row above `heights.finalizedByDepth`.
 */
export function initialState(heights: FinalityHeights, rows: LocatedRow[], chainHash?: (blockNumber: number) => Hex | undefined): FeedReaderState {
  const final = { announcedBlock: heights.finalizedByDepth, finalizedBlock: heights.finalizedByDepth, pending: [] };
  const { finalized } = confirmedHeights(final, heights, rows, heights.latest, chainHash).heights;
  const pending = inWindow(rows, finalized, heights.latest).map((row) => ({ ...row, action: "ADDED" as const, finalized: false }));
  return { announcedBlock: heights.latest, finalizedBlock: finalized, pending };
}

/**
 * The rows the next step needs: from the last finalized block up to the indexer's latest, at most
 * `maxBlocksPerStep` past what was announced (a feed catching up takes several bounded steps).
 * Finality never moves back, and never past what this step announces.
 */
export function stepWindow(state: FeedReaderState, heights: CommittedHeights, maxBlocksPerStep: number): StepWindow {
  const upper = Math.min(heights.latest, state.announcedBlock + maxBlocksPerStep);
  return { lower: state.finalizedBlock, upper, finalized: Math.max(state.finalizedBlock, Math.min(heights.finalized, upper)) };
}

/**
 * One step: the changes since `state`, in order (retractions newest first, then additions and
 * finalizations in chain order), and the state after them. `rows` must hold every committed row
 * of the step's window (more is ignored). With nothing to announce, `state` itself comes back.
 */
export function diffStep(state: FeedReaderState, heights: CommittedHeights, rows: LocatedRow[], maxBlocksPerStep: number): FeedStep {
  const { lower, upper, finalized } = stepWindow(state, heights, maxBlocksPerStep);
  const current = inWindow(rows, lower, upper);
  const currentKeys = new Set(current.map((row) => row.key));
  const pendingKeys = new Set(state.pending.map((change) => change.key));
  // Announced and no longer committed (past `upper` too: the chain got shorter than what was announced).
  const retracted = state.pending
    .filter((change) => !currentKeys.has(change.key))
    .reverse()
    .map((change) => ({ ...change, action: "RETRACTED" as const }));
  const added = current
    .filter((row) => !pendingKeys.has(row.key))
    .map((row) => ({ ...row, action: "ADDED" as const, finalized: row.blockNumber <= finalized }));
  const retractedKeys = new Set(retracted.map((change) => change.key));
  const stillPending = [...state.pending.filter((change) => !retractedKeys.has(change.key)), ...added.filter((change) => !change.finalized)];
  const finalizedNow = stillPending
    .filter((change) => change.blockNumber <= finalized)
    .map((change) => ({ ...change, action: "FINALIZED" as const, finalized: true }));
  const changes = [...retracted, ...added, ...finalizedNow];
  if (changes.length === 0 && upper === state.announcedBlock && finalized === state.finalizedBlock) return { changes, state };
  return { changes, state: { announcedBlock: upper, finalizedBlock: finalized, pending: stillPending.filter((change) => change.blockNumber > finalized) } };
}
