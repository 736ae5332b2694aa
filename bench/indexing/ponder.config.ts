/**
 * The indexer's configuration with Ponder's RPC cache on, for both Ponders of the indexing bench.
 * ponder.config.ts turns the cache off on a local chain, because tests rebuild their anvil from
 * scratch under the same chain id; the bench's chain is one saved history loaded the same way
 * every time (bench/history.ts), so what Ponder cached from it stays valid, and a run on a
 * database that already holds that cache is a re-index with the RPC warm.
 */
import config from "../../ponder.config";

export default {
  ...config,
  chains: Object.fromEntries(Object.entries(config.chains).map(([name, chain]) => [name, { ...chain, disableCache: false }])),
};
