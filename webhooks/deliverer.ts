/**
 * The deliverer: for each endpoint, a reader follows the API's `payouts` subscription with the
 * endpoint's filters and takes each event into the outbox (moving the endpoint's cursor in the
 * same transaction), and a sender POSTs the outbox's oldest event until it is delivered or
 * dead-lettered, then the next: strictly in order, at least once (an event is only removed once
 * its receiver answered 2xx, so a crash repeats it with the same Far-Delivery-Id).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Hono } from "hono";
import type { Server } from "node:http";
import { ConfigError } from "../common/errors";
import { listen } from "../common/http";
import type { Logger } from "../common/logger";
import type { WebhooksConfig } from "./config";
import { attemptDelivery, eventTypeOf } from "./delivery";
import { payoutEvents } from "./feed";
import { createWebhookMetrics, type WebhookMetrics } from "./metrics";
import { backoffMs } from "./signing";
import { openWebhookStore, type EndpointRow, type WebhookStore } from "./store";

/** Waits for a feed that is down or refused us: short, since the feed itself keeps what we missed. */
const FEED_RETRY = { WEBHOOKS_BACKOFF_INITIAL_MS: 500, WEBHOOKS_BACKOFF_MAX_MS: 10_000 };
/** How long a sender with nothing to send waits before looking again (a new event wakes it sooner). */
const IDLE_MS = 1_000;

const pause = (ms: number, signal: AbortSignal) => sleep(Math.max(0, ms), undefined, { signal }).catch(() => undefined);

export async function startDeliverer(config: WebhooksConfig, logger: Logger) {
  const store = await openWebhookStore({ url: config.DATABASE_URL, schema: config.WEBHOOKS_DB_SCHEMA });
  await store.syncConfigured(config.WEBHOOKS_ENDPOINTS);
  const metrics = createWebhookMetrics(() => store.pending());
  for (const outcome of ["delivered", "failed", "dead"]) metrics.deliveries.inc({ outcome }, 0);

  let server: Server | undefined;
  if (config.WEBHOOKS_METRICS_PORT !== 0) {
    const app = new Hono();
    app.get("/metrics", async (c) => c.body(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType }));
    app.get("/health", (c) => c.json({ ok: true }));
    server = await listen(app, config.WEBHOOKS_METRICS_PORT, config.WEBHOOKS_METRICS_HOST).catch((cause: Error) => {
      throw new ConfigError(`The webhook deliverer cannot listen on port ${config.WEBHOOKS_METRICS_PORT}: ${cause.message} (set WEBHOOKS_METRICS_PORT)`);
    });
  }

  const loops = new Map<string, { generation: number; abort: AbortController; done: Promise<unknown> }>();
  const stopLoop = async (name: string) => {
    const loop = loops.get(name);
    if (!loop) return;
    loops.delete(name);
    loop.abort.abort();
    await loop.done;
  };

  /** Starts a loop for each new endpoint (or new generation: a replay or new filters) and stops those of removed ones. */
  const reconcile = async () => {
    const endpoints = await store.endpoints();
    const names = new Set(endpoints.map((endpoint) => endpoint.name));
    for (const name of [...loops.keys()]) if (!names.has(name)) await stopLoop(name);
    for (const endpoint of endpoints) {
      const loop = loops.get(endpoint.name);
      if (loop?.generation === endpoint.generation) continue;
      await stopLoop(endpoint.name);
      const abort = new AbortController();
      loops.set(endpoint.name, { generation: endpoint.generation, abort, done: runEndpoint({ endpoint, store, metrics, config, logger, signal: abort.signal }) });
    }
  };

  const stopping = new AbortController();
  await reconcile();
  const reloading = (async () => {
    while (!stopping.signal.aborted) {
      await pause(config.WEBHOOKS_RELOAD_MS, stopping.signal);
      if (stopping.signal.aborted) return;
      await reconcile().catch((error: unknown) => logger.warn({ msg: "could not reload the endpoints", error: String(error) }));
    }
  })();
  logger.info({ msg: "webhook deliverer started", endpoints: [...loops.keys()], indexer_url: config.INDEXER_URL, metrics_port: config.WEBHOOKS_METRICS_PORT });

  return {
    store,
    metrics,
    /** Stops reading and sending (an attempt in flight is abandoned: it is sent again at the next start). */
    async stop() {
      stopping.abort();
      await reloading;
      await Promise.all([...loops.keys()].map(stopLoop));
      await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
      await store.close();
    },
  };
}

