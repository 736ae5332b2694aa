/** viem clients for the configured chain, and the accounts of anvil's development mnemonic. */
import { createPublicClient, createTestClient, createWalletClient, custom, type Account, type Chain, type Hex, type PublicClient } from "viem";
import { mnemonicToAccount, privateKeyToAccount, type HDAccount } from "viem/accounts";
import { anvil, bsc, bscTestnet } from "viem/chains";
import { ANVIL_MNEMONIC, type ChainConfig } from "./config";
import { rpcTransport } from "./rpc";

// bsc-local is anvil presenting BSC's chain id: viem's BSC chain (id 56, its block time) fits it.
const CHAINS = { anvil, "bsc-local": bsc, bsc, "bsc-testnet": bscTestnet } as const satisfies Record<ChainConfig["CHAIN"], Chain>;

export function chainOf(config: Pick<ChainConfig, "CHAIN">): Chain {
  return CHAINS[config.CHAIN];
}

/** The n-th account of anvil's public mnemonic: 0 deploys, 1 is the oracle, 2 the treasury, users from USER_ACCOUNT_OFFSET, nodes from NODE_ACCOUNT_OFFSET. */
export function anvilAccount(index: number): HDAccount {
  return mnemonicToAccount(ANVIL_MNEMONIC, { addressIndex: index });
}

/** Where the simulator's, the test scenarios' and the benches' users start among anvil's accounts. */
export const USER_ACCOUNT_OFFSET = 10;
/** Where their nodes start: room for 30 users below. */
const NODE_ACCOUNT_OFFSET = 40;

/** The first `count` users: anvil accounts from USER_ACCOUNT_OFFSET. */
export const userAccounts = (count: number) => Array.from({ length: count }, (_, i) => anvilAccount(USER_ACCOUNT_OFFSET + i));
/** The first `count` nodes' addresses: anvil accounts from NODE_ACCOUNT_OFFSET. */
export const nodeAddresses = (count: number) => Array.from({ length: count }, (_, i) => anvilAccount(NODE_ACCOUNT_OFFSET + i).address);

/** A transport over `publicClient`'s, so clients built on it share its RPC settings. */
export const transportOf = (publicClient: PublicClient) => custom({ request: (request) => publicClient.request(request) });
/** anvil's own actions (mine, snapshot, automine, …) on the chain `publicClient` reads. */
export const anvilTestClient = (publicClient: PublicClient) => createTestClient({ mode: "anvil", chain: publicClient.chain, transport: transportOf(publicClient) });

export function accountFromKey(privateKey: Hex): Account {
  return privateKeyToAccount(privateKey);
}

export function createClients(config: Pick<ChainConfig, "CHAIN" | "RPC_URL">, account: Account) {
  const chain = chainOf(config);
  const transport = rpcTransport(config.RPC_URL, { retryCount: 3 });
  // No block-number cache: callers compare heads right after sending transactions.
  const publicClient: PublicClient = createPublicClient({ chain, transport, pollingInterval: 250, cacheTime: 0 });
  const walletClient = createWalletClient({ chain, transport, account });
  return { publicClient, walletClient };
}
