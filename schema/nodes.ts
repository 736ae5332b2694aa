import { index, onchainTable } from "ponder";
import { ratingReason } from "./enums";

/** Mirrors `InferencePayment.nodes(address)`, plus when the node joined. */
export const node = onchainTable(
  "node",
  (t) => ({
    address: t.hex().primaryKey(),
    owner: t.hex().notNull(),
    active: t.boolean().notNull(),
    reliability: t.integer().notNull(),
    tasksCompleted: t.integer().notNull(),
    tasksFailed: t.integer().notNull(),
    totalEarned: t.bigint().notNull(),
    registeredAt: t.int8({ mode: "number" }).notNull(),
    registeredBlock: t.int8({ mode: "number" }).notNull(),
    deactivatedAt: t.int8({ mode: "number" }),
  }),
  (table) => ({
    earnedIdx: index().on(table.totalEarned),
    reliabilityIdx: index().on(table.reliability),
    completedIdx: index().on(table.tasksCompleted),
    ownerIdx: index().on(table.owner),
  }),
);

export const nodeRating = onchainTable(
  "node_rating",
  (t) => ({
    id: t.text().primaryKey(),
    node: t.hex().notNull(),
    oldRating: t.integer().notNull(),
    newRating: t.integer().notNull(),
    reason: ratingReason("reason").notNull(),
    blockNumber: t.int8({ mode: "number" }).notNull(),
    logIndex: t.integer().notNull(),
    timestamp: t.int8({ mode: "number" }).notNull(),
    transactionHash: t.hex().notNull(),
  }),
  (table) => ({
    nodeIdx: index().on(table.node, table.blockNumber, table.logIndex),
    txIdx: index().on(table.transactionHash),
  }),
);
