/**
 * The feed log: an ordered, append-only record of changes that every subscriber reads from, so
 * a resuming client replays exactly what it missed. In process by default; with Redis, one
 * Redis Stream shared by every API replica (and by their restarts).
 *
 * Two sides: the log (`FeedLog`), which every API process reads and tails, and the writer's
 * store (`FeedWriterStore`), which only the feed writer (api/feed/writer.ts) holds. The stream
 * holds entries only; the writer's progress lives under a key of its own, written in the same
 * atomic step as the entries it accounts for, and only by the holder of the writer's lease.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import type { FeedReaderState } from "./diff";
import { decodeChange, encodeChange, reviveChange, stringifyWithBigints, type FeedChange, type FeedEntry } from "./messages";

export type FeedLog = {
  epoch: () => Promise<string>;
  /** Entries after `seq`, oldest first, at most `limit`; `undefined` when `seq` fell out of the log. */
  range: (afterSeq: string, limit: number) => Promise<FeedEntry[] | undefined>;
  /** The newest entry's seq, or "0" for an empty log. */
  head: () => Promise<string>;
  /** Calls `listener` with every entry appended from now on, in order, across processes. */
  tail: (listener: (entries: FeedEntry[]) => void) => () => void;
  compare: (a: string, b: string) => number;
  /** Whether `text` has the form of this log's positions (what a cursor may name). */
  isSeq: (text: string) => boolean;
  close: () => Promise<void>;
};

export type FeedWriterStore = {
  /**
   * Takes the writer's lease, or renews it while this store still holds it. Returns the fencing
   * token of the current holding (a new token for every new acquisition), or undefined while
   * another writer holds the lease.
   */
  acquire: () => Promise<string | undefined>;
  /** The writer's progress as of its last accepted append. */
  progress: () => Promise<FeedReaderState | undefined>;
  /**
   * Appends `changes` and records `progress`, as one atomic step, if `token` still holds the lease.
   * False, with nothing written, when it does not (the lease expired or passed to another writer).
   */
  append: (token: string, changes: FeedChange[], progress: FeedReaderState) => Promise<boolean>;
  /** Gives the lease up (if held), so another writer can take over at once. */
  close: () => Promise<void>;
};

/** The in-process log's positions: a counter. */
export const isCounterSeq = (text: string) => /^\d{1,15}$/.test(text);
/** A Redis Stream's positions: `<ms>-<n>`. */
export const isStreamId = (text: string) => /^\d{1,15}-\d{1,15}$/.test(text);

/** The process's own log and the writer's store over it: one writer by construction. */
export function createMemoryFeed({ retain = 200_000 }: { retain?: number } = {}): { log: FeedLog; store: FeedWriterStore } {
  const epoch = randomUUID();
  const entries: FeedEntry[] = [];
  let next = 1;
  let progress: FeedReaderState | undefined;
  const listeners = new Set<(entries: FeedEntry[]) => void>();
  const log: FeedLog = {
    epoch: async () => epoch,
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
    compare: (a, b) => Number(a) - Number(b),
    isSeq: isCounterSeq,
    close: async () => listeners.clear(),
  };
  const store: FeedWriterStore = {
    acquire: async () => "memory",
    progress: async () => progress,
    async append(_token, changes, nextProgress) {
      const appended = changes.map((change) => ({ ...change, seq: String(next++) }));
      entries.push(...appended);
      if (entries.length > retain) entries.splice(0, entries.length - retain);
      progress = nextProgress;
      if (appended.length > 0) for (const listener of listeners) listener(appended);
      return true;
    },
    close: async () => {},
  };
  return { log, store };
}

/** Redis Stream ids are `<ms>-<n>`: compared as two numbers. */
function compareStreamIds(a: string, b: string): number {
  // Once per subscriber per event: no arrays.
  const aDash = a.indexOf("-");
  const bDash = b.indexOf("-");
  return Number(a.slice(0, aDash)) - Number(b.slice(0, bDash)) || Number(a.slice(aDash + 1)) - Number(b.slice(bDash + 1));
}

function feedKeys(prefix: string) {
  return {
    stream: `${prefix}:feed`,
    epoch: `${prefix}:feed:epoch`,
    /** The writer's progress (its reader state): the name it had when it shared the log's step. */
    progress: `${prefix}:feed:state`,
    lease: `${prefix}:feed:writer`,
    /** Counts acquisitions: each holding's token is the next number, so a stale one never matches again. */
    fence: `${prefix}:feed:writer:fence`,
  };
}

const connect = (url: string) => new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 3 });

