/** A fresh anvil with the contracts deployed, for one test suite. */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAnvil, type StartAnvilParameters } from "../common/anvil";
import type { Address, Hash, Hex, PublicClient, TransactionReceipt } from "viem";
import { anvilAccount, anvilTestClient, chainOf, createClients } from "../common/chain";
import { LOCAL_CHAINS, MIN_STAKE_LOCK_SECONDS, type RemoteChainName } from "../common/config";
import { deployContracts } from "../contracts/deploy/deploy";
import { writeManifest } from "../contracts/deploy/manifest";
import { freePort } from "./ports";

export const FAR = 10n ** 18n;
/** The stake lock of test chains: the shortest the token accepts, so tests warp past it quickly. */
export const TEST_STAKE_LOCK_SECONDS = MIN_STAKE_LOCK_SECONDS;

export async function startDeployedChain(parameters: Omit<StartAnvilParameters, "port"> & { stakeLockSeconds?: number } = {}) {
  const anvil = await startAnvil({ port: await freePort(), ...parameters });
  // The chain anvil presents (its id, viem's chain object) is the one every client here signs for.
  const config = { CHAIN: parameters.chain ?? "anvil", RPC_URL: anvil.rpcUrl } as const;
  const { publicClient, walletClient } = createClients(config, anvilAccount(0));
  const manifest = await deployContracts({
    publicClient,
    walletClient,
    oracle: anvilAccount(1).address,
    treasury: anvilAccount(2).address,
    initialSupply: 800_000_000n * FAR,
    stakeLockSeconds: parameters.stakeLockSeconds ?? TEST_STAKE_LOCK_SECONDS,
    taskTimeoutSeconds: 3600,
    initialPrice: 25_000_000n,
  });
  const deploymentsDir = await mkdtemp(join(tmpdir(), "far-deployments-"));
  const manifestPath = await writeManifest(deploymentsDir, manifest);
  const walletFor = (index: number) => createClients(config, anvilAccount(index)).walletClient;
  return { anvil, config, publicClient, testClient: anvilTestClient(publicClient), manifest, deploymentsDir, manifestPath, walletFor };
}

/**
 * Anvil standing in for a real chain (CHAIN=bsc or bsc-testnet): that chain's id, BSC's 0.75 s
 * blocks and fast finality (bsc-local's tags: safe = head − 1, finalized = head − 2), nothing
 * deployed, as `npm run deploy` finds a real chain.
 */
export async function startRemoteChainStandIn(name: RemoteChainName) {
  const { blockTime } = LOCAL_CHAINS["bsc-local"];
  const anvil = await startAnvil({ port: await freePort(), chain: "bsc-local", chainId: chainOf({ CHAIN: name }).id, blockTime });
  const config = { CHAIN: name, RPC_URL: anvil.rpcUrl } as const;
  const walletFor = (index: number) => createClients(config, anvilAccount(index)).walletClient;
  return { anvil, config, publicClient: createClients(config, anvilAccount(0)).publicClient, walletFor };
}

/**
 * Waits for a transaction's receipt and fails if it reverted: setup traffic that silently reverted
 * would leave a test or a bench measuring a chain other than the one it meant to build.
 */
export async function mined(publicClient: PublicClient, hash: Hash | Promise<Hash>): Promise<TransactionReceipt> {
  const receipt = await publicClient.waitForTransactionReceipt({ hash: await hash, pollingInterval: 100 });
  if (receipt.status !== "success") throw new Error(`transaction ${receipt.transactionHash} reverted`);
  return receipt;
}

/** A transaction `anvil_reorg` puts into the new blocks, sent from an unlocked account, and its block's offset from the fork point. */
export type ReorgTransaction = [transaction: { from: Address; to: Address; data: Hex; gas?: Hex }, blockOffset: number];

/**
 * Replaces the last `depth` blocks with as many new ones holding `transactions` (anvil_reorg,
 * which viem's test client has no action for); the dropped blocks' other transactions are gone.
 */
export async function reorg(publicClient: PublicClient, depth: number, transactions: ReorgTransaction[] = []) {
  await publicClient.request<{ Parameters: [depth: number, transactions: ReorgTransaction[]]; ReturnType: null }>({ method: "anvil_reorg", params: [depth, transactions] });
}

/**
 * Steady chain traffic while something is measured: every `intervalMs` (a second by default),
 * `send` sends one transaction, which anvil's automine mines into a block of its own, so the
 * indexer commits a new block at that pace. `stop` ends it and says how many were sent and
 * how many failed.
 */
export function steadyBlocks(send: () => Promise<unknown>, intervalMs = 1_000) {
  let running = true;
  let wake: (() => void) | undefined;
  const counts = { sent: 0, failed: 0 };
  const loop = (async () => {
    for (let next = Date.now(); running; ) {
      await send().then(
        () => (counts.sent += 1),
        () => (counts.failed += 1),
      );
      next += intervalMs;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, Math.max(0, next - Date.now()));
      });
    }
  })();
  return {
    stop: async () => {
      running = false;
      wake?.();
      await loop;
      return counts;
    },
  };
}
