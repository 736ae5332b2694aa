/**
 * The feed's fan-out, one per API process: it follows the indexer's progress (woken by its
 * commits where they are signalled, polling otherwise) for `indexingStatus`, and tails the feed
 * log (written by the feed writer, api/feed/writer.ts) once, handing each entry only to the
 * subscribers whose filters may want it (api/feed/filters.ts) — one by one, executed by Yoga per
 * subscriber, or in groups that execute it once for all their members (api/feed/groups.ts).
 * Subscribers never touch the database; each is bounded (api/feed/member.ts).
 */
import type { ServerResponse } from "node:http";
import type { Logger } from "pino";
import { readIndexingStatus, type ApiDb, type IndexingStatus } from "../db";
import { runOnCommit, type CommitSignal } from "./commits";
import { createFilterIndex, type FeedFilter } from "./filters";
import { createGroups, type JoinParameters } from "./groups";
import type { FeedLog } from "./log";
import { startMember } from "./member";
import { encodeCursor, type FeedEntry } from "./messages";
import { createQueueSink, SSE_PING } from "./sinks";

export type CreateFeedFanoutParameters = {
  db: ApiDb;
  log: FeedLog;
  logger: Logger;
  pollMs: number;
  /** Wakes the status updates when the indexer commits; without it, they poll. */
  commits?: CommitSignal;
  /** Entries a subscriber may have waiting before it is cut off as too slow. */
  maxQueue: number;
  /** How long a subscriber cut off as too slow has to take its SLOW_CONSUMER error before its connection is dropped. */
  stallGraceMs: number;
};

/** What a subscription asks of the feed. */
export type FeedRequest = {
  after?: string | null;
  filter: FeedFilter;
  /** Drops the subscriber's connection: called when it was cut off and did not even take the error. */
  dropConnection?: () => void;
};

export const FEED_REQUEST = Symbol("feed request");
export type FeedEvent = FeedEntry & { cursor: string };
export type FeedSource = AsyncGenerator<FeedEvent> & { [FEED_REQUEST]: FeedRequest };

type Listener = { filter: FeedFilter; deliver: (entry: FeedEntry) => void };

/** How often an SSE stream written here is pinged (Yoga's interval), so proxies keep it open. */
const SSE_PING_MS = 12_000;

export type FeedFanout = ReturnType<typeof createFeedFanout>;

export function createFeedFanout({ db, log, logger, pollMs, commits, maxQueue, stallGraceMs }: CreateFeedFanoutParameters) {
  const statusListeners = new Set<(status: IndexingStatus) => void>();
  let status: IndexingStatus | undefined;
  let subscribers = 0;
  let slowConsumersCut = 0;

  async function readStatus() {
    const next = await readIndexingStatus(db);
    if (next && JSON.stringify(next) !== JSON.stringify(status)) {
      status = next;
      for (const listener of statusListeners) listener(next);
    }
  }

  const loop = runOnCommit({ commits, pollMs, logger, what: "indexing status read", work: readStatus });

  const index = createFilterIndex<Listener>();
  const untail = log.tail((entries) => {
    for (const entry of entries) for (const listener of index.matching(entry)) listener.deliver(entry);
  });
  const listen = (listener: Listener) => {
    index.add(listener);
    return () => index.delete(listener);
  };
  const track = (change: number) => (subscribers += change);
  const memberSettings = { maxQueue, stallGraceMs, logger, onCutOff: () => (slowConsumersCut += 1) };
  const groups = createGroups({ log, listen, logger, track, member: memberSettings });
  // One timer keeps every directly written SSE stream alive, as Yoga's does for the ones it writes.
  const pinged = new Set<ServerResponse>();
  const pinger = setInterval(() => {
    for (const res of pinged) if (!res.writableEnded && !res.writableNeedDrain) res.write(SSE_PING);
  }, SSE_PING_MS);
  pinger.unref();

  /**
   * One subscriber, its events executed by Yoga: the source a subscription resolver returns. It
   * names what it was asked for (FEED_REQUEST), so a server that can serve it in a group
   * (api/plugins/use-subscription-groups.ts) does so without ever starting it.
   */
  function subscribe(request: FeedRequest): FeedSource {
    let started: AsyncGenerator<FeedEvent> | undefined;
    // Started on the first pull, so a source the groups take over holds nothing.
    const start = async () => {
      const epoch = await log.epoch();
      const toEvent = (entry: FeedEntry): FeedEvent => ({ ...entry, cursor: encodeCursor(epoch, entry.seq) });
      const { sink, iterator } = createQueueSink<FeedEvent>(request.dropConnection, () => member.close());
      const unlisten = listen({
        filter: request.filter,
        deliver: (entry) => {
          const event = toEvent(entry);
          member.offer([entry], [event], event);
        },
      });
      track(1);
      const member = startMember({
        log,
        epoch,
        after: request.after,
        accept: request.filter.accept,
        render: toEvent,
        sink,
        ...memberSettings,
        onRelease: () => {
          unlisten();
          track(-1);
        },
      });
      return iterator;
    };
    let starting: Promise<AsyncGenerator<FeedEvent>> | undefined;
    const source: FeedSource = {
      next: async () => (started ??= await (starting ??= start())).next(),
      return: async () => (starting ? (await starting).return(undefined) : { done: true, value: undefined }),
      throw: async (error: unknown) => (starting ? (await starting).throw(error) : Promise.reject(error)),
      [Symbol.asyncIterator]() {
        return this;
      },
      [FEED_REQUEST]: request,
    };
    return source;
  }

  /**
   * A subscriber served with its group: everyone asking the same operation with the same
   * variables shares one execution per event and its bytes (api/feed/groups.ts).
   */
  async function join(parameters: Omit<JoinParameters, "epoch">, res?: ServerResponse) {
    const member = groups.join({ ...parameters, epoch: await log.epoch() });
    if (res) {
      pinged.add(res);
      res.once("close", () => pinged.delete(res));
    }
    return member;
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
    join,
    statusUpdates,
    subscriberCount: () => subscribers,
    groupCount: groups.count,
    /** Subscribers this process cut off as too slow (SLOW_CONSUMER) since it started. */
    slowConsumersCut: () => slowConsumersCut,
    async stop() {
      clearInterval(pinger);
      untail();
      await loop.stop();
      await log.close();
    },
  };
}
