/** Prometheus metrics per operation: requests, latency, errors by code, SQL statements. */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { createOperationLabels, useObserver } from "./observe";

/** Reuses a metric already registered, so that re-creating the API (Ponder's dev reload) does not throw. */
export function metric<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

/** `maxOperations` bounds the distinct operation labels (createOperationLabels). */
export function useMetrics(registry: Registry, maxOperations: number) {
  const label = createOperationLabels(maxOperations);
  const registers = [registry];
  const requests = metric(registry, "graphql_requests_total", () =>
    new Counter({ name: "graphql_requests_total", help: "GraphQL operations, by name and outcome", labelNames: ["operation", "outcome"], registers }),
  );
  const errors = metric(registry, "graphql_errors_total", () =>
    new Counter({ name: "graphql_errors_total", help: "GraphQL errors, by operation and extensions.code", labelNames: ["operation", "code"], registers }),
  );
  const duration = metric(registry, "graphql_request_duration_seconds", () =>
    new Histogram({
      name: "graphql_request_duration_seconds",
      help: "From receiving a GraphQL request to its result, by operation",
      labelNames: ["operation"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
  );
  const statements = metric(registry, "graphql_sql_statements", () =>
    new Histogram({ name: "graphql_sql_statements", help: "SQL statements run per GraphQL operation", labelNames: ["operation"], buckets: [1, 2, 4, 8, 16, 32, 64], registers }),
  );
  return useObserver(({ operationName: name, durationMs, errorCodes, sqlStatements }) => {
    const operationName = label(name);
    requests.inc({ operation: operationName, outcome: errorCodes.length ? "error" : "ok" });
    for (const code of errorCodes) errors.inc({ operation: operationName, code });
    duration.observe({ operation: operationName }, durationMs / 1000);
    statements.observe({ operation: operationName }, sqlStatements);
  });
}

type FeedCounts = { subscriberCount: () => number; groupCount: () => number };

/** Where each registry's feed gauges read from: the latest API created on it (Ponder's dev reload makes new ones). */
const feedCounts = new WeakMap<Registry, FeedCounts>();

/** The change feed's live subscribers and groups in this process, read at each scrape: shows slow ones being cut off. */
export function observeSubscribers(registry: Registry, feed: FeedCounts) {
  feedCounts.set(registry, feed);
  metric(registry, "graphql_feed_subscribers", () =>
    new Gauge({
      name: "graphql_feed_subscribers",
      help: "Change-feed subscriptions this process serves",
      registers: [registry],
      collect() {
        this.set(feedCounts.get(registry)?.subscriberCount() ?? 0);
      },
    }),
  );
  metric(registry, "graphql_feed_groups", () =>
    new Gauge({
      name: "graphql_feed_groups",
      help: "Groups of subscriptions sharing one execution per event (same operation and variables)",
      registers: [registry],
      collect() {
        this.set(feedCounts.get(registry)?.groupCount() ?? 0);
      },
    }),
  );
}
