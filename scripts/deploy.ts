/** `npm run deploy`: deploys the contracts to the configured chain and writes the manifest. */
import { accountFromKey, anvilAccount, createClients } from "../common/chain";
import { loadDeployConfig } from "../common/config";
import { deployContracts } from "../contracts/deploy/deploy";
import { runCommand } from "../common/cli";
import { writeManifest } from "../contracts/deploy/manifest";

export async function deployFromConfig(env: NodeJS.ProcessEnv = process.env) {
  const config = loadDeployConfig(env);
  const deployer = config.DEPLOYER_PRIVATE_KEY ? accountFromKey(config.DEPLOYER_PRIVATE_KEY) : anvilAccount(0);
  const { publicClient, walletClient } = createClients(config, deployer);
  const manifest = await deployContracts({
    publicClient,
    walletClient,
    oracle: config.ORACLE_ADDRESS ?? anvilAccount(1).address,
    treasury: config.TREASURY_ADDRESS ?? anvilAccount(2).address,
    initialSupply: config.INITIAL_SUPPLY,
    stakeLockSeconds: config.STAKE_LOCK_SECONDS,
    taskTimeoutSeconds: config.TASK_TIMEOUT_SECONDS,
    initialPrice: config.FAR_USD_PRICE,
  });
  const path = await writeManifest(config.DEPLOYMENTS_DIR, manifest);
  return { manifest, path };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runCommand(async () => {
    const { manifest, path } = await deployFromConfig();
    console.log(JSON.stringify({ msg: "deployed", manifest_path: path, ...manifest }, null, 2));
  });
}
