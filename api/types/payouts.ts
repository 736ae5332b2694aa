/** Payouts: one row per money movement to a beneficiary, priced in USD when it happened. */
import { eq } from "drizzle-orm";
import { node, payout, task } from "../../schema";
import { builder } from "../builder";
import type { ApiContext } from "../context";
import { rowBy } from "../loaders";
import { loadPage, sortedBy, type PageArgs } from "../pagination";
import type { Stream } from "../revenue";
import { AccountRef, NodeRef, PayoutConnection, PayoutRef, RevenueStreamEnum, TaskRef, filteredListField, logFields } from "./refs";

/** Newest first; one log can pay several streams, so the id breaks the tie. */
const newestFirst = sortedBy("payout:position", "desc", payout.blockNumber, payout.logIndex, payout.id);

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
    ...logFields(t, { logIndex: true }),
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

filteredListField("payouts", {
  type: PayoutConnection,
  description: "Payouts, newest first.",
  rows: { table: payout, ordering: newestFirst },
  filter: { type: PayoutFilter, equal: { recipient: payout.recipient, node: payout.node, stream: payout.stream }, range: { column: payout.timestamp, from: "from", to: "to" } },
});
