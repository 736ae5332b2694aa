/**
 * One subscriber of the feed, whatever carries it: where it starts (the head, or replaying from
 * its cursor), what it was last given, and its bound. Items come rendered (`render`): an event
 * object for Yoga to execute, or bytes a group rendered once for all its members.
 *
 * A subscriber falls behind because its client stopped reading: the sink (its connection) then
 * holds what was written. When that passes API_FEED_MAX_QUEUE items, the subscriber is cut off
 * on the write side at once — freed from the feed, its stream ended with SLOW_CONSUMER and the
 * cursor of the last item written, which a client that reads again receives after everything
 * before it — and if the client takes nothing within a grace period, its connection is dropped.
 */
import type { Logger } from "pino";
import { ApiError } from "../errors";
import type { FeedLog } from "./log";
import { decodeCursor, encodeCursor, type FeedEntry } from "./messages";

/** A subscriber's connection, seen from the feed. */
export type FeedSink<T> = {
  /** Hands one item to the connection without waiting; false when the connection wants no more for now. */
  write: (item: T) => boolean;
  /** Items written beyond what the connection holds on its own: what the client has not taken. */
  backlog: () => number;
  /** Resolves true once the connection wants more, false once it closed. */
  drained: () => Promise<boolean>;
  /** Ends the stream, with an error the client sees when it reads up to it. */
  end: (error?: ApiError) => void;
  /** Whether the client took everything, the end included. */
  flushed: () => boolean;
  /** Drops the connection: for a subscriber cut off whose client took nothing more. */
  drop: () => void;
};

export type FeedMember<T> = {
  /**
   * The next live entries the member's filter accepts, in log order, each rendered (`items`) and
   * all rendered as one (`whole`, written at once when the member needs them all).
   */
  offer: (entries: FeedEntry[], items: T[], whole: T) => void;
  /** The client left: frees the member. */
  close: () => void;
};

const REPLAY_PAGE = 500;

export type StartMemberParameters<T> = {
  log: FeedLog;
  epoch: string;
  after: string | null | undefined;
  accept: (entry: FeedEntry) => boolean;
  render: (entry: FeedEntry) => T | Promise<T>;
  sink: FeedSink<T>;
  maxQueue: number;
  stallGraceMs: number;
  logger: Logger;
  /** Called when the member is cut off as too slow (counted for operators). */
  onCutOff: () => void;
  /** Called once, when the member stops taking entries (cut off, failed, or closed). */
  onRelease: () => void;
};

export function startMember<T>({ log, epoch, after, accept, render, sink, maxQueue, stallGraceMs, logger, onCutOff, onRelease }: StartMemberParameters<T>): FeedMember<T> {
  /** Live entries that came while the member was still finding where it starts, or replaying. */
  let waiting: [FeedEntry, T][] | undefined = [];
  let last = "";
  let released = false;
  let stalled: NodeJS.Timeout | undefined;

  const release = () => {
    if (released) return;
    released = true;
    waiting = undefined;
    onRelease();
  };

  function fail(error: ApiError) {
    release();
    sink.end(error);
  }

  function cutOff() {
    // Once per member: the rest of a batch being written can reach here again.
    if (!released) onCutOff();
    logger.info({ msg: "subscriber cut off as too slow", max_queue: maxQueue });
    fail(new ApiError("SLOW_CONSUMER", `This subscriber fell more than ${maxQueue} messages behind; resume with after: "${encodeCursor(epoch, last)}"`));
    stalled = setTimeout(() => sink.flushed() || sink.drop(), stallGraceMs);
    stalled.unref();
  }

  function send(entry: FeedEntry, item: T) {
    // Live entries may overlap the replay; the log order says what was already sent.
    if (log.compare(entry.seq, last) <= 0) return;
    last = entry.seq;
    sink.write(item);
    if (sink.backlog() > maxQueue) cutOff();
  }

  async function start() {
    const head = await log.head();
    if (!after) {
      last = head;
      return;
    }
    last = decodeCursor(after, epoch, log.isSeq);
    if (log.compare(last, head) > 0) throw new ApiError("INVALID_CURSOR", "This cursor is past the end of the feed: it did not come from this server");
    for (;;) {
      const page = await log.range(last, REPLAY_PAGE);
      if (!page) throw new ApiError("CURSOR_EXPIRED", "This cursor is older than the feed log keeps; re-query, then subscribe without `after`");
      for (const entry of page) {
        if (released) return;
        if (accept(entry)) {
          const item = await render(entry);
          if (released) return;
          const more = sink.write(item);
          last = entry.seq;
          // Replay goes at the client's pace; live entries wait meanwhile, within the bound.
          if (!more && !(await sink.drained())) return;
        } else last = entry.seq;
      }
      if (page.length < REPLAY_PAGE) return;
    }
  }

  void start().then(
    () => {
      const queued = waiting;
      waiting = undefined;
      if (!released && queued) for (const [entry, item] of queued) if (!released) send(entry, item);
    },
    (error: unknown) => {
      if (error instanceof ApiError) return fail(error);
      logger.error({ msg: "subscriber failed to start", err: error });
      fail(new ApiError("FEED_UNAVAILABLE", "The feed could not be read; subscribe again"));
    },
  );

  return {
    offer(entries, items, whole) {
      if (released) return;
      if (waiting) {
        entries.forEach((entry, index) => waiting!.push([entry, items[index]!]));
        if (waiting.length > maxQueue) cutOff();
        return;
      }
      if (log.compare(entries[0]!.seq, last) <= 0) return entries.forEach((entry, index) => send(entry, items[index]!));
      last = entries.at(-1)!.seq;
      sink.write(whole);
      if (sink.backlog() > maxQueue) cutOff();
    },
    close() {
      clearTimeout(stalled);
      release();
    },
  };
}
