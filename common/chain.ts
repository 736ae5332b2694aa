/** viem clients for the configured chain, and the accounts of anvil's development mnemonic. */
import { createPublicClient, createWalletClient, http, type Account, type Chain, type Hex, type PublicClient } from "viem";
import { mnemonicToAccount, privateKeyToAccount } from "viem/accounts";
import { anvil, bsc, bscTestnet } from "viem/chains";
import { ANVIL_MNEMONIC, type ChainConfig } from "./config";

const CHAINS = { anvil, bsc, "bsc-testnet": bscTestnet } as const satisfies Record<ChainConfig["CHAIN"], Chain>;

export function chainOf(config: Pick<ChainConfig, "CHAIN">): Chain {
  return CHAINS[config.CHAIN];
}

/** The n-th account of anvil's public mnemonic: 0 deploys, 1 is the oracle, 2 the treasury, 10+ users. */
export function anvilAccount(index: number): Account {
  return mnemonicToAccount(ANVIL_MNEMONIC, { addressIndex: index });
}

export function accountFromKey(privateKey: Hex): Account {
  return privateKeyToAccount(privateKey);
}

export function createClients(config: Pick<ChainConfig, "CHAIN" | "RPC_URL">, account: Account) {
  const chain = chainOf(config);
  const transport = http(config.RPC_URL, { retryCount: 3 });
  // No block-number cache: callers compare heads right after sending transactions.
  const publicClient: PublicClient = createPublicClient({ chain, transport, pollingInterval: 250, cacheTime: 0 });
  const walletClient = createWalletClient({ chain, transport, account });
  return { publicClient, walletClient };
}
