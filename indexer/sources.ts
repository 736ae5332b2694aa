/**
 * Where the indexer reads from: the chain and the three contracts, from the manifest on anvil
 * or from the environment on BSC.
 */
import type { Address } from "viem";
import { chainOf } from "../common/chain";
import { ANVIL_CHAIN_ID, type IndexerConfig } from "../common/config";
import { readManifest } from "../contracts/deploy/manifest";

export type IndexerSources = {
  chainId: number;
  farToken: Address;
  inferencePayment: Address;
  priceFeed: Address;
  startBlock: number;
};

export function resolveSources(config: IndexerConfig): IndexerSources {
  if (config.CHAIN === "anvil") {
    const manifest = readManifest(config.DEPLOYMENTS_DIR, ANVIL_CHAIN_ID);
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
