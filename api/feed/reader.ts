/**
 * Derives the change feed from what the indexer committed — its tables and its checkpoint —
 * never from inside handlers, which run before commit and can be rolled back. Each step looks
 * at the blocks that may still change (above the last finalized block) and compares them with
 * what it already announced: new rows are ADDED, vanished rows RETRACTED, rows that passed the
 * finality depth FINALIZED.
 */
import { and, asc, gt, lte } from "drizzle-orm";
import { payout, stakingEvent, task } from "../../schema";
import { readIndexingStatus, type ApiDb } from "../db";
import type { FeedChange, FeedRow, FeedTopic } from "./messages";

export type FeedReaderState = {
  /** Every block up to here has been announced. */
  announcedBlock: number;
  finalizedBlock: number;
  /** Announced changes not final yet: the only ones a reorg can still retract. */
  pending: FeedChange[];
};

export type CreateFeedReaderParameters = {
  db: ApiDb;
  /** Blocks read per step while catching up, to bound one step's work. */
  maxBlocksPerStep?: number;
};

type Located = Omit<FeedChange, "action" | "finalized">;

function locate(topic: FeedTopic, row: FeedRow): Located {
  if (topic === "task") {
    const taskRow = row as FeedRow<"task">;
    return { topic, row, key: `${taskRow.id}@${taskRow.updatedBlock}:${taskRow.updatedLogIndex}`, blockNumber: taskRow.updatedBlock, logIndex: taskRow.updatedLogIndex };
  }
  const positioned = row as FeedRow<"payout"> | FeedRow<"staking">;
  return { topic, row, key: positioned.id, blockNumber: positioned.blockNumber, logIndex: positioned.logIndex };
}

const TOPIC_ORDER: Record<FeedTopic, number> = { task: 0, staking: 1, payout: 2 };
function chainOrder(a: Located, b: Located): number {
  return a.blockNumber - b.blockNumber || a.logIndex - b.logIndex || TOPIC_ORDER[a.topic] - TOPIC_ORDER[b.topic] || (a.key < b.key ? -1 : 1);
}

export function createFeedReader({ db, maxBlocksPerStep = 5_000 }: CreateFeedReaderParameters) {
  async function rowsIn(lower: number, upper: number): Promise<Located[]> {
    const [payouts, tasks, staking] = await Promise.all([
      db.select().from(payout).where(and(gt(payout.blockNumber, lower), lte(payout.blockNumber, upper))).orderBy(asc(payout.blockNumber), asc(payout.logIndex)),
      db.select().from(task).where(and(gt(task.updatedBlock, lower), lte(task.updatedBlock, upper))),
      db.select().from(stakingEvent).where(and(gt(stakingEvent.blockNumber, lower), lte(stakingEvent.blockNumber, upper))),
    ]);
    return [
      ...payouts.map((row) => locate("payout", row)),
      ...tasks.map((row) => locate("task", row)),
      ...staking.map((row) => locate("staking", row)),
    ].sort(chainOrder);
  }

  return {
    /** Where a feed that starts now begins: everything already indexed counts as announced. */
    async initialState(): Promise<FeedReaderState | undefined> {
      const status = await readIndexingStatus(db);
      if (!status) return undefined;
      const pending = (await rowsIn(status.finalized.number, status.latest.number)).map((change) => ({ ...change, action: "ADDED" as const, finalized: false }));
      return { announcedBlock: status.latest.number, finalizedBlock: status.finalized.number, pending };
    },

    /** One step: the changes since `state`, in order, and the state after them. */
    async step(state: FeedReaderState): Promise<{ changes: FeedChange[]; state: FeedReaderState }> {
      const status = await readIndexingStatus(db);
      if (!status) return { changes: [], state };
      const latest = status.latest.number;
      const upper = Math.min(latest, state.announcedBlock + maxBlocksPerStep);
      const finalized = Math.min(status.finalized.number, upper);
      if (upper === state.announcedBlock && finalized === state.finalizedBlock) return { changes: [], state };

      const current = await rowsIn(state.finalizedBlock, upper);
      const currentKeys = new Set(current.map((change) => change.key));
      const pendingKeys = new Set(state.pending.map((change) => change.key));
      const retracted = state.pending
        .filter((change) => (change.blockNumber <= upper ? !currentKeys.has(change.key) : change.blockNumber > latest))
        .reverse()
        .map((change) => ({ ...change, action: "RETRACTED" as const }));
      const added = current
        .filter((change) => !pendingKeys.has(change.key))
        .map((change) => ({ ...change, action: "ADDED" as const, finalized: change.blockNumber <= finalized }));
      const retractedKeys = new Set(retracted.map((change) => change.key));
      const stillPending = [...state.pending.filter((change) => !retractedKeys.has(change.key)), ...added.filter((change) => !change.finalized)];
      const finalizedNow = stillPending
        .filter((change) => change.blockNumber <= finalized)
        .map((change) => ({ ...change, action: "FINALIZED" as const, finalized: true }));
      return {
        changes: [...retracted, ...added, ...finalizedNow],
        state: { announcedBlock: upper, finalizedBlock: finalized, pending: stillPending.filter((change) => change.blockNumber > finalized) },
      };
    },
  };
}
