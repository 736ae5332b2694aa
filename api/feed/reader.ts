/**
 * Reads what the indexer committed — its tables and `_ponder_checkpoint` — never anything from inside
 * handlers, which run before commit and can be rolled back; api/feed/diff.ts turns it into changes.
 * Only the blocks that may still change (above the last finalized block) are read.
 */
import { and, gt, lte } from "drizzle-orm";
import { payout, stakingEvent, task } from "../../schema";
import type { ChainFinality } from "../../common/finality";
import { readIndexingStatus, type ApiDb } from "../db";
import { blocksWithRows, confirmedFinalized, diffStep, initialState, locate, stepWindow, type CommittedHeights, type FeedReaderState, type FeedStep, type LocatedRow } from "./diff";

export type CreateFeedReaderParameters = {
  db: ApiDb;
  /** The chain's finality tags: rows are announced FINALIZED once the chain finalized their block (and the indexer committed it). */
  finality?: ChainFinality;
  /** Blocks read per step while catching up, to bound one step's work. */
  maxBlocksPerStep?: number;
};

export function createFeedReader({ db, finality, maxBlocksPerStep = 5_000 }: CreateFeedReaderParameters) {
  async function rowsIn(lower: number, upper: number): Promise<LocatedRow[]> {
    const [payouts, tasks, staking] = await Promise.all([
      db.select().from(payout).where(and(gt(payout.blockNumber, lower), lte(payout.blockNumber, upper))),
      db.select().from(task).where(and(gt(task.updatedBlock, lower), lte(task.updatedBlock, upper))),
      db.select().from(stakingEvent).where(and(gt(stakingEvent.blockNumber, lower), lte(stakingEvent.blockNumber, upper))),
    ]);
    return [...payouts.map((row) => locate("payout", row)), ...tasks.map((row) => locate("task", row)), ...staking.map((row) => locate("staking", row))];
  }

  /** `commitKey` identifies the commit read: the whole indexing status (written in every commit's transaction), as JSON. */
  async function committedHeights() {
    const status = await readIndexingStatus(db, finality);
    return status && { latest: status.latest.number, finalized: status.finalized.number, finalizedByDepth: status.finalizedByDepth.number, version: status.version, commitKey: JSON.stringify(status) };
  }

  /**
   * Rows of the same commit as `heights`, or undefined if the indexer committed in between. The
   * checkpoint and the rows are separate statements (a shared embedded database cannot hold a
   * transaction for a reader): a commit between them — a reorg's revert among them — would pair
   * one commit's rows with another's heights, and a height the chain's tag finalizes could be
   * passed with its replaced rows gone and the new ones not yet read, never to be read again.
   * Ponder writes the checkpoint in every commit's transaction, so an unchanged version before and
   * after means the rows read in between are that commit's.
   */
  async function rowsOfCommit(heights: { version: string }, lower: number, upper: number): Promise<LocatedRow[] | undefined> {
    const rows = await rowsIn(lower, upper);
    return (await readIndexingStatus(db))?.version === heights.version ? rows : undefined;
  }

  /**
   * The finalized height a step may use. Above the indexer's own fixed depth, the chain's tag
   * counts only for blocks the indexer read from the chain's own fork (api/feed/diff.ts
   * confirmedFinalized); the hashes are read without waiting, so a step never waits on the RPC.
   */
  function confirmedHeights(state: FeedReaderState, heights: CommittedHeights & { finalizedByDepth: number }, rows: LocatedRow[], upper: number): CommittedHeights {
    if (!finality || heights.finalized <= heights.finalizedByDepth) return heights;
    const blocks = blocksWithRows(rows, Math.max(state.finalizedBlock, heights.finalizedByDepth), Math.min(heights.finalized, upper));
    return { ...heights, finalized: confirmedFinalized(heights.finalized, blocks.map((block) => ({ ...block, chainHash: finality.finalizedHash(block.number) }))) };
  }

  /**
   * The commit the last step read, and the state it left: a step from that state in the same
   * commit would read the same rows, so it reads none (a poll or a notice that found nothing new
   * must not touch the tables, nor wait on a lock someone holds on them). A reorg to the same
   * height that leaves even the indexing status as it was shows at the next commit.
   */
  let settled: { commitKey: string; state: FeedReaderState } | undefined;

  return {
    /** Where a feed that starts now begins; undefined before the indexer committed anything. */
    async initialState(): Promise<FeedReaderState | undefined> {
      for (;;) {
        const heights = await committedHeights();
        if (!heights) return undefined;
        const rows = await rowsOfCommit(heights, heights.finalized, heights.latest);
        if (rows) return initialState(heights, rows);
      }
    },

    /** One step: the changes since `state`, in order, and the state after them (`state` itself when nothing changed). */
    async step(state: FeedReaderState): Promise<FeedStep> {
      const heights = await committedHeights();
      if (!heights || (settled?.commitKey === heights.commitKey && settled.state === state)) return { changes: [], state };
      const { lower, upper } = stepWindow(state, heights, maxBlocksPerStep);
      const rows = await rowsOfCommit(heights, lower, upper);
      // The indexer committed meanwhile: the next step reads that commit whole.
      if (!rows) return { changes: [], state };
      const confirmed = confirmedHeights(state, heights, rows, upper);
      const next = diffStep(state, confirmed, rows, maxBlocksPerStep);
      // Finality held back for a hash still being read goes on at the next step, commit or not.
      settled = confirmed.finalized === heights.finalized ? { commitKey: heights.commitKey, state: next.state } : undefined;
      return next;
    },
  };
}