function runEndpoint(parameters: { endpoint: EndpointRow; store: WebhookStore; metrics: WebhookMetrics; config: WebhooksConfig; logger: Logger; signal: AbortSignal }) {
  const { endpoint, store, metrics, config, signal } = parameters;
  const { name, generation } = endpoint;
  const logger = parameters.logger.child({ endpoint: name });
  let wake: (() => void) | undefined;

  const read = async () => {
    for (let failures = 0; !signal.aborted; ) {
      try {
        const current = await store.endpoint(name);
        if (!current || current.generation !== generation) return;
        const events = payoutEvents({
          indexerUrl: config.INDEXER_URL,
          filter: current,
          after: current.receivedCursor,
          signal,
          onOpen: () => logger.info({ msg: "following the payouts feed", after: current.receivedCursor }),
        });
        for await (const event of events) {
          failures = 0;
          const eventType = eventTypeOf(event.action);
          const body = JSON.stringify({ id: event.cursor, type: eventType, blockNumber: event.blockNumber, finalized: event.finalized, payout: event.payout });
          if (!(await store.enqueue(name, generation, { cursor: event.cursor, eventType, body }))) return;
          wake?.();
          while (!signal.aborted && (await store.pending(name)) >= config.WEBHOOKS_MAX_PENDING) await pause(IDLE_MS, signal);
        }
      } catch (error) {
        if (signal.aborted) return;
        failures += 1;
        logger.warn({ msg: "the payouts feed failed; resuming from the last cursor read", error: (error as Error).message });
      }
      await pause(backoffMs(Math.max(failures, 1), FEED_RETRY), signal);
    }
  };

  const send = async () => {
    while (!signal.aborted) {
      try {
        const row = await store.next(name);
        if (!row) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            void pause(IDLE_MS, signal).then(() => resolve());
          });
          continue;
        }
        const wait = row.nextAttemptAt.getTime() - Date.now();
        if (wait > 0) {
          await pause(wait, signal);
          continue;
        }
        const attempt = row.attempts + 1;
        const result = await attemptDelivery(row, attempt, { timeoutMs: config.WEBHOOKS_TIMEOUT_MS, signal });
        if (result.outcome === "failed" && attempt >= config.WEBHOOKS_MAX_ATTEMPTS) result.outcome = "dead";
        const retryAt = result.outcome === "failed" ? new Date(Date.now() + backoffMs(attempt, config)) : undefined;
        await store.recordAttempt(row, attempt, result, retryAt);
        metrics.deliveries.inc({ outcome: result.outcome });
        if (result.outcome === "dead") metrics.deadLetters.inc();
        const fields = { delivery_id: row.cursor, event_type: row.eventType, attempt, status: result.status, error: result.error, duration_ms: result.durationMs };
        if (result.outcome === "delivered") logger.debug({ msg: "delivered", ...fields });
        else if (result.outcome === "failed") logger.warn({ msg: "delivery failed; will retry", retry_at: retryAt!.toISOString(), ...fields });
        else logger.error({ msg: "delivery dead-lettered", ...fields });
      } catch (error) {
        if (signal.aborted) return;
        logger.error({ msg: "the delivery store failed", error: (error as Error).message });
        await pause(IDLE_MS, signal);
      }
    }
  };

  return Promise.all([read(), send()]);
}
