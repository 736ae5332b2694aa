/** A fresh anvil with the contracts deployed, for one test suite. */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAnvil, type StartAnvilParameters } from "../common/anvil";
import { anvilAccount, createClients } from "../common/chain";
import { MIN_STAKE_LOCK_SECONDS } from "../common/config";
import { deployContracts } from "../contracts/deploy/deploy";
import { writeManifest } from "../contracts/deploy/manifest";
import { freePort } from "./ports";

export const FAR = 10n ** 18n;
/** The stake lock of test chains: the shortest the token accepts, so tests warp past it quickly. */
export const TEST_STAKE_LOCK_SECONDS = MIN_STAKE_LOCK_SECONDS;

export async function startDeployedChain(options: Omit<StartAnvilParameters, "port"> & { stakeLockSeconds?: number } = {}) {
  const anvil = await startAnvil({ port: await freePort(), ...options });
  const config = { CHAIN: "anvil", RPC_URL: anvil.rpcUrl } as const;
  const { publicClient, walletClient } = createClients(config, anvilAccount(0));
  const manifest = await deployContracts({
    publicClient,
    walletClient,
    oracle: anvilAccount(1).address,
    treasury: anvilAccount(2).address,
    initialSupply: 800_000_000n * FAR,
    stakeLockSeconds: options.stakeLockSeconds ?? TEST_STAKE_LOCK_SECONDS,
    taskTimeoutSeconds: 3600,
    initialPrice: 25_000_000n,
  });
  const deploymentsDir = await mkdtemp(join(tmpdir(), "far-deployments-"));
  const manifestPath = await writeManifest(deploymentsDir, manifest);
  const walletFor = (index: number) => createClients(config, anvilAccount(index)).walletClient;
  return { anvil, config, publicClient, manifest, deploymentsDir, manifestPath, walletFor };
}
