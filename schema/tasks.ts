import { index, onchainTable } from "ponder";
import { numbers } from "./columns";
import { taskStatus } from "./enums";

/** A task's whole lifecycle: escrow at creation, then its settlement or cancellation. */
export const task = onchainTable(
  "task",
  (t) => ({
    id: t.hex().primaryKey(),
    user: t.hex().notNull(),
    node: t.hex(),
    status: taskStatus("status").notNull(),
    failed: t.boolean().notNull(),
    escrow: t.bigint().notNull(),
    actualCost: t.bigint(),
    nodePayment: t.bigint(),
    stakerPayment: t.bigint(),
    treasuryPayment: t.bigint(),
    refund: t.bigint(),
    performanceScore: t.integer(),
    ...numbers(t, "createdAt", "createdBlock"),
    createdTx: t.hex().notNull(),
    settledAt: t.int8({ mode: "number" }),
    settledBlock: t.int8({ mode: "number" }),
    settledLogIndex: t.integer(),
    settledTx: t.hex(),
    durationSeconds: t.int8({ mode: "number" }),
    updatedBlock: t.int8({ mode: "number" }).notNull(),
    /** The hash of `updatedBlock` as indexed (see logPosition). */
    updatedBlockHash: t.hex().notNull(),
    updatedLogIndex: t.integer().notNull(),
  }),
  (table) => ({
    userIdx: index().on(table.user, table.createdAt),
    nodeIdx: index().on(table.node, table.createdAt),
    statusIdx: index().on(table.status, table.createdAt),
    createdIdx: index().on(table.createdAt, table.id),
    updatedIdx: index().on(table.updatedBlock, table.updatedLogIndex),
    createdTxIdx: index().on(table.createdTx),
    settledTxIdx: index().on(table.settledTx),
  }),
);
