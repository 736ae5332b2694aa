/**
 * Sheds load instead of collapsing under it: at most API_MAX_CONCURRENT operations execute at
 * once in this process, at most API_MAX_QUEUED wait for a slot (each at most
 * API_QUEUE_TIMEOUT_MS, first come first served), and any beyond is answered at once with
 * OVERLOADED (HTTP 503, `Retry-After`). A queued operation whose client went away leaves the
 * queue. Subscriptions hold no slot: they are long-lived streams, bounded per connection and by
 * the feed's queue instead; each of their events is read from the feed, not by a query.
 */
import { GraphQLError, type ExecutionResult } from "graphql";
import type { Plugin } from "graphql-yoga";
import { Counter, Gauge, type Registry } from "prom-client";
import type { ApiConfig } from "../config";
import { metric } from "./use-metrics";

/** Seconds a refused client is asked to wait: a slot usually frees within a queue timeout. */
const RETRY_AFTER_SECONDS = 1;

type LimiterParameters = { maxConcurrent: number; maxQueued: number; queueTimeoutMs: number; onChange?: (running: number, queued: number) => void };

function createLimiter({ maxConcurrent, maxQueued, queueTimeoutMs, onChange }: LimiterParameters) {
  let running = 0;
  // A Set keeps insertion order: the first waiter is the oldest.
  const waiting = new Set<() => void>();
  return {
    /** Resolves true with a slot (release it), or false: refused, timed out in the queue, or the client left. */
    acquire(signal?: AbortSignal): Promise<boolean> {
      if (signal?.aborted) return Promise.resolve(false);
      if (running < maxConcurrent) {
        running += 1;
        onChange?.(running, waiting.size);
        return Promise.resolve(true);
      }
      if (waiting.size >= maxQueued) return Promise.resolve(false);
      return new Promise((resolve) => {
        const settle = (granted: boolean) => {
          waiting.delete(grant);
          clearTimeout(timer);
          signal?.removeEventListener("abort", leave);
          onChange?.(running, waiting.size);
          resolve(granted);
        };
        const grant = () => settle(true);
        const leave = () => settle(false);
        const timer = setTimeout(leave, queueTimeoutMs);
        signal?.addEventListener("abort", leave, { once: true });
        waiting.add(grant);
        onChange?.(running, waiting.size);
      });
    },
    /** Hands the slot to the oldest waiter, if any. */
    release() {
      const [next] = waiting;
      if (next) return next();
      running -= 1;
      onChange?.(running, waiting.size);
    },
  };
}

function overloadedError(): GraphQLError {
  return new GraphQLError(`The server is at capacity; retry in ${RETRY_AFTER_SECONDS} s`, {
    extensions: { code: "OVERLOADED", http: { status: 503, headers: { "Retry-After": String(RETRY_AFTER_SECONDS) } } },
  });
}

export function useLoadShedding(config: Pick<ApiConfig, "API_MAX_CONCURRENT" | "API_MAX_QUEUED" | "API_QUEUE_TIMEOUT_MS">, registry: Registry): Plugin {
  const registers = [registry];
  const running = metric(registry, "graphql_operations_running", () => new Gauge({ name: "graphql_operations_running", help: "Operations holding an execution slot", registers }));
  const queued = metric(registry, "graphql_operations_queued", () => new Gauge({ name: "graphql_operations_queued", help: "Operations waiting for an execution slot", registers }));
  const shed = metric(registry, "graphql_operations_shed_total", () =>
    new Counter({ name: "graphql_operations_shed_total", help: "Operations answered OVERLOADED (or dropped: their client left) without running", registers }),
  );
  const limiter = createLimiter({
    maxConcurrent: config.API_MAX_CONCURRENT,
    maxQueued: config.API_MAX_QUEUED,
    queueTimeoutMs: config.API_QUEUE_TIMEOUT_MS,
    onChange: (now, waiting) => {
      running.set(now);
      queued.set(waiting);
    },
  });
  return {
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn(async (args) => {
        const signal = (args.contextValue as { request?: Request }).request?.signal;
        if (!(await limiter.acquire(signal))) {
          shed.inc();
          return { errors: [overloadedError()] } satisfies ExecutionResult;
        }
        try {
          return await executeFn(args);
        } finally {
          limiter.release();
        }
      });
    },
  };
}
