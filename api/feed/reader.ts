/**
 * Reads what the indexer committed — its tables and `_ponder_checkpoint` — never anything from inside
 * handlers, which run before commit and can be rolled back; api/feed/diff.ts turns it into changes.
 * Only the blocks that may still change (above the last finalized block) are read.
 */
import { and, gt, lte } from "drizzle-orm";
import { payout, stakingEvent, task } from "../../schema";
import type { ChainFinality } from "../../common/finality";
import { readIndexingStatus, type ApiDb } from "../db";
import { confirmedHeights, diffStep, initialState, locate, stepWindow, type FeedReaderState, type FeedStep, type LocatedRow } from "./diff";

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

  /** `commitKey` identifies the commit read: the whole indexing status (written in every block's transaction), as JSON. */
  async function committedHeights() {
    const status = await readIndexingStatus(db, finality);
    return status && { latest: status.latest.number, finalized: status.finalized.number, finalizedByDepth: status.finalizedByDepth.number, version: status.version, commitKey: JSON.stringify(status) };
  }

  /**
   * Rows of the same commit as `heights`, or undefined if the indexer committed a block in
   * between. The checkpoint and the rows are separate statements (a shared embedded database
   * cannot hold a transaction for a reader): a block committed between them would pair one
   * commit's rows with another's heights. Ponder writes the checkpoint in every block's
   * transaction, so an unchanged version before and after means no block was committed in between.
   * A reorg's revert is a transaction of its own that leaves the checkpoint as it was: rows read
   * after it lack the reverted blocks while the heights still count them, which is why finality
   * past the indexer's own depth needs a block with rows the chain confirms (confirmedHeights).
   */
  async function rowsOfCommit(heights: { version: string }, lower: number, upper: number): Promise<LocatedRow[] | undefined> {
    const rows = await rowsIn(lower, upper);
    return (await readIndexingStatus(db))?.version === heights.version ? rows : undefined;
  }

  /**
   * The commit the last step read, and the state it left: a step from that state in the same
   * commit would read the same rows, so it reads none (a poll or a notice that found nothing new
   * must not touch the tables, nor wait on a lock someone holds on them). A reorg to the same
   * height that leaves even the indexing status as it was shows at the next commit.
   */
  let settled: { commitKey: string; state: FeedReaderState } | undefined;
  // Read without waiting, so a step never waits on the RPC.
  const chainHash = finality && ((blockNumber: number) => finality.finalizedHash(blockNumber));

  return {
    /** Where a feed that starts now begins; undefined before the indexer committed anything. */
    async initialState(): Promise<FeedReaderState | undefined> {
      for (;;) {
        const heights = await committedHeights();
        if (!heights) return undefined;
        const rows = await rowsOfCommit(heights, heights.finalizedByDepth, heights.latest);
        if (rows) return initialState(heights, rows, chainHash);
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
      const confirmed = confirmedHeights(state, heights, rows, upper, chainHash);
      const next = diffStep(state, confirmed.heights, rows, maxBlocksPerStep);
      // Finality held back for a hash still being read goes on at the next step, commit or not.
      settled = confirmed.waiting ? undefined : { commitKey: heights.commitKey, state: next.state };
      return next;
    },
  };
}
