/**
 * Every object type's name and shape, declared before any is implemented, so that type files can
 * point at each other (a task's node, a node's tasks) without import cycles. Shapes are the
 * indexer's rows wherever a type mirrors a table.
 */
import type { InputObjectRef, ObjectRef } from "@pothos/core";
import type { ConnectionShapeForType } from "@pothos/plugin-relay";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import type { Address } from "viem";
import { escrowAccount, node, nodeRating, payout, revenueStream, staker, stakingAction, stakingEvent, task, taskStatus, tokenStats, ratingReason } from "../../schema";
import { builder } from "../builder";
import type { ApiContext } from "../context";
import type { BlockPoint } from "../../domain/progress";
import type { IndexingStatus } from "../db";
import { rowBy } from "../loaders";
import type { NodeRevenue, RevenuePoint, RevenueSummary, StreamRevenue } from "../revenue";
import { filterWhere, paginate, type Ordering, type PageArgs } from "../pagination";

type Types = typeof builder.$inferSchemaTypes;

export type TaskRow = typeof task.$inferSelect;
export type NodeRow = typeof node.$inferSelect;
export type PayoutRow = typeof payout.$inferSelect;
export type StakerRow = typeof staker.$inferSelect;
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

/** The fields of a row that one event log made: where and when the log stands, and whether a reorg can still remove it. */
export function logFields<Row extends { blockNumber: number; blockHash: string; logIndex: number; timestamp: number; transactionHash: string }>(
  t: PothosSchemaTypes.ObjectFieldBuilder<Types, Row>,
  { logIndex = false } = {},
) {
  return {
    blockNumber: t.int({ resolve: (row) => row.blockNumber }),
    blockHash: t.field({
      type: "Bytes32",
      description: "The hash of the block the indexer read this from: on a chain that reorgs, it names the fork.",
      resolve: (row) => row.blockHash,
    }),
    ...(logIndex ? { logIndex: t.int({ resolve: (row) => row.logIndex }) } : {}),
    timestamp: t.field({ type: "DateTime", resolve: (row) => row.timestamp }),
    transactionHash: t.field({ type: "Bytes32", resolve: (row) => row.transactionHash }),
    finalized: t.boolean(finalizedField((row: Row) => row.blockNumber)),
  };
}

/** The root field `name(key: …!)`: the row of `table` whose `column` equals the key (batched), or null. */
export function rowByKeyField<T extends PgTable>(
  name: string,
  type: ObjectRef<Types, T["$inferSelect"]>,
  table: T,
  column: PgColumn,
  key: { name: string; type: "Address" | "Bytes32" },
) {
  builder.queryField(name, (t) =>
    t.field({
      type,
      nullable: true,
      args: { [key.name]: t.arg({ type: key.type, required: true }) },
      // Pothos cannot check a resolver against a generic shape; the signature ties `type` to `table`'s rows.
      resolve: (_root, args, context) => rowBy(context, table, column).load(args[key.name]!) as never,
    }),
  );
}

/**
 * The root connection field `name(first, after, filter)`: the rows of `table` in `ordering` that
 * the filter selects (see filterWhere: `equal` names its fields matched by equality, `range` its
 * time bounds).
 */
export function filteredListField<T extends PgTable, Filter extends object>(
  name: string,
  options: {
    type: ObjectRef<Types, ConnectionShapeForType<Types, ObjectRef<Types, T["$inferSelect"]>, false, false, false>>;
    description: string;
    rows: { table: T; ordering: Ordering };
    filter: { type: InputObjectRef<Types, Filter>; equal: Parameters<typeof filterWhere<Filter>>[1]; range?: Parameters<typeof filterWhere<Filter>>[2] };
  },
) {
  const { rows, filter } = options;
  builder.queryField(name, (t) =>
    t.field({
      type: options.type,
      description: options.description,
      args: { ...pageArgs, filter: t.arg({ type: filter.type }) },
      resolve: (_root, args, context) => {
        const { filter: given, ...page } = args as PageArgs & { filter?: Filter | null };
        // Pothos cannot check a resolver against a generic shape; the signature ties `type` to `table`'s rows.
        return paginate(context, { ...rows, where: filterWhere(given, filter.equal, filter.range), args: page }) as never;
      },
    }),
  );
}
