/** GPU nodes: state mirrored from the contract, their tasks, rating history and earnings. */
import { and, gte } from "drizzle-orm";
import { node, nodeRating, task } from "../../schema";
import { builder } from "../builder";
import { loadPage, paginate, filterWhere, sortedBy } from "../pagination";
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
  logFields,
  pageArgs,
  rowByKeyField,
  type NodeRow,
} from "./refs";

/** Each ordering ends on the address, so that equal values still page deterministically. */
const NODE_ORDERINGS = {
  EARNINGS_DESC: [node.totalEarned, "desc"],
  RELIABILITY_DESC: [node.reliability, "desc"],
  TASKS_COMPLETED_DESC: [node.tasksCompleted, "desc"],
  REGISTERED_ASC: [node.registeredBlock, "asc"],
} as const;

const NodeOrder = builder.enumType("NodeOrder", { values: Object.keys(NODE_ORDERINGS) as (keyof typeof NODE_ORDERINGS)[] });

function nodeOrdering(order: keyof typeof NODE_ORDERINGS) {
  const [column, direction] = NODE_ORDERINGS[order];
  return sortedBy(`node:${order}`, direction, column, node.address);
}

const ratingsNewestFirst = sortedBy("rating:position", "desc", nodeRating.blockNumber, nodeRating.logIndex);

RatingChangeRef.implement({
  fields: (t) => ({
    oldRating: t.exposeInt("oldRating"),
    newRating: t.exposeInt("newRating"),
    reason: t.field({ type: RatingReasonEnum, resolve: (row) => row.reason }),
    ...logFields(t),
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

rowByKeyField("node", NodeRef, node, node.address, { name: "address", type: "Address" });

builder.queryFields((t) => ({
  nodes: t.field({
    type: NodeConnection,
    args: { ...pageArgs, filter: t.arg({ type: NodeFilter }), orderBy: t.arg({ type: NodeOrder, required: true, defaultValue: "EARNINGS_DESC" }) },
    resolve: (_root, { filter, orderBy, ...args }, context) => {
      const where = and(
        filterWhere(filter, { active: node.active, owner: node.owner }),
        filter?.minReliability != null ? gte(node.reliability, filter.minReliability) : undefined,
      );
      return paginate(context, { table: node, where, ordering: nodeOrdering(orderBy), args });
    },
  }),
}));
