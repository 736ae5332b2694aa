/** Revenue analytics: series per bucket in FAR and USD, and summaries over a range. */
import { node } from "../../schema";
import { builder } from "../builder";
import { ApiError } from "../errors";
import { rowBy } from "../loaders";
import { revenueSeries, revenueSummary, topEarningNodes, type RevenueTotals } from "../revenue";
import {
  IntervalEnum,
  NodeRef,
  NodeRevenueRef,
  RevenuePointRef,
  RevenueStreamEnum,
  RevenueSummaryRef,
  StreamRevenueRef,
} from "./refs";

const MAX_TOP_NODES = 100;

export const seriesArgs = builder.args((t) => ({
  interval: t.field({ type: IntervalEnum, required: true }),
  from: t.field({ type: "DateTime", required: true, description: "The first bucket is the one holding this instant." }),
  to: t.field({ type: "DateTime", required: true, description: "Every bucket starting before this instant is included." }),
  utcOffsetHours: t.int({ description: "Align DAY and WEEK buckets to midnight at this UTC offset (whole hours, -12 to 14)." }),
}));

/** The amounts every revenue figure carries; objects below inherit these fields. */
const RevenueTotalsInterface = builder.interfaceRef<RevenueTotals>("RevenueTotals").implement({
  fields: (t) => ({
    amount: t.expose("amount", { type: "BigInt", description: "FAR in wei." }),
    usdValue: t.expose("usdValue", { type: "BigInt", description: "USD with 18 decimals, each payout priced when it happened." }),
    payoutCount: t.exposeInt("payoutCount"),
  }),
});

const RevenueTotalRef = builder.objectRef<RevenueTotals>("RevenueTotal").implement({ interfaces: [RevenueTotalsInterface] });

StreamRevenueRef.implement({
  interfaces: [RevenueTotalsInterface],
  fields: (t) => ({ stream: t.field({ type: RevenueStreamEnum, resolve: (row) => row.stream }) }),
});

RevenuePointRef.implement({
  interfaces: [RevenueTotalsInterface],
  fields: (t) => ({
    bucketStart: t.expose("bucketStart", { type: "DateTime" }),
    cumulativeAmount: t.expose("cumulativeAmount", { type: "BigInt", description: "FAR from the first bucket of the series to this one, inclusive." }),
    cumulativeUsdValue: t.expose("cumulativeUsdValue", { type: "BigInt" }),
    byStream: t.field({ type: [StreamRevenueRef], resolve: (point) => point.byStream }),
  }),
});

NodeRevenueRef.implement({
  interfaces: [RevenueTotalsInterface],
  fields: (t) => ({
    node: t.field({ type: NodeRef, resolve: (row, _args, context) => rowBy(context, node, node.address).load(row.node).then((found) => found!) }),
  }),
});

RevenueSummaryRef.implement({
  fields: (t) => ({
    from: t.expose("from", { type: "DateTime", nullable: true }),
    to: t.expose("to", { type: "DateTime", nullable: true }),
    total: t.field({ type: RevenueTotalRef, resolve: (summary) => summary.total }),
    byStream: t.field({ type: [StreamRevenueRef], resolve: (summary) => summary.byStream }),
    topNodes: t.field({
      type: [NodeRevenueRef],
      description: "Nodes by NODE_PAYMENT received in the range, highest first.",
      args: { limit: t.arg.int({ required: true, defaultValue: 10 }) },
      resolve: (summary, { limit }, context) => {
        if (limit < 0 || limit > MAX_TOP_NODES) throw new ApiError("PAGE_TOO_LARGE", `limit must be from 0 to ${MAX_TOP_NODES}, got ${limit}`);
        return topEarningNodes(context, summary.from, summary.to, limit);
      },
    }),
  }),
});

builder.queryFields((t) => ({
  revenueSeries: t.field({
    type: [RevenuePointRef],
    description: "Revenue per bucket in [from, to): every bucket present (zero-filled), with running totals. WEEK buckets start on Monday.",
    args: {
      ...seriesArgs,
      streams: t.arg({ type: [RevenueStreamEnum], description: "All streams unless given." }),
      node: t.arg({ type: "Address", description: "Only payouts of tasks this node ran." }),
      recipient: t.arg({ type: "Address", description: "Only payouts to this address." }),
    },
    resolve: async (_root, { streams, node: nodeAddress, recipient, ...spec }, context) => {
      const [series] = await revenueSeries(context, spec, { streams, recipient, nodes: nodeAddress ? [nodeAddress] : undefined });
      return series!;
    },
  }),
  revenueSummary: t.field({
    type: RevenueSummaryRef,
    description: "Totals per stream over [from, to) (all time when open-ended), and the top-earning nodes.",
    args: { from: t.arg({ type: "DateTime" }), to: t.arg({ type: "DateTime" }) },
    resolve: (_root, { from, to }, context) => revenueSummary(context, from ?? null, to ?? null),
  }),
}));
