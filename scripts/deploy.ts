/**
 * `npm run deploy`: deploys the contracts to the configured chain and writes the manifest. Off a
 * local chain it also prints the settings the indexer, the oracle and `far` need there, since
 * nothing there reads the manifest.
 */
import { accountFromKey, anvilAccount, createClients } from "../common/chain";
import { isLocalChain, loadDeployConfig } from "../common/config";
import { deployContracts } from "../contracts/deploy/deploy";
import { runCommand } from "../common/cli";
import { indexerSettings, writeManifest } from "../contracts/deploy/manifest";

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
    priceFeed: config.PRICE_FEED_ADDRESS,
    initialPrice: config.FAR_USD_PRICE,
  });
  const path = await writeManifest(config.DEPLOYMENTS_DIR, manifest);
  return { config, manifest, path };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runCommand(async () => {
    const { config, manifest, path } = await deployFromConfig();
    console.log(JSON.stringify({ msg: "deployed", manifest_path: path, ...manifest }, null, 2));
    if (isLocalChain(config.CHAIN)) return;
    console.log(`\nSet these, with CHAIN=${config.CHAIN} and RPC_URL, for the indexer, the oracle and \`npm run far\`:`);
    for (const [name, value] of Object.entries(indexerSettings(manifest))) console.log(`${name}=${value}`);
  });
}
