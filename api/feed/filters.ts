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

/** The values wanted of one column (none: the column is not checked). */
type Wanted<T extends FeedTopic> = [column: keyof FeedRow<T> & string, values: readonly string[] | null | undefined];

/** One value wanted, or none when the argument is not given. */
const one = (value: string | null | undefined) => (value ? [value] : undefined);

/**
 * The entries of `topic` whose row holds, in every column with values wanted, one of them. It is
 * registered under the first such column's keys (the columns come most selective first), or
 * under the topic's wildcard when no column is checked.
 */
function columnFilter<T extends FeedTopic>(topic: T, wanted: Wanted<T>[], includeFinality: boolean | null | undefined): FeedFilter {
  const registered = wanted.find(([, values]) => values);
  return {
    topic,
    keys: registered ? registered[1]!.map((value) => key(topic, registered[0], value)) : [wildcard(topic)],
    accept: (entry) => {
      if (entry.topic !== topic || !wantsFinality(entry, includeFinality)) return false;
      const row = entry.row as FeedRow<T>;
      return wanted.every(([column, values]) => !values || values.some((value) => lower(row[column] as string | null) === lower(value)));
    },
  };
}

export function payoutFilter(args: { recipient?: string | null; node?: string | null; streams?: readonly string[] | null; includeFinality?: boolean | null }): FeedFilter {
  return columnFilter("payout", [["recipient", one(args.recipient)], ["node", one(args.node)], ["stream", args.streams]], args.includeFinality);
}

export function taskFilter(args: { id?: string | null; user?: string | null; node?: string | null; includeFinality?: boolean | null }): FeedFilter {
  return columnFilter("task", [["id", one(args.id)], ["user", one(args.user)], ["node", one(args.node)]], args.includeFinality);
}

export function stakingFilter(args: { address?: string | null; includeFinality?: boolean | null }): FeedFilter {
  return columnFilter("staking", [["staker", one(args.address)]], args.includeFinality);
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
