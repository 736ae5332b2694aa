/** GPU nodes: state mirrored from the contract, their tasks, rating history and earnings. */
import { and, eq, gte, type SQL } from "drizzle-orm";
import { node, nodeRating, task } from "../../schema";
import { builder } from "../builder";
import { rowBy } from "../loaders";
import { loadPage, paginate, type Ordering } from "../pagination";
import { revenueSeries } from "../revenue";
import { seriesArgs } from "./revenue";
import { loadTaskPage } from "./tasks";
import {
  AccountRef,
  NodeConnection,
  NodeRef,
  RatingChangeConnection,
  RatingChangeRef,
  RatingReasonEnum,
  RevenuePointRef,
  TaskConnection,
  TaskStatusEnum,
  finalizedField,
  pageArgs,
  type NodeRow,
} from "./refs";

const ratingsNewestFirst: Ordering = {
  name: "rating:position",
  keys: [
    { column: nodeRating.blockNumber, direction: "desc" },
    { column: nodeRating.logIndex, direction: "desc" },
  ],
};

/** Each ordering ends on the address, so that equal values still page deterministically. */
const NODE_ORDERINGS = {
  EARNINGS_DESC: [node.totalEarned, "desc"],
  RELIABILITY_DESC: [node.reliability, "desc"],
  TASKS_COMPLETED_DESC: [node.tasksCompleted, "desc"],
  REGISTERED_ASC: [node.registeredBlock, "asc"],
} as const;

const NodeOrder = builder.enumType("NodeOrder", { values: Object.keys(NODE_ORDERINGS) as (keyof typeof NODE_ORDERINGS)[] });

function nodeOrdering(order: keyof typeof NODE_ORDERINGS): Ordering {
  const [column, direction] = NODE_ORDERINGS[order];
  return { name: `node:${order}`, keys: [{ column, direction }, { column: node.address, direction }] };
}

RatingChangeRef.implement({
  fields: (t) => ({
    oldRating: t.exposeInt("oldRating"),
    newRating: t.exposeInt("newRating"),
    reason: t.field({ type: RatingReasonEnum, resolve: (row) => row.reason }),
    blockNumber: t.exposeInt("blockNumber"),
    timestamp: t.expose("timestamp", { type: "DateTime" }),
    transactionHash: t.expose("transactionHash", { type: "Bytes32" }),
    finalized: t.boolean(finalizedField((row: typeof nodeRating.$inferSelect) => row.blockNumber)),
  }),
});

NodeRef.implement({
  description: "A GPU node as `InferencePayment.nodes(address)` reports it, with its history.",
  fields: (t) => ({
    address: t.expose("address", { type: "Address" }),
    owner: t.expose("owner", { type: "Address" }),
    ownerAccount: t.field({ type: AccountRef, resolve: (row) => ({ address: row.owner }) }),
    active: t.exposeBoolean("active"),
    reliability: t.exposeInt("reliability", { description: "0 to 100." }),
    tasksCompleted: t.exposeInt("tasksCompleted"),
    tasksFailed: t.exposeInt("tasksFailed"),
    totalEarned: t.expose("totalEarned", { type: "BigInt" }),
    registeredAt: t.expose("registeredAt", { type: "DateTime" }),
    registeredBlock: t.exposeInt("registeredBlock"),
    deactivatedAt: t.expose("deactivatedAt", { type: "DateTime", nullable: true }),
    tasks: t.field({
      type: TaskConnection,
      args: { ...pageArgs, status: t.arg({ type: TaskStatusEnum }) },
      resolve: (row, args, context) => loadTaskPage(context, task.node, row.address, args),
    }),
    ratingHistory: t.field({
      type: RatingChangeConnection,
      args: pageArgs,
      resolve: (row, args, context) =>
        loadPage(context, { table: nodeRating, group: nodeRating.node, key: row.address, ordering: ratingsNewestFirst, args, cacheKey: "" }),
    }),
    earnings: t.field({
      type: [RevenuePointRef],
      description: "NODE_PAYMENT received per bucket in [from, to), zero-filled, with running totals.",
      args: seriesArgs,
      resolve: async (row: NodeRow, spec, context) => {
        const name = ["earnings", spec.interval, spec.from, spec.to, spec.utcOffsetHours ?? 0].join(":");
        return context
          .loader(name, (nodes) => revenueSeries(context, spec, { nodes, streams: ["NODE_PAYMENT"] }))
          .load(row.address);
      },
    }),
  }),
});

const NodeFilter = builder.inputType("NodeFilter", {
  fields: (t) => ({
    active: t.boolean(),
    owner: t.field({ type: "Address" }),
    minReliability: t.int(),
  }),
});

builder.queryFields((t) => ({
  node: t.field({
    type: NodeRef,
    nullable: true,
    args: { address: t.arg({ type: "Address", required: true }) },
    resolve: (_root, { address }, context) => rowBy(context, node, node.address).load(address),
  }),
  nodes: t.field({
    type: NodeConnection,
    args: { ...pageArgs, filter: t.arg({ type: NodeFilter }), orderBy: t.arg({ type: NodeOrder, required: true, defaultValue: "EARNINGS_DESC" }) },
    resolve: (_root, { filter, orderBy, ...args }, context) => {
      const conditions: (SQL | undefined)[] = [
        filter?.active != null ? eq(node.active, filter.active) : undefined,
        filter?.owner ? eq(node.owner, filter.owner) : undefined,
        filter?.minReliability != null ? gte(node.reliability, filter.minReliability) : undefined,
      ];
      return paginate(context, { table: node, where: and(...conditions), ordering: nodeOrdering(orderBy), args });
    },
  }),
}));
