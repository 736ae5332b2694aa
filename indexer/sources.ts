/**
 * Where the indexer reads from: the chain and the three contracts, from the manifest on a local
 * chain (anvil, bsc-local) or from the environment on BSC (`npm run deploy` prints the settings).
 */
import type { Address } from "viem";
import { chainOf } from "../common/chain";
import { isLocalChain, LOCAL_CHAINS, type IndexerConfig } from "../common/config";
import { indexerSettings, readManifest } from "../contracts/deploy/manifest";

export type IndexerSources = {
  chainId: number;
  farToken: Address;
  inferencePayment: Address;
  priceFeed: Address;
  startBlock: number;
};

export function resolveSources(config: IndexerConfig): IndexerSources {
  // Off a local chain loadIndexerConfig has required every one of these.
  const settings = isLocalChain(config.CHAIN) ? indexerSettings(readManifest(config.DEPLOYMENTS_DIR, LOCAL_CHAINS[config.CHAIN].id)) : config;
  return {
    chainId: chainOf(config).id,
    farToken: settings.FAR_TOKEN_ADDRESS!,
    inferencePayment: settings.INFERENCE_PAYMENT_ADDRESS!,
    priceFeed: settings.PRICE_FEED_ADDRESS!,
    startBlock: settings.START_BLOCK!,
  };
}
