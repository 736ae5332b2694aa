/**
 * Every object type's name and shape, declared before any is implemented, so that type files can
 * point at each other (a task's node, a node's tasks) without import cycles. Shapes are the
 * indexer's rows wherever a type mirrors a table.
 */
import type { Address } from "viem";
import { escrowAccount, node, nodeRating, payout, revenueStream, staker, stakingAction, stakingEvent, task, taskStatus, tokenStats, ratingReason } from "../../schema";
import { builder } from "../builder";
import type { ApiContext } from "../context";
import type { BlockPoint } from "../../domain/progress";
import type { IndexingStatus } from "../db";

export type TaskRow = typeof task.$inferSelect;
export type NodeRow = typeof node.$inferSelect;
export type PayoutRow = typeof payout.$inferSelect;
export type StakerRow = typeof staker.$inferSelect;
export type Stream = (typeof revenueStream.enumValues)[number];

export type RevenueTotals = { amount: bigint; usdValue: bigint; payoutCount: number };
export type StreamRevenue = RevenueTotals & { stream: Stream };
export type RevenuePoint = RevenueTotals & {
  bucketStart: number;
  cumulativeAmount: bigint;
  cumulativeUsdValue: bigint;
  byStream: StreamRevenue[];
};
export type NodeRevenue = RevenueTotals & { node: Address };
export type RevenueSummary = { from: number | null; to: number | null; total: RevenueTotals; byStream: StreamRevenue[] };
export type IndexedTransaction = { hash: `0x${string}`; blockNumber: number | null; indexed: boolean };

export const RevenueStreamEnum = builder.enumType("RevenueStream", { values: revenueStream.enumValues });
export const TaskStatusEnum = builder.enumType("TaskStatus", { values: taskStatus.enumValues });
export const StakingActionEnum = builder.enumType("StakingAction", { values: stakingAction.enumValues });
export const RatingReasonEnum = builder.enumType("RatingReason", { values: ratingReason.enumValues });
export const IntervalEnum = builder.enumType("Interval", { values: ["HOUR", "DAY", "WEEK"] as const });

export const AccountRef = builder.objectRef<{ address: Address }>("Account");
export const EscrowRef = builder.objectRef<Omit<typeof escrowAccount.$inferSelect, "user">>("EscrowBalance");
export const StakerRef = builder.objectRef<StakerRow>("Staker");
export const StakingChangeRef = builder.objectRef<typeof stakingEvent.$inferSelect>("StakingChange");
export const StakingOverviewRef = builder.objectRef<typeof tokenStats.$inferSelect>("StakingOverview");
export const NodeRef = builder.objectRef<NodeRow>("Node");
export const RatingChangeRef = builder.objectRef<typeof nodeRating.$inferSelect>("RatingChange");
export const TaskRef = builder.objectRef<TaskRow>("Task");
export const PayoutRef = builder.objectRef<PayoutRow>("Payout");
export const RevenuePointRef = builder.objectRef<RevenuePoint>("RevenuePoint");
export const StreamRevenueRef = builder.objectRef<StreamRevenue>("StreamRevenue");
export const NodeRevenueRef = builder.objectRef<NodeRevenue>("NodeRevenue");
export const RevenueSummaryRef = builder.objectRef<RevenueSummary>("RevenueSummary");
/** Named `BlockRef` in the schema since it was published: clients query that name. */
export const BlockPointRef = builder.objectRef<BlockPoint>("BlockRef");
export const IndexingStatusRef = builder.objectRef<IndexingStatus>("IndexingStatus");
export const IndexedTransactionRef = builder.objectRef<IndexedTransaction>("IndexedTransaction");

export const AccountConnection = builder.connectionObject({ type: AccountRef, name: "AccountConnection" });
export const StakerConnection = builder.connectionObject({ type: StakerRef, name: "StakerConnection" });
export const StakingChangeConnection = builder.connectionObject({ type: StakingChangeRef, name: "StakingChangeConnection" });
export const NodeConnection = builder.connectionObject({ type: NodeRef, name: "NodeConnection" });
export const RatingChangeConnection = builder.connectionObject({ type: RatingChangeRef, name: "RatingChangeConnection" });
export const TaskConnection = builder.connectionObject({ type: TaskRef, name: "TaskConnection" });
export const PayoutConnection = builder.connectionObject({ type: PayoutRef, name: "PayoutConnection" });

/** `first`/`after` as every connection field takes them. */
export const pageArgs = builder.args((t) => ({
  first: t.int({ description: "Page size: 20 unless given, at most 100 (server settings may differ)." }),
  after: t.string({ description: "The `endCursor` of the previous page." }),
}));

/** The `finalized` field of every row that a reorg could still remove. */
export function finalizedField<Row>(blockOf: (row: Row) => number) {
  return {
    description: "Whether the block is past the chain's finality depth, so a reorg can no longer remove this.",
    resolve: (row: Row, _args: object, context: ApiContext) => context.isFinalized(blockOf(row)),
  };
}
