/**
 * One per API process: it follows the indexer's progress (woken by its commits where they are
 * signalled, polling otherwise) and fans the feed log's entries (written by the feed writer,
 * api/feed/writer.ts) out to every local subscriber. Subscribers never touch the database; each
 * has a bounded queue, and one that falls too far behind is ended with its last cursor so it can
 * resume instead of holding memory.
 *
 * A subscriber falls behind because its transport stopped pulling: Yoga's SSE writer and
 * graphql-ws wait for the socket to drain, so a client that stops reading stops the pulls. The
 * hub therefore acts on the write side, when the queue passes its bound: it frees the queue and
 * the subscriber at once, answers the next pull (if one comes) with SLOW_CONSUMER and the cursor
 * to resume from, and if no pull comes within a grace period, has the transport drop the
 * connection, which the client is not reading anyway.
 */
import type { Logger } from "pino";
import { readIndexingStatus, type ApiDb, type IndexingStatus } from "../db";
import { ApiError } from "../errors";
import { runOnCommit, type CommitSignal } from "./commits";
import type { FeedLog } from "./log";
import { decodeCursor, encodeCursor, type FeedEntry } from "./messages";

export type CreateFeedHubParameters = {
  db: ApiDb;
  log: FeedLog;
  logger: Logger;
  pollMs: number;
  /** Wakes the status updates when the indexer commits; without it, they poll. */
  commits?: CommitSignal;
  /** Entries a subscriber may have waiting before it is cut off as too slow. */
  maxQueue: number;
  /** How long a subscriber cut off as too slow has to take its SLOW_CONSUMER error before its connection is dropped. */
  stallGraceMs?: number;
};

export type FeedSubscription = {
  after?: string | null;
  accept: (entry: FeedEntry) => boolean;
  /** Drops the subscriber's connection: called when it was cut off and did not even take the error. */
  dropConnection?: () => void;
};

export type FeedHub = ReturnType<typeof createFeedHub>;

const REPLAY_PAGE = 500;

export function createFeedHub({ db, log, logger, pollMs, commits, maxQueue, stallGraceMs = 5_000 }: CreateFeedHubParameters) {
  const statusListeners = new Set<(status: IndexingStatus) => void>();
  let status: IndexingStatus | undefined;
  let subscribers = 0;

  async function readStatus() {
    const next = await readIndexingStatus(db);
    if (next && JSON.stringify(next) !== JSON.stringify(status)) {
      status = next;
      for (const listener of statusListeners) listener(next);
    }
  }

  const loop = runOnCommit({ commits, pollMs, logger, what: "indexing status read", work: readStatus });

  async function* subscribe({ after, accept, dropConnection }: FeedSubscription): AsyncGenerator<FeedEntry & { cursor: string }> {
    const epoch = await log.epoch();
    const queue: FeedEntry[] = [];
    let wake: (() => void) | undefined;
    let overflowed = false;
    let ended = false;
    let stalled: NodeJS.Timeout | undefined;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      subscribers -= 1;
      untail();
    };
    const untail = log.tail((entries) => {
      if (overflowed) return;
      for (const entry of entries) if (accept(entry)) queue.push(entry);
      if (queue.length > maxQueue) {
        overflowed = true;
        queue.length = 0;
        release();
        logger.info({ msg: "subscriber cut off as too slow", max_queue: maxQueue });
        if (dropConnection) stalled = setTimeout(() => ended || dropConnection(), stallGraceMs);
      }
      wake?.();
    });
    subscribers += 1;
    let last = "";
    try {
      last = after ? decodeCursor(after, epoch, log.isSeq) : await log.head();
      if (after && log.compare(last, await log.head()) > 0) {
        throw new ApiError("INVALID_CURSOR", "This cursor is past the end of the feed: it did not come from this server");
      }
      if (after) {
        while (!overflowed) {
          const page = await log.range(last, REPLAY_PAGE);
          if (!page) throw new ApiError("CURSOR_EXPIRED", "This cursor is older than the feed log keeps; re-query, then subscribe without `after`");
          for (const entry of page) {
            // Cut off mid-replay: stop here, so the next pull already answers SLOW_CONSUMER.
            if (overflowed) break;
            last = entry.seq;
            if (accept(entry)) yield { ...entry, cursor: encodeCursor(epoch, entry.seq) };
          }
          if (page.length < REPLAY_PAGE) break;
        }
      }
      for (;;) {
        if (overflowed) {
          throw new ApiError("SLOW_CONSUMER", `This subscriber fell more than ${maxQueue} messages behind; resume with after: "${encodeCursor(epoch, last)}"`);
        }
        const entry = queue.shift();
        if (!entry) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        // The live tail may overlap the replay; the log order says what was already sent.
        if (log.compare(entry.seq, last) <= 0) continue;
        last = entry.seq;
        yield { ...entry, cursor: encodeCursor(epoch, entry.seq) };
      }
    } finally {
      ended = true;
      clearTimeout(stalled);
      release();
    }
  }

  /** The indexer's progress whenever it changes, until `signal` (if any) aborts. */
  async function* statusUpdates(signal?: AbortSignal): AsyncGenerator<IndexingStatus> {
    let wake: (() => void) | undefined;
    const abort = () => wake?.();
    signal?.addEventListener("abort", abort);
    let latest = status;
    const listener = (next: IndexingStatus) => {
      latest = next;
      wake?.();
    };
    statusListeners.add(listener);
    try {
      let sent: IndexingStatus | undefined;
      while (!signal?.aborted) {
        if (latest && latest !== sent) {
          sent = latest;
          yield latest;
        }
        // An abort that came while the consumer held the last status must not be waited past.
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (signal?.aborted) resolve();
        });
      }
    } finally {
      statusListeners.delete(listener);
      signal?.removeEventListener("abort", abort);
    }
  }

  return {
    subscribe,
    statusUpdates,
    subscriberCount: () => subscribers,
    async stop() {
      await loop.stop();
      await log.close();
    },
  };
}
