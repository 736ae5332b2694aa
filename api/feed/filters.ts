/**
 * What a subscription wants from the feed, and how an entry finds the subscriptions that want
 * it. Each filter is registered under the keys of its most selective argument (a recipient, a
 * task id, …) or under its topic's wildcard; an entry is offered only to the filters registered
 * under one of its own keys, then checked in full. So an entry costs in proportion to the
 * subscriptions it may match, not to all of them.
 */
import type { FeedEntry, FeedRow, FeedTopic } from "./messages";

export type FeedFilter = {
  topic: FeedTopic;
  /** Where the filter is registered: an entry must carry one of these keys to be offered to it. */
  keys: string[];
  accept: (entry: FeedEntry) => boolean;
};

/** Hex columns are stored lowercase; arguments may be checksummed. */
const lower = (value: string | null | undefined) => value?.toLowerCase();
const key = (topic: FeedTopic, field: string, value: string) => `${topic}:${field}:${value.toLowerCase()}`;
const wildcard = (topic: FeedTopic) => `${topic}:*`;
const same = (column: string | null | undefined, wanted: string | null | undefined) => !wanted || lower(column) === lower(wanted);
const wantsFinality = (entry: FeedEntry, includeFinality: boolean | null | undefined) => entry.action !== "FINALIZED" || includeFinality === true;

/** The keys an entry is offered under: one per filterable column it has, and its topic's wildcard. */
function entryKeys(entry: FeedEntry): string[] {
  switch (entry.topic) {
    case "payout": {
      const row = entry.row as FeedRow<"payout">;
      const keys = [wildcard("payout"), key("payout", "recipient", row.recipient), key("payout", "stream", row.stream)];
      if (row.node) keys.push(key("payout", "node", row.node));
      return keys;
    }
    case "task": {
      const row = entry.row as FeedRow<"task">;
      const keys = [wildcard("task"), key("task", "id", row.id), key("task", "user", row.user)];
      if (row.node) keys.push(key("task", "node", row.node));
      return keys;
    }
    case "staking":
      return [wildcard("staking"), key("staking", "staker", (entry.row as FeedRow<"staking">).staker)];
  }
}

export type PayoutFilterArgs = { recipient?: string | null; node?: string | null; streams?: readonly string[] | null; includeFinality?: boolean | null };

export function payoutFilter(args: PayoutFilterArgs): FeedFilter {
  const keys = args.recipient
    ? [key("payout", "recipient", args.recipient)]
    : args.node
      ? [key("payout", "node", args.node)]
      : args.streams
        ? args.streams.map((stream) => key("payout", "stream", stream))
        : [wildcard("payout")];
  return {
    topic: "payout",
    keys,
    accept: (entry) => {
      if (entry.topic !== "payout" || !wantsFinality(entry, args.includeFinality)) return false;
      const row = entry.row as FeedRow<"payout">;
      return same(row.recipient, args.recipient) && same(row.node, args.node) && (!args.streams || args.streams.includes(row.stream));
    },
  };
}

export type TaskFilterArgs = { id?: string | null; user?: string | null; node?: string | null; includeFinality?: boolean | null };

export function taskFilter(args: TaskFilterArgs): FeedFilter {
  const keys = args.id
    ? [key("task", "id", args.id)]
    : args.user
      ? [key("task", "user", args.user)]
      : args.node
        ? [key("task", "node", args.node)]
        : [wildcard("task")];
  return {
    topic: "task",
    keys,
    accept: (entry) => {
      if (entry.topic !== "task" || !wantsFinality(entry, args.includeFinality)) return false;
      const row = entry.row as FeedRow<"task">;
      return same(row.id, args.id) && same(row.user, args.user) && same(row.node, args.node);
    },
  };
}

export type StakingFilterArgs = { address?: string | null; includeFinality?: boolean | null };

export function stakingFilter(args: StakingFilterArgs): FeedFilter {
  return {
    topic: "staking",
    keys: [args.address ? key("staking", "staker", args.address) : wildcard("staking")],
    accept: (entry) => entry.topic === "staking" && wantsFinality(entry, args.includeFinality) && same((entry.row as FeedRow<"staking">).staker, args.address),
  };
}

/**
 * Filters by the keys they are registered under: `offer` hands an entry to exactly the filters
 * that may want it, each once, in registration order.
 */
export function createFilterIndex<T extends { filter: FeedFilter }>() {
  const byKey = new Map<string, Set<T>>();
  return {
    add(item: T) {
      for (const itemKey of item.filter.keys) {
        let set = byKey.get(itemKey);
        if (!set) byKey.set(itemKey, (set = new Set()));
        set.add(item);
      }
    },
    delete(item: T) {
      for (const itemKey of item.filter.keys) {
        const set = byKey.get(itemKey);
        set?.delete(item);
        if (set?.size === 0) byKey.delete(itemKey);
      }
    },
    /** The registered items whose filter accepts `entry`. */
    matching(entry: FeedEntry): T[] {
      const seen = new Set<T>();
      const found: T[] = [];
      for (const entryKey of entryKeys(entry)) {
        for (const item of byKey.get(entryKey) ?? []) {
          if (seen.has(item)) continue;
          seen.add(item);
          if (item.filter.accept(entry)) found.push(item);
        }
      }
      return found;
    },
  };
}
