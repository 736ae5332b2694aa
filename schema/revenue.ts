import { index, onchainTable, primaryKey, type PgColumnsBuilders } from "ponder";
import { bigints, logPosition, numbers } from "./columns";
import { bucketInterval, revenueStream } from "./enums";

/**
 * One row per money movement to a beneficiary. `usdValue` is the amount priced by the FAR/USD
 * feed's answer in force at that log, in USD with 18 decimals (the amount's own scale).
 */
export const payout = onchainTable(
  "payout",
  (t) => ({
    id: t.text().primaryKey(),
    stream: revenueStream("stream").notNull(),
    recipient: t.hex().notNull(),
    ...bigints(t, "amount", "usdValue", "farUsdPrice"),
    taskId: t.hex(),
    node: t.hex(),
    ...logPosition(t),
  }),
  (table) => ({
    positionIdx: index().on(table.blockNumber, table.logIndex),
    recipientIdx: index().on(table.recipient, table.blockNumber, table.logIndex),
    nodeIdx: index().on(table.node, table.blockNumber, table.logIndex),
    streamIdx: index().on(table.stream, table.blockNumber, table.logIndex),
    timeIdx: index().on(table.timestamp),
    txIdx: index().on(table.transactionHash),
  }),
);

/** Which bucket: its interval, when it starts, and the stream. */
const bucketKey = (t: PgColumnsBuilders) => ({
  interval: bucketInterval("interval").notNull(),
  bucketStart: t.int8({ mode: "number" }).notNull(),
  stream: revenueStream("stream").notNull(),
});

/** What a bucket adds up. */
const bucketTotals = (t: PgColumnsBuilders) => ({ ...bigints(t, "amount", "usdValue"), payoutCount: t.integer().notNull() });

/** Revenue per stream per hour and per day, maintained as payouts arrive. */
export const revenueBucket = onchainTable(
  "revenue_bucket",
  (t) => ({ ...bucketKey(t), ...bucketTotals(t) }),
  (table) => ({ pk: primaryKey({ columns: [table.interval, table.bucketStart, table.stream] }) }),
);

/** The same buckets split by the node a payout came from (payouts tied to a task). */
export const nodeRevenueBucket = onchainTable(
  "node_revenue_bucket",
  (t) => ({ ...bucketKey(t), node: t.hex().notNull(), ...bucketTotals(t) }),
  (table) => ({
    pk: primaryKey({ columns: [table.interval, table.bucketStart, table.stream, table.node] }),
    nodeIdx: index().on(table.node, table.interval, table.bucketStart),
  }),
);

/** The FAR/USD answer in force, from the feed's AnswerUpdated events. */
export const priceState = onchainTable("price_state", (t) => ({
  feed: t.hex().primaryKey(),
  answer: t.bigint().notNull(),
  decimals: t.integer().notNull(),
  roundId: t.bigint().notNull(),
  ...numbers(t, "updatedAt", "blockNumber"),
}));

/** InferencePayment's settings that payouts depend on (the treasury) and the task timeout. */
export const paymentSettings = onchainTable("payment_settings", (t) => ({
  contract: t.hex().primaryKey(),
  treasury: t.hex().notNull(),
  taskTimeout: t.int8({ mode: "number" }).notNull(),
}));
