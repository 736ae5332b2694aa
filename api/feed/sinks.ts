/**
 * The connections a feed member writes to: a queue Yoga pulls events from (executed per
 * subscriber), or, for grouped subscribers, the socket itself — an SSE response or a graphql-ws
 * operation — written the bytes its group rendered once.
 *
 * A socket's own buffer absorbs what the kernel has not taken yet up to its high-water mark;
 * what is written while the buffer is past it is the client's backlog. The backlog only grows
 * on writes, so a write that finds the buffer below its mark starts the count again.
 */
import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { GraphQLError } from "graphql";
import type { WebSocket } from "ws";
import type { ApiError } from "../errors";
import type { FeedSink } from "./member";

/** Events as a group rendered them: each one's JSON once, and their SSE frames once, together. */
export type Delivery = { json: string[]; sse: Buffer };

export function delivery(json: string): Delivery {
  return { json: [json], sse: Buffer.from(`event: next\ndata: ${json}\n\n`) };
}

/** Several deliveries as one: written to a socket at once. */
export function combine(items: Delivery[]): Delivery {
  return items.length === 1 ? items[0]! : { json: items.flatMap((item) => item.json), sse: Buffer.concat(items.map((item) => item.sse)) };
}

/** The execution result a client receives for an error that ends its stream. */
function errorResult(error: ApiError): string {
  return JSON.stringify({ errors: [new GraphQLError(error.shortMessage, { extensions: error.extensions }).toJSON()] });
}

/** What a client receives for an event whose execution failed beyond its GraphQL errors (the failure is logged). */
export const INTERNAL_ERROR_RESULT = JSON.stringify({ errors: [{ message: "Unexpected error.", extensions: { code: "INTERNAL_SERVER_ERROR" } }] });

/** Until the stream is pulled from or closes: the first to happen. */
function whenEither(emitter: NodeJS.EventEmitter, ok: string, closed: string): Promise<boolean> {
  return new Promise((resolve) => {
    const settle = (result: boolean) => () => {
      emitter.off(ok, onOk);
      emitter.off(closed, onClosed);
      resolve(result);
    };
    const onOk = settle(true);
    const onClosed = settle(false);
    emitter.once(ok, onOk);
    emitter.once(closed, onClosed);
  });
}

/**
 * A queue Yoga pulls from: the subscriber's items, then its end. An iterator rather than an
 * async generator, so that a client that leaves while nothing is queued is let go at once (a
 * generator waiting for its next item would only see the `return()` after that item came).
 */
