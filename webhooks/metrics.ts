/** The deliverer's Prometheus metrics, in a registry of its own; alert rules use these exact names. */
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";

export type WebhookMetrics = ReturnType<typeof createWebhookMetrics>;

export function createWebhookMetrics(pending: () => Promise<number>) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "far_webhooks_" });
  return {
    registry,
    deliveries: new Counter({
      name: "far_webhook_deliveries_total",
      help: "Delivery attempts by outcome: delivered, failed (to be retried), dead (the last attempt failed: dead-lettered)",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    deadLetters: new Counter({ name: "far_webhook_dead_letters_total", help: "Events dead-lettered after their last failed attempt", registers: [registry] }),
    pending: new Gauge({
      name: "far_webhook_pending",
      help: "Events read from the feed and not yet delivered or dead-lettered, all endpoints",
      registers: [registry],
      async collect() {
        this.set(await pending());
      },
    }),
  };
}
