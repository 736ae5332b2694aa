import { index, onchainTable } from "ponder";
import { integers, logPosition, numbers } from "./columns";
import { ratingReason } from "./enums";

/** Mirrors `InferencePayment.nodes(address)`, plus when the node joined. */
export const node = onchainTable(
  "node",
  (t) => ({
    address: t.hex().primaryKey(),
    owner: t.hex().notNull(),
    active: t.boolean().notNull(),
    ...integers(t, "reliability", "tasksCompleted", "tasksFailed"),
    totalEarned: t.bigint().notNull(),
    ...numbers(t, "registeredAt", "registeredBlock"),
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
    ...integers(t, "oldRating", "newRating"),
    reason: ratingReason("reason").notNull(),
    ...logPosition(t),
  }),
  (table) => ({
    nodeIdx: index().on(table.node, table.blockNumber, table.logIndex),
    txIdx: index().on(table.transactionHash),
  }),
);
