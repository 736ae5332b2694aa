/**
 * The feed log: an ordered, append-only record of changes that every subscriber reads from, so
 * a resuming client replays exactly what it missed. In process by default; with Redis, one
 * Redis Stream shared by every API replica (and by their restarts).
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { decodeChange, encodeChange, reviveChange, stringifyWithBigints, type FeedChange, type FeedEntry } from "./messages";
import type { FeedReaderState } from "./reader";

export type FeedLog = {
  epoch: () => Promise<string>;
  /** Appends the changes and the reader state after them, as one step. */
  append: (changes: FeedChange[], state: FeedReaderState) => Promise<void>;
  readerState: () => Promise<FeedReaderState | undefined>;
  /** Entries after `seq`, oldest first, at most `limit`; `undefined` when `seq` fell out of the log. */
  range: (afterSeq: string, limit: number) => Promise<FeedEntry[] | undefined>;
  /** The newest entry's seq, or "0" for an empty log. */
  head: () => Promise<string>;
  /** Calls `listener` with every entry appended from now on, in order, across processes. */
  tail: (listener: (entries: FeedEntry[]) => void) => () => void;
  /** True while this process may append (a single writer per log). */
  acquireWriter: () => Promise<boolean>;
  compare: (a: string, b: string) => number;
  /** Whether `text` has the form of this log's positions (what a cursor may name). */
  isSeq: (text: string) => boolean;
  close: () => Promise<void>;
};

/** The in-process log's positions: a counter. */
export const isCounterSeq = (text: string) => /^\d{1,15}$/.test(text);
/** A Redis Stream's positions: `<ms>-<n>`. */
export const isStreamId = (text: string) => /^\d{1,15}-\d{1,15}$/.test(text);

export function createMemoryFeedLog({ retain = 200_000 }: { retain?: number } = {}): FeedLog {
  const epoch = randomUUID();
  const entries: FeedEntry[] = [];
  let next = 1;
  let state: FeedReaderState | undefined;
  const listeners = new Set<(entries: FeedEntry[]) => void>();
  return {
    epoch: async () => epoch,
    async append(changes, nextState) {
      const appended = changes.map((change) => ({ ...change, seq: String(next++) }));
      entries.push(...appended);
      if (entries.length > retain) entries.splice(0, entries.length - retain);
      state = nextState;
      if (appended.length > 0) for (const listener of listeners) listener(appended);
    },
    readerState: async () => state,
    async range(afterSeq, limit) {
      const after = Number(afterSeq);
      const first = entries[0] ? Number(entries[0].seq) : next;
      if (after < first - 1) return undefined;
      const start = after - first + 1;
      return entries.slice(start, start + limit);
    },
    head: async () => String(next - 1),
    tail(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    acquireWriter: async () => true,
    compare: (a, b) => Number(a) - Number(b),
    isSeq: isCounterSeq,
    close: async () => listeners.clear(),
  };
}

/** Redis Stream ids are `<ms>-<n>`: compared as two numbers. */
function compareStreamIds(a: string, b: string): number {
  const [am, an] = a.split("-").map(Number) as [number, number];
  const [bm, bn] = b.split("-").map(Number) as [number, number];
  return am - bm || an - bn;
}

export function createRedisFeedLog({ url, prefix = "far", retain = 1_000_000, writerTtlMs = 10_000 }: { url: string; prefix?: string; retain?: number; writerTtlMs?: number }): FeedLog {
  const redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 3 });
  const streamKey = `${prefix}:feed`;
  const stateKey = `${prefix}:feed:state`;
  const epochKey = `${prefix}:feed:epoch`;
  const writerKey = `${prefix}:feed:writer`;
  const writerId = randomUUID();
  let tailing: Redis | undefined;
  const listeners = new Set<(entries: FeedEntry[]) => void>();
  let epoch: Promise<string> | undefined;

  const toEntries = (rows: [string, string[]][]) => rows.map(([seq, fields]) => ({ ...decodeChange(fields[1]!), seq }));

  async function tailLoop(connection: Redis) {
    let last = (await connection.xrevrange(streamKey, "+", "-", "COUNT", 1))[0]?.[0] ?? "0-0";
    while (tailing === connection) {
      const result = (await connection.xread("COUNT", 1000, "BLOCK", 1000, "STREAMS", streamKey, last).catch(() => null)) as [string, [string, string[]][]][] | null;
      const rows = result?.[0]?.[1] ?? [];
      if (rows.length === 0) continue;
      last = rows.at(-1)![0];
      const entries = toEntries(rows);
      for (const listener of listeners) listener(entries);
    }
  }

  return {
    epoch: () =>
      (epoch ??= (async () => {
        await redis.set(epochKey, randomUUID(), "NX");
        return (await redis.get(epochKey))!;
      })()),
    async append(changes, state) {
      const transaction = redis.multi();
      for (const change of changes) transaction.xadd(streamKey, "MAXLEN", "~", retain, "*", "change", encodeChange(change));
      transaction.set(stateKey, stringifyWithBigints(state));
      // Only the writer may append: the step is dropped if this process lost the lease meanwhile.
      const owner = await redis.get(writerKey);
      if (owner !== writerId) return;
      await transaction.exec();
    },
    async readerState() {
      const text = await redis.get(stateKey);
      if (!text) return undefined;
      const state = JSON.parse(text) as FeedReaderState;
      return { ...state, pending: state.pending.map(reviveChange) };
    },
    async range(afterSeq, limit) {
      // Entries up to max-deleted-entry-id were trimmed away: a cursor before it cannot be served.
      const info = (await redis.xinfo("STREAM", streamKey).catch(() => [])) as unknown[];
      const deletedIndex = info.indexOf("max-deleted-entry-id");
      const maxDeleted = deletedIndex >= 0 ? String(info[deletedIndex + 1]) : "0-0";
      if (compareStreamIds(afterSeq, maxDeleted) < 0) return undefined;
      return toEntries((await redis.xrange(streamKey, `(${afterSeq}`, "+", "COUNT", limit)) as [string, string[]][]);
    },
    head: async () => (await redis.xrevrange(streamKey, "+", "-", "COUNT", 1))[0]?.[0] ?? "0-0",
    tail(listener) {
      listeners.add(listener);
      if (!tailing) {
        tailing = redis.duplicate();
        void tailLoop(tailing);
      }
      return () => listeners.delete(listener);
    },
    async acquireWriter() {
      const acquired = await redis.set(writerKey, writerId, "PX", writerTtlMs, "NX");
      if (acquired) return true;
      if ((await redis.get(writerKey)) !== writerId) return false;
      await redis.pexpire(writerKey, writerTtlMs);
      return true;
    },
    compare: compareStreamIds,
    isSeq: isStreamId,
    async close() {
      listeners.clear();
      const connection = tailing;
      tailing = undefined;
      connection?.disconnect();
      if ((await redis.get(writerKey).catch(() => null)) === writerId) await redis.del(writerKey);
      redis.disconnect();
    },
  };
}
