/**
 * Live updates: payouts, task changes and staking changes as the indexer commits them (each
 * event with a cursor to resume from, retractions when a reorg removes something already sent,
 * and, on request, a message when it becomes final), the indexer's progress, and read-your-write.
 */
import type { Hex } from "viem";
import { builder } from "../builder";
import type { ApiContext } from "../context";
import { ApiError } from "../errors";
import type { FeedFanout } from "../feed/fanout";
import { payoutFilter, stakingFilter, taskFilter, type FeedFilter } from "../feed/filters";
import type { FeedEntry, FeedRow, FeedTopic } from "../feed/messages";
import { IndexedTransactionRef, IndexingStatusRef, PayoutRef, RevenueStreamEnum, StakingChangeRef, TaskRef } from "./refs";
import { findTransaction } from "./transactions";

type FeedEvent<T extends FeedTopic> = FeedEntry & { cursor: string; topic: T; row: FeedRow<T> };

const FeedActionEnum = builder.enumType("FeedAction", {
  values: {
    ADDED: { description: "The indexer committed this." },
    RETRACTED: { description: "A reorg removed this, already sent, from the chain; undo it." },
    FINALIZED: { description: "This is now past the chain's finality depth and can no longer be retracted." },
  },
});

function eventType<T extends FeedTopic>(name: string, _topic: T, field: string, ref: unknown) {
  return builder.objectRef<FeedEvent<T>>(name).implement({
    fields: (t) => ({
      cursor: t.exposeString("cursor", { description: "Pass as `after` when resubscribing to receive everything after this event." }),
      action: t.field({ type: FeedActionEnum, resolve: (event) => event.action }),
      finalized: t.exposeBoolean("finalized", { description: "Past the finality depth when this event was sent." }),
      blockNumber: t.exposeInt("blockNumber"),
      [field]: t.field({ type: ref as never, resolve: (event) => event.row as never }),
    }),
  });
}

const PayoutEventRef = eventType("PayoutEvent", "payout", "payout", PayoutRef);
const TaskEventRef = eventType("TaskEvent", "task", "task", TaskRef);
const StakingEventRef = eventType("StakingEvent", "staking", "change", StakingChangeRef);

function feedOf(context: ApiContext): FeedFanout {
  if (!context.feed) throw new ApiError("BAD_USER_INPUT", "This server offers no subscriptions");
  return context.feed;
}

/** A subscription to the feed's events of `topic` that `filterOf(args)` selects, resuming after `args.after`. */
function feedEvents<T extends FeedTopic, Args extends object>(_topic: T, filterOf: (args: Args) => FeedFilter) {
  return {
    subscribe: (_root: unknown, args: Args & { after?: string | null }, context: ApiContext) =>
      feedOf(context).subscribe({ after: args.after, dropConnection: context.dropConnection, filter: filterOf(args) }) as AsyncIterable<FeedEvent<T>>,
    resolve: (event: FeedEvent<T>) => event,
  };
}

builder.subscriptionType({});

builder.subscriptionField("payouts", (t) =>
  t.field({
    type: PayoutEventRef,
    args: {
      recipient: t.arg({ type: "Address" }),
      node: t.arg({ type: "Address" }),
      streams: t.arg({ type: [RevenueStreamEnum] }),
      after: t.arg.string({ description: "The cursor of the last event received: resume right after it." }),
      includeFinality: t.arg.boolean({ description: "Also send FINALIZED events." }),
    },
    ...feedEvents("payout", payoutFilter),
  }),
);

builder.subscriptionField("taskUpdated", (t) =>
  t.field({
    type: TaskEventRef,
    args: { id: t.arg({ type: "Bytes32" }), user: t.arg({ type: "Address" }), node: t.arg({ type: "Address" }), after: t.arg.string(), includeFinality: t.arg.boolean() },
    ...feedEvents("task", taskFilter),
  }),
);

builder.subscriptionField("stakingChanged", (t) =>
  t.field({
    type: StakingEventRef,
    args: { address: t.arg({ type: "Address" }), after: t.arg.string(), includeFinality: t.arg.boolean() },
    ...feedEvents("staking", stakingFilter),
  }),
);

builder.subscriptionField("indexingStatus", (t) =>
  t.field({
    type: IndexingStatusRef,
    description: "The indexer's progress, sent whenever it changes.",
    subscribe: (_root, _args, context) => feedOf(context).statusUpdates(),
    resolve: (status) => status,
  }),
);

builder.subscriptionField("transactionIndexed", (t) =>
  t.field({
    type: IndexedTransactionRef,
    description:
      "Completes with the transaction once every change it made is indexed (at once if it already is); ends with TRANSACTION_NOT_INDEXED when that does not happen within the server's wait (API_TX_WAIT_TIMEOUT_MS).",
    args: { hash: t.arg({ type: "Bytes32", required: true }) },
    subscribe: async function* (_root, { hash }, context) {
      const waitMs = context.config.API_TX_WAIT_TIMEOUT_MS;
      for await (const _status of feedOf(context).statusUpdates(AbortSignal.timeout(waitMs))) {
        const found = await findTransaction(context.renew(), hash as Hex);
        if (found?.indexed) {
          yield found;
          return;
        }
      }
      throw new ApiError("TRANSACTION_NOT_INDEXED", `The transaction was not indexed within ${waitMs} ms; ask transaction(hash), or subscribe again to keep waiting`);
    },
    resolve: (transaction) => transaction,
  }),
);
