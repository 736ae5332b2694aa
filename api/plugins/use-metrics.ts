/** Prometheus metrics per operation: requests, latency, errors by code, SQL statements. */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { ChainFinality } from "../../common/finality";
import type { ApiDb } from "../db";
import { readSync, type ChainHeadReader } from "../status";
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

type FeedCounts = { subscriberCount: () => number; groupCount: () => number; slowConsumersCut: () => number };

/** Where each registry's feed gauges read from: the latest API created on it (Ponder's dev reload makes new ones). */
const feedCounts = new WeakMap<Registry, FeedCounts>();

/**
 * The change feed's live subscribers and groups in this process, and those it cut off as too
 * slow (SLOW_CONSUMER), read at each scrape.
 */
export function observeSubscribers(registry: Registry, feed: FeedCounts) {
  feedCounts.set(registry, feed);
  const feedGauge = (name: string, help: string, read: (feed: FeedCounts) => number) =>
    metric(registry, name, () =>
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          const feed = feedCounts.get(registry);
          this.set(feed ? read(feed) : 0);
        },
      }),
    );
  feedGauge("graphql_feed_subscribers", "Change-feed subscriptions this process serves", (feed) => feed.subscriberCount());
  feedGauge("graphql_feed_groups", "Groups of subscriptions sharing one execution per event (same operation and variables)", (feed) => feed.groupCount());
  metric(registry, "graphql_feed_slow_consumers_total", () =>
    new Counter({
      name: "graphql_feed_slow_consumers_total",
      help: "Subscribers cut off with SLOW_CONSUMER: more than API_FEED_MAX_QUEUE events behind",
      registers: [registry],
      // The feed counts; the counter shows its count (a new feed, after Ponder's dev reload, starts again at 0: a counter reset).
      collect() {
        this.reset();
        this.inc(feedCounts.get(registry)?.slowConsumersCut() ?? 0);
      },
    }),
  );
}

type IndexingSource = { db: ApiDb; chain: ChainHeadReader | undefined; finality?: ChainFinality; maxLagBlocks: number };

/** Where each registry's indexing gauges read from, as for the feed's. */
const indexingSources = new WeakMap<Registry, IndexingSource>();

/** One read of the indexer's progress and the head serves all five gauges of a scrape. */
const SAMPLE_TTL_MS = 1_000;
const samples = new WeakMap<IndexingSource, { readAt: number; read: ReturnType<typeof readSync> }>();

function sample(registry: Registry): ReturnType<typeof readSync> {
  const source = indexingSources.get(registry);
  if (!source) return Promise.resolve(undefined);
  const cached = samples.get(source);
  if (cached && Date.now() - cached.readAt <= SAMPLE_TTL_MS) return cached.read;
  const read = readSync(source.db, source.chain, source.maxLagBlocks, source.finality);
  samples.set(source, { readAt: Date.now(), read });
  return read;
}

/**
 * The indexer's progress as this API sees it, read at each scrape (blocks, by `chain`): the
 * latest and finalized indexed blocks, the chain's head and the distance to it, and whether the
 * readiness probe would pass (`far_indexing_synced`, the rule of /ready and /synced). A block
 * the API cannot know (no checkpoint yet, no chain client, a failed head read) is left out
 * rather than shown as 0, so no alert reads a made-up distance.
 */
export function observeIndexing(registry: Registry, source: IndexingSource) {
  indexingSources.set(registry, source);
  const blockGauge = (name: string, help: string, value: (read: NonNullable<Awaited<ReturnType<typeof readSync>>>) => number | null) =>
    metric(registry, name, () =>
      new Gauge({
        name,
        help,
        labelNames: ["chain"],
        registers: [registry],
        async collect() {
          const read = await sample(registry);
          const known = read ? value(read) : null;
          this.reset();
          if (read && known !== null) this.set({ chain: read.status.chainName }, known);
        },
      }),
    );
  blockGauge("far_indexing_latest_block", "The latest block the indexer committed", (read) => read.status.latest.number);
  blockGauge("far_indexing_safe_block", "The latest safe block the indexer committed (the chain's safe tag where it has one)", (read) => read.status.safe.number);
  blockGauge("far_indexing_finalized_block", "The latest finalized block the indexer committed (the chain's finalized tag where it has one, else Ponder's fixed depth)", (read) => read.status.finalized.number);
  blockGauge("far_indexing_head_block", "The chain's head block (absent where this API has no chain client or cannot read it)", (read) => read.sync.headBlock);
  blockGauge("far_indexing_lag_blocks", "Blocks between the chain's head and the latest indexed block", (read) => read.sync.lagBlocks);
  const lagTo = (block: number, head: number | null) => (head === null ? null : Math.max(0, head - block));
  blockGauge("far_indexing_safe_lag_blocks", "Blocks between the chain's head and the safe indexed block", (read) => lagTo(read.status.safe.number, read.sync.headBlock));
  blockGauge("far_indexing_finalized_lag_blocks", "Blocks between the chain's head and the finalized indexed block", (read) => lagTo(read.status.finalized.number, read.sync.headBlock));
  blockGauge("far_indexing_chain_finality", "1 where safe and finalized follow the chain's block tags, 0 where they follow Ponder's fixed depth", (read) => (read.status.finality === "chain" ? 1 : 0));
  metric(registry, "far_indexing_synced", () =>
    new Gauge({
      name: "far_indexing_synced",
      help: "1 while the readiness probe (/ready on a replica, /synced on the indexer) passes: backfilled and at most API_SYNCED_MAX_LAG_BLOCKS behind",
      registers: [registry],
      async collect() {
        this.set((await sample(registry))?.sync.synced ? 1 : 0);
      },
    }),
  );
}
