/**
 * The indexer's progress at each scrape: the indexed block of each tier (latest, safe, finalized)
 * and how far each trails the chain's head, and whether safe and finalized follow the chain's
 * tags (1) or Ponder's fixed depth (0). Read from the same status the API answers with.
 */
import { Gauge, type Registry } from "prom-client";
import type { ApiDb, IndexingStatus } from "../db";
import { readIndexingStatus } from "../db";
import type { ChainFinality } from "../../common/finality";
import { headFor, type ChainHeadReader } from "../status";
import { metric } from "./use-metrics";

type Source = { db: ApiDb; finality?: ChainFinality; chain?: ChainHeadReader };

const TIERS = ["latest", "safe", "finalized"] as const satisfies readonly (keyof IndexingStatus)[];

/** Where each registry's gauges read from: the latest API created on it (Ponder's dev reload makes new ones). */
const sources = new WeakMap<Registry, Source>();

export function observeIndexing(registry: Registry, source: Source) {
  sources.set(registry, source);
  const registers = [registry];
  // One read per scrape, shared by the three gauges prom-client collects one after another.
  let scrape: { at: number; read: Promise<[IndexingStatus | undefined, number | Error | undefined]> } | undefined;
  const read = () => {
    const current = sources.get(registry)!;
    if (!scrape || Date.now() - scrape.at > 250) {
      scrape = { at: Date.now(), read: Promise.all([readIndexingStatus(current.db, current.finality).catch(() => undefined), headFor(current.chain)]) };
    }
    return scrape.read;
  };
  metric(registry, "far_indexing_block", () =>
    new Gauge({
      name: "far_indexing_block",
      help: "The indexed block of each tier: latest committed, safe and finalized (by the chain's tags where it answers them, else Ponder's fixed depth)",
      labelNames: ["tier"],
      registers,
      async collect() {
        const [status] = await read();
        this.reset();
        if (status) for (const tier of TIERS) this.set({ tier }, status[tier].number);
      },
    }),
  );
  metric(registry, "far_indexing_lag_blocks", () =>
    new Gauge({
      name: "far_indexing_lag_blocks",
      help: "Blocks between the chain's head and each tier's indexed block (absent where the head is unknown)",
      labelNames: ["tier"],
      registers,
      async collect() {
        const [status, head] = await read();
        this.reset();
        if (status && typeof head === "number") for (const tier of TIERS) this.set({ tier }, Math.max(0, head - status[tier].number));
      },
    }),
  );
  metric(registry, "far_indexing_chain_finality", () =>
    new Gauge({
      name: "far_indexing_chain_finality",
      help: "1 where safe and finalized follow the chain's block tags, 0 where they follow Ponder's fixed depth",
      registers,
      async collect() {
        const [status] = await read();
        this.set(status?.finality === "chain" ? 1 : 0);
      },
    }),
  );
}
