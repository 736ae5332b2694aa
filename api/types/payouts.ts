/** Payouts: one row per money movement to a beneficiary, priced in USD when it happened. */
import { and, eq, gte, lt, type SQL } from "drizzle-orm";
import { node, payout, task } from "../../schema";
import { builder } from "../builder";
import type { ApiContext } from "../context";
import { rowBy } from "../loaders";
import { loadPage, paginate, type Ordering, type PageArgs } from "../pagination";
import { assertRange } from "../time";
import { AccountRef, NodeRef, PayoutConnection, PayoutRef, RevenueStreamEnum, TaskRef, finalizedField, pageArgs, type PayoutRow, type Stream } from "./refs";

/** Newest first; one log can pay several streams, so the id breaks the tie. */
const newestFirst: Ordering = {
  name: "payout:position",
  keys: [
    { column: payout.blockNumber, direction: "desc" },
    { column: payout.logIndex, direction: "desc" },
    { column: payout.id, direction: "desc" },
  ],
};

/** An account's payouts received, batched across every account of the request. */
export function loadReceivedPayouts(context: ApiContext, recipient: string, args: PageArgs & { stream?: Stream | null }) {
  const where = args.stream ? eq(payout.stream, args.stream) : undefined;
  return loadPage(context, { table: payout, group: payout.recipient, key: recipient, where, ordering: newestFirst, args, cacheKey: args.stream ?? "" });
}

PayoutRef.implement({
  description: "FAR paid to a beneficiary: a node's payment, the stakers' or treasury's share of a task, or a staking reward.",
  fields: (t) => ({
    id: t.exposeID("id"),
    stream: t.field({ type: RevenueStreamEnum, resolve: (row) => row.stream }),
    recipient: t.expose("recipient", { type: "Address" }),
    recipientAccount: t.field({ type: AccountRef, resolve: (row) => ({ address: row.recipient }) }),
    amount: t.expose("amount", { type: "BigInt", description: "FAR in wei." }),
    usdValue: t.expose("usdValue", { type: "BigInt", description: "USD with 18 decimals, at the FAR/USD price in force at this log." }),
    farUsdPrice: t.expose("farUsdPrice", { type: "BigInt", description: "The price feed's answer used (the feed's own decimals)." }),
    task: t.field({
      type: TaskRef,
      nullable: true,
      resolve: (row, _args, context) => (row.taskId ? rowBy(context, task, task.id).load(row.taskId) : null),
    }),
    node: t.field({
      type: NodeRef,
      nullable: true,
      resolve: (row, _args, context) => (row.node ? rowBy(context, node, node.address).load(row.node) : null),
    }),
    blockNumber: t.exposeInt("blockNumber"),
    logIndex: t.exposeInt("logIndex"),
    timestamp: t.expose("timestamp", { type: "DateTime" }),
    transactionHash: t.expose("transactionHash", { type: "Bytes32" }),
    finalized: t.boolean(finalizedField((row: PayoutRow) => row.blockNumber)),
  }),
});

const PayoutFilter = builder.inputType("PayoutFilter", {
  fields: (t) => ({
    recipient: t.field({ type: "Address" }),
    node: t.field({ type: "Address", description: "Payouts of tasks this node ran (all three task streams)." }),
    stream: t.field({ type: RevenueStreamEnum }),
    from: t.field({ type: "DateTime", description: "At or after." }),
    to: t.field({ type: "DateTime", description: "Before." }),
  }),
});

builder.queryField("payouts", (t) =>
  t.field({
    type: PayoutConnection,
    description: "Payouts, newest first.",
    args: { ...pageArgs, filter: t.arg({ type: PayoutFilter }) },
    resolve: (_root, { filter, ...args }, context) => {
      assertRange(filter?.from, filter?.to);
      const conditions: (SQL | undefined)[] = [
        filter?.recipient ? eq(payout.recipient, filter.recipient) : undefined,
        filter?.node ? eq(payout.node, filter.node) : undefined,
        filter?.stream ? eq(payout.stream, filter.stream) : undefined,
        filter?.from != null ? gte(payout.timestamp, filter.from) : undefined,
        filter?.to != null ? lt(payout.timestamp, filter.to) : undefined,
      ];
      return paginate(context, { table: payout, where: and(...conditions), ordering: newestFirst, args });
    },
  }),
);