export function createRedisFeedLog({ url, prefix = "far" }: { url: string; prefix?: string }): FeedLog {
  const redis = connect(url);
  const keys = feedKeys(prefix);
  let tailing: Redis | undefined;
  const listeners = new Set<(entries: FeedEntry[]) => void>();
  let epoch: Promise<string> | undefined;

  const toEntries = (rows: [string, string[]][]) => rows.map(([seq, fields]) => ({ ...decodeChange(fields[1]!), seq }));

  async function tailLoop(connection: Redis) {
    let last = (await connection.xrevrange(keys.stream, "+", "-", "COUNT", 1))[0]?.[0] ?? "0-0";
    while (tailing === connection) {
      const result = (await connection.xread("COUNT", 1000, "BLOCK", 1000, "STREAMS", keys.stream, last).catch(() => null)) as [string, [string, string[]][]][] | null;
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
        await redis.set(keys.epoch, randomUUID(), "NX");
        return (await redis.get(keys.epoch))!;
      })()),
    async range(afterSeq, limit) {
      // Entries up to max-deleted-entry-id were trimmed away: a cursor before it cannot be served.
      const info = (await redis.xinfo("STREAM", keys.stream).catch(() => [])) as unknown[];
      const deletedIndex = info.indexOf("max-deleted-entry-id");
      const maxDeleted = deletedIndex >= 0 ? String(info[deletedIndex + 1]) : "0-0";
      if (compareStreamIds(afterSeq, maxDeleted) < 0) return undefined;
      return toEntries((await redis.xrange(keys.stream, `(${afterSeq}`, "+", "COUNT", limit)) as [string, string[]][]);
    },
    head: async () => (await redis.xrevrange(keys.stream, "+", "-", "COUNT", 1))[0]?.[0] ?? "0-0",
    tail(listener) {
      listeners.add(listener);
      if (!tailing) {
        tailing = redis.duplicate();
        void tailLoop(tailing);
      }
      return () => listeners.delete(listener);
    },
    compare: compareStreamIds,
    isSeq: isStreamId,
    async close() {
      listeners.clear();
      const connection = tailing;
      tailing = undefined;
      connection?.disconnect();
      redis.disconnect();
    },
  };
}

/** KEYS: lease, fence. ARGV: the token this store holds ("" if none), the lease in ms. */
const ACQUIRE = `
local holder = redis.call('GET', KEYS[1])
if holder then
  if holder ~= ARGV[1] then return false end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return holder
end
local token = tostring(redis.call('INCR', KEYS[2]))
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
return token`;

/** KEYS: lease, stream, progress. ARGV: token, entries retained, progress, then one encoded change each. */
const APPEND = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
for i = 4, #ARGV do redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'change', ARGV[i]) end
redis.call('SET', KEYS[3], ARGV[3])
return 1`;

/** KEYS: lease. ARGV: token. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

type FeedScripts = {
  feedAcquire: (lease: string, fence: string, held: string, leaseMs: number) => Promise<string | null>;
  feedAppend: (lease: string, stream: string, progress: string, token: string, retain: number, state: string, ...changes: string[]) => Promise<number>;
  feedRelease: (lease: string, token: string) => Promise<number>;
};

export function createRedisFeedWriterStore({ url, prefix = "far", retain = 1_000_000, leaseMs = 10_000 }: { url: string; prefix?: string; retain?: number; leaseMs?: number }): FeedWriterStore {
  const redis = connect(url) as Redis & FeedScripts;
  redis.defineCommand("feedAcquire", { numberOfKeys: 2, lua: ACQUIRE });
  redis.defineCommand("feedAppend", { numberOfKeys: 3, lua: APPEND });
  redis.defineCommand("feedRelease", { numberOfKeys: 1, lua: RELEASE });
  const keys = feedKeys(prefix);
  let held: string | undefined;
  return {
    async acquire() {
      held = (await redis.feedAcquire(keys.lease, keys.fence, held ?? "", leaseMs)) ?? undefined;
      return held;
    },
    async progress() {
      const text = await redis.get(keys.progress);
      if (!text) return undefined;
      const progress = JSON.parse(text) as FeedReaderState;
      return { ...progress, pending: progress.pending.map(reviveChange) };
    },
    async append(token, changes, progress) {
      const appended = await redis.feedAppend(keys.lease, keys.stream, keys.progress, token, retain, stringifyWithBigints(progress), ...changes.map(encodeChange));
      return appended === 1;
    },
    async close() {
      if (held) await redis.feedRelease(keys.lease, held).catch(() => 0);
      held = undefined;
      redis.disconnect();
    },
  };
}
