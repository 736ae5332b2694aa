/** Tasks: escrow at creation, then settlement or cancellation, with the payouts it caused. */
import { eq } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import { node, payout, task } from "../../schema";
import { builder } from "../builder";
import type { ApiContext } from "../context";
import { rowBy, rowsBy } from "../loaders";
import { loadPage, sortedBy, type PageArgs } from "../pagination";
import { taskSeries, type TaskPoint } from "../task-series";
import { seriesArgs } from "./revenue";
import { AccountRef, NodeRef, PayoutRef, TaskConnection, TaskRef, TaskStatusEnum, finalizedField, filteredListField, rowByKeyField, type TaskRow } from "./refs";

/** Newest first; the id breaks ties between tasks created in one block. */
const newestFirst = sortedBy("task:created", "desc", task.createdAt, task.id);

type TaskStatus = TaskRow["status"];

/** A user's or a node's tasks, batched across every user or node of the request. */
export function loadTaskPage(context: ApiContext, group: PgColumn, key: string, args: PageArgs & { status?: TaskStatus | null }) {
  const where = args.status ? eq(task.status, args.status) : undefined;
  return loadPage(context, { table: task, group, key, where, ordering: newestFirst, args, cacheKey: args.status ?? "" });
}

TaskRef.implement({
  description: "An inference task: its escrow, then how it was settled or cancelled.",
  fields: (t) => ({
    id: t.expose("id", { type: "Bytes32" }),
    user: t.field({ type: AccountRef, resolve: (row) => ({ address: row.user }) }),
    node: t.field({
      type: NodeRef,
      nullable: true,
      description: "The node that ran it (or was blamed for a failure); null while open or when cancelled by timeout.",
      resolve: (row, _args, context) => (row.node ? rowBy(context, node, node.address).load(row.node) : null),
    }),
    status: t.field({ type: TaskStatusEnum, resolve: (row) => row.status }),
    failed: t.exposeBoolean("failed", { description: "Cancelled because the node failed (full refund)." }),
    escrow: t.expose("escrow", { type: "BigInt" }),
    actualCost: t.expose("actualCost", { type: "BigInt", nullable: true }),
    nodePayment: t.expose("nodePayment", { type: "BigInt", nullable: true }),
    stakerPayment: t.expose("stakerPayment", { type: "BigInt", nullable: true }),
    treasuryPayment: t.expose("treasuryPayment", { type: "BigInt", nullable: true }),
    refund: t.expose("refund", { type: "BigInt", nullable: true }),
    performanceScore: t.exposeInt("performanceScore", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    createdBlock: t.exposeInt("createdBlock"),
    createdTx: t.expose("createdTx", { type: "Bytes32" }),
    settledAt: t.expose("settledAt", { type: "DateTime", nullable: true }),
    settledBlock: t.exposeInt("settledBlock", { nullable: true }),
    settledTx: t.expose("settledTx", { type: "Bytes32", nullable: true }),
    durationSeconds: t.exposeInt("durationSeconds", { nullable: true }),
    updatedBlock: t.exposeInt("updatedBlock", { description: "The block of the task's latest change." }),
    finalized: t.boolean(finalizedField((row: TaskRow) => row.updatedBlock)),
    payouts: t.field({
      type: [PayoutRef],
      resolve: (row, _args, context) => rowsBy(context, payout, payout.taskId, [payout.logIndex, payout.id]).load(row.id),
    }),
  }),
});

const TaskFilter = builder.inputType("TaskFilter", {
  fields: (t) => ({
    user: t.field({ type: "Address" }),
    node: t.field({ type: "Address" }),
    status: t.field({ type: TaskStatusEnum }),
    createdFrom: t.field({ type: "DateTime", description: "Created at or after." }),
    createdTo: t.field({ type: "DateTime", description: "Created before." }),
  }),
});

rowByKeyField("task", TaskRef, task, task.id, { name: "id", type: "Bytes32" });

filteredListField("tasks", {
  type: TaskConnection,
  description: "Tasks, newest first.",
  rows: { table: task, ordering: newestFirst },
  filter: { type: TaskFilter, equal: { user: task.user, node: task.node, status: task.status }, range: { column: task.createdAt, from: "createdFrom", to: "createdTo" } },
});

const TaskPointRef = builder.objectRef<TaskPoint>("TaskPoint").implement({
  description: "Tasks in one bucket: created in it, and ended in it by outcome.",
  fields: (t) => ({
    bucketStart: t.expose("bucketStart", { type: "DateTime" }),
    created: t.exposeInt("created"),
    completed: t.exposeInt("completed", { description: "Settled: the node was paid." }),
    failed: t.exposeInt("failed", { description: "Cancelled because the node failed (full refund)." }),
    expired: t.exposeInt("expired", { description: "Cancelled by the user after the task timed out (full refund)." }),
  }),
});

builder.queryField("taskSeries", (t) =>
  t.field({
    type: [TaskPointRef],
    description: "Tasks per bucket in [from, to): every bucket present (zero-filled). A task counts at its creation and at its outcome, each in its own bucket.",
    args: seriesArgs,
    resolve: (_root, spec, context) => taskSeries(context, spec),
  }),
);
