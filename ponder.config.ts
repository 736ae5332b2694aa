import { createConfig } from "ponder";
import { farTokenAbi, inferencePaymentAbi, mockPriceFeedAbi } from "./abis";
import { isLocalChain, loadIndexerConfig } from "./common/config";
import { resolveSources } from "./indexer/sources";

const config = loadIndexerConfig();
const sources = resolveSources(config);
const isLocal = isLocalChain(config.CHAIN);

export default createConfig({
  database: config.DATABASE_URL
    ? { kind: "postgres", connectionString: config.DATABASE_URL }
    : { kind: "pglite", directory: config.PGLITE_DIR },
  chains: {
    [config.CHAIN]: {
      id: sources.chainId,
      rpc: config.RPC_URL,
      pollingInterval: config.RPC_POLLING_INTERVAL_MS,
      // A local chain is rebuilt from scratch between runs; a cache would serve stale blocks.
      disableCache: isLocal,
    },
  },
  contracts: {
    FARToken: { chain: config.CHAIN, abi: farTokenAbi, address: sources.farToken, startBlock: sources.startBlock },
    InferencePayment: {
      chain: config.CHAIN,
      abi: inferencePaymentAbi,
      address: sources.inferencePayment,
      startBlock: sources.startBlock,
    },
    // Only AnswerUpdated is indexed: Chainlink aggregators and the mock both emit it per round.
    PriceFeed: { chain: config.CHAIN, abi: mockPriceFeedAbi, address: sources.priceFeed, startBlock: sources.startBlock },
  },
});
