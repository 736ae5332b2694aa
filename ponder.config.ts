import { createConfig } from "ponder";
import { farTokenAbi, inferencePaymentAbi, mockPriceFeedAbi } from "./abis";
import { isLocalChain, loadIndexerConfig } from "./common/config";
import { rpcTransport, rpcUrls } from "./common/rpc";
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
      // Several URLs: Ponder balances over them and sets failing ones aside. A cap: one capped
      // viem fallback transport instead (Ponder's own rate adapts only after 429s).
      rpc: config.RPC_MAX_REQUESTS_PER_SECOND
        ? rpcTransport(config.RPC_URL, { maxRequestsPerSecond: config.RPC_MAX_REQUESTS_PER_SECOND })
        : rpcUrls(config.RPC_URL).length === 1
          ? config.RPC_URL
          : rpcUrls(config.RPC_URL),
      ethGetLogsBlockRange: config.RPC_GET_LOGS_BLOCK_RANGE,
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