export function createQueueSink<T>(dropConnection: (() => void) | undefined, close: () => void) {
  const queue: T[] = [];
  let waiting: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void } | undefined;
  let drainWaiters: ((more: boolean) => void)[] = [];
  let ending: { error?: ApiError } | undefined;
  let finished = false;
  const settleDrain = (more: boolean) => {
    const waiters = drainWaiters;
    drainWaiters = [];
    for (const waiter of waiters) waiter(more);
  };
  const finish = () => {
    if (finished) return;
    finished = true;
    queue.length = 0;
    settleDrain(false);
    close();
  };
  /** The end, once everything before it was taken. */
  const endResult = (): Promise<IteratorResult<T>> => {
    const error = ending?.error;
    finish();
    return error ? Promise.reject(error) : Promise.resolve({ done: true, value: undefined });
  };
  const sink: FeedSink<T> = {
    write(item) {
      if (finished) return false;
      if (waiting) {
        waiting.resolve({ done: false, value: item });
        waiting = undefined;
        return true;
      }
      queue.push(item);
      // Like a generator's yield while replaying: the next item once this one was taken.
      return false;
    },
    backlog: () => queue.length,
    drained: () => (finished || ending ? Promise.resolve(false) : queue.length === 0 ? Promise.resolve(true) : new Promise((resolve) => drainWaiters.push(resolve))),
    end(error) {
      if (ending || finished) return;
      ending = { error };
      settleDrain(false);
      if (waiting) void endResult().then(waiting.resolve, waiting.reject);
      waiting = undefined;
    },
    flushed: () => finished,
    drop: () => dropConnection?.(),
  };
  const iterator: AsyncGenerator<T> = {
    next() {
      const item = queue.shift();
      if (item !== undefined) {
        if (queue.length === 0) settleDrain(true);
        return Promise.resolve({ done: false, value: item });
      }
      if (ending || finished) return endResult();
      return new Promise((resolve, reject) => (waiting = { resolve, reject }));
    },
    async return() {
      finish();
      waiting?.resolve({ done: true, value: undefined });
      waiting = undefined;
      return { done: true, value: undefined };
    },
    async throw(error: unknown) {
      finish();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return { sink, iterator };
}

const SSE_HEADERS = {
  "content-type": "text/event-stream",
  connection: "keep-alive",
  "cache-control": "no-cache",
  "content-encoding": "none",
  // Ponder's server allows any origin on its other routes; a response written here skips its middleware.
  "access-control-allow-origin": "*",
};
export const SSE_PING = Buffer.from(":\n\n");
const SSE_COMPLETE = Buffer.from("event: complete\ndata:\n\n");

/** An SSE response (Yoga's framing: a ping first, `next` events, a `complete` event) written directly. */
export function createSseSink(res: ServerResponse): FeedSink<Delivery> {
  let backlog = 0;
  res.writeHead(200, SSE_HEADERS);
  res.write(SSE_PING);
  // Node keeps the response's head for as long as the response lives, as it built it: a string
  // of ~50 concatenated pieces (~2 KiB per subscriber). Reading a character flattens it in place.
  (res as unknown as { _header?: string })._header?.charCodeAt(0);
  return {
    write(item) {
      backlog = res.writableNeedDrain ? backlog + 1 : 0;
      return res.write(item.sse);
    },
    backlog: () => backlog,
    drained: () => (res.destroyed ? Promise.resolve(false) : res.writableNeedDrain ? whenEither(res, "drain", "close") : Promise.resolve(true)),
    end(error) {
      if (res.writableEnded) return;
      if (error) res.write(delivery(errorResult(error)).sse);
      res.end(SSE_COMPLETE);
    },
    flushed: () => res.writableFinished,
    drop: () => res.destroy(),
  };
}

/**
 * A graphql-ws operation whose `next` messages are written here, to the connection's socket,
 * while graphql-ws holds an iterator that yields nothing: it ends the operation (complete, or
 * the error, masked as every other) when the member ends, and tells the member when the client
 * completes the operation or the socket closes.
 */
export function createWsSink(socket: WebSocket, id: string) {
  const raw = (socket as unknown as { _socket: Socket })._socket;
  const prefix = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  let backlog = 0;
  let corked = false;
  let settle!: { resolve: (result: IteratorResult<never>) => void; reject: (error: unknown) => void };
  const ended = new Promise<IteratorResult<never>>((resolve, reject) => (settle = { resolve, reject }));
  // Rejected before graphql-ws asked: not an unhandled rejection; graphql-ws still receives it.
  ended.catch(() => {});
  let onReturn = () => {};
  const iterator: AsyncGenerator<never> = {
    next: () => ended,
    return: async () => {
      onReturn();
      return { done: true, value: undefined };
    },
    throw: async (error: unknown) => {
      onReturn();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  const sink: FeedSink<Delivery> = {
    write(item) {
      backlog = raw.writableNeedDrain ? backlog + 1 : 0;
      // One WebSocket message per event, all written in one go at the end of this tick.
      if (!corked) {
        corked = true;
        raw.cork();
        process.nextTick(() => {
          corked = false;
          raw.uncork();
        });
      }
      for (const json of item.json) socket.send(prefix + json + "}");
      return !raw.writableNeedDrain;
    },
    backlog: () => backlog,
    drained: () => (raw.destroyed ? Promise.resolve(false) : raw.writableNeedDrain ? whenEither(raw, "drain", "close") : Promise.resolve(true)),
    end: (error) => (error ? settle.reject(error) : settle.resolve({ done: true, value: undefined })),
    flushed: () => socket.bufferedAmount === 0,
    drop: () => socket.terminate(),
  };
  return { sink, iterator, onClose: (close: () => void) => void (onReturn = close) };
}
