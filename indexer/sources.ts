/**
 * Where the indexer reads from: the chain and the three contracts, from the manifest on a local
 * chain (anvil, bsc-local) or from the environment on BSC.
 */
import type { Address } from "viem";
import { chainOf } from "../common/chain";
import { isLocalChain, LOCAL_CHAINS, type IndexerConfig } from "../common/config";
import { readManifest } from "../contracts/deploy/manifest";

export type IndexerSources = {
  chainId: number;
  farToken: Address;
  inferencePayment: Address;
  priceFeed: Address;
  startBlock: number;
};

export function resolveSources(config: IndexerConfig): IndexerSources {
  if (isLocalChain(config.CHAIN)) {
    const manifest = readManifest(config.DEPLOYMENTS_DIR, LOCAL_CHAINS[config.CHAIN].id);
    return {
      chainId: manifest.chainId,
      farToken: manifest.contracts.FARToken.address,
      inferencePayment: manifest.contracts.InferencePayment.address,
      priceFeed: manifest.contracts.PriceFeed.address,
      startBlock: Math.min(manifest.deployBlock, manifest.contracts.PriceFeed.deployBlock),
    };
  }
  return {
    chainId: chainOf(config).id,
    farToken: config.FAR_TOKEN_ADDRESS!,
    inferencePayment: config.INFERENCE_PAYMENT_ADDRESS!,
    priceFeed: config.PRICE_FEED_ADDRESS!,
    startBlock: config.START_BLOCK!,
  };
}
