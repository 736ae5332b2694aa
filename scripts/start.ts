/**
 * `npm start`: the whole system on one machine. Without RPC_URL it runs its own anvil (state
 * kept in DATA_DIR, so a restart continues the same chain), deploys the contracts when the chain
 * has none, and runs Ponder (PGlite unless DATABASE_URL) with the GraphQL API, the oracle and
 * the scheduler simulator. Ctrl-C (or SIGTERM) stops everything, even half-way through starting:
 * each part is asked to stop, and what has not stopped within STOP_TIMEOUT_MS is killed
 * (scripts/shutdown.ts); nothing is left running.
 *
 * `npm start` runs this file as `node --import tsx`, in this one process: tsx's own command
 * relays a signal to the script's process and SIGKILLs it when the script does not confirm
 * within 30 ms, twice, which a busy event loop (the oracle's embedded PGlite) often cannot; the
 * script then died before stopping anything and anvil and Ponder, in their own process groups,
 * ran on.
 *
 * Each process's output goes to a file under DATA_DIR/logs; the terminal gets the banner, the
 * warnings and errors, and a live status (scripts/terminal.ts). FAR_VERBOSE=1 or `--verbose`
 * streams the logs too.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pino } from "pino";
import postgres from "postgres";
import { getAddress } from "viem";
import { startAnvil, type AnvilInstance } from "../common/anvil";
import { anvilAccount, createClients } from "../common/chain";
import { runCommand } from "../common/cli";
import { adminTokenPath, isLocalChain, loadChainConfig, loadIndexerConfig, loadStartConfig, LOCAL_CHAINS } from "../common/config";
import { BaseError } from "../common/errors";
import { manifestPath, readManifest } from "../contracts/deploy/manifest";
import { loadSimulatorConfig } from "../oracle/config";
import { createLogger } from "../common/logger";
import { startOracle } from "../oracle/start-oracle";
import { runSimulator } from "../oracle/simulator";
import { createMemoryStream } from "../oracle/stream";
import { DASHBOARD_PATH } from "../api/dashboard";
import { deployFromConfig } from "./deploy";
import { createShutdown } from "./shutdown";
import { createTerminal } from "./terminal";

async function main() {
  const start = loadStartConfig();
  const dataDir = resolve(start.DATA_DIR);
  const logDir = join(start.DATA_DIR, "logs");
  await mkdir(logDir, { recursive: true });
  const terminal = createTerminal({ verbose: start.FAR_VERBOSE || process.argv.includes("--verbose"), logDir });
  const { say } = terminal;
  const chain = loadChainConfig().CHAIN;
  // Each local chain keeps its own chain, index and oracle state: switching CHAIN never mixes two histories.
  const chainDir = chain === "anvil" ? dataDir : join(dataDir, chain);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CHAIN: chain,
    PGLITE_DIR: process.env.PGLITE_DIR ?? join(chainDir, "pglite"),
    ORACLE_DATA_DIR: process.env.ORACLE_DATA_DIR ?? join(chainDir, "oracle"),
    DATABASE_SCHEMA: start.DATABASE_SCHEMA,
    // graphql-js runs development-only checks on every request otherwise (5 % of CPU in bench/queries.ts).
    NODE_ENV: process.env.NODE_ENV ?? "production",
  };
  const shutdown = createShutdown({ timeoutMs: start.STOP_TIMEOUT_MS, say });
  // SIGHUP: the terminal closed; without it, anvil and Ponder (in groups of their own) would run on.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void shutdown.stop(0));
  // Every step below goes through `guard`: once stopping has begun, none goes on to the next.
  const { guard } = shutdown;

  let anvil: AnvilInstance | undefined;
  if (start.embeddedAnvil) {
    const local = isLocalChain(chain) ? chain : "anvil";
    await guard(mkdir(join(chainDir, "anvil"), { recursive: true }));
    say(`starting anvil as ${local} on port ${start.ANVIL_PORT} (state in ${join(chainDir, "anvil")})`);
    const { fd: logFd } = terminal.openLog("anvil");
    anvil = await guard(
      startAnvil({
        logFd,
        port: start.ANVIL_PORT,
        chain: local,
        blockTime: start.ANVIL_BLOCK_TIME ?? LOCAL_CHAINS[local].blockTime,
        extraArgs: ["--state", join(chainDir, "anvil", "state.json"), "--state-interval", "5"],
        detached: true,
        // Stopped (and its state saved) last, even if Ctrl-C comes while it is still loading.
        onSpawn: (child) => shutdown.child("anvil", child),
      }),
    );
    env.RPC_URL = anvil.rpcUrl;
  }
  const indexer = loadIndexerConfig(env);

  if (isLocalChain(indexer.CHAIN) && !(await guard(hasDeployment(env)))) {
    say("no contracts on this chain: clearing the old index and deploying");
    await guard(forgetIndexedChain(env, start.DATABASE_SCHEMA, LOCAL_CHAINS[indexer.CHAIN].id));
    const { path } = await guard(deployFromConfig(env));
    say(`deployed; manifest at ${path}`);
  }

  say(`starting the indexer and API (Ponder; its log: ${join(logDir, "ponder.log")})`);
  const ponderLog = terminal.openLog("ponder");
  const ponder = spawn(resolve("node_modules/.bin/ponder"), ["start", "--schema", start.DATABASE_SCHEMA, "--port", String(start.PORT), "--hostname", start.HOST], {
    env,
    stdio: ["ignore", ponderLog.fd, ponderLog.fd],
    detached: true,
  });
  shutdown.child("Ponder", ponder);
  ponder.once("exit", (code) => {
    if (!shutdown.stopping) {
      say(`the indexer exited (code ${code})`);
      void shutdown.stop(1);
    }
  });
  await guard(waitForReady(`http://127.0.0.1:${start.PORT}/ready`, ponder));

  // The operators' CLI on this machine reads the token from DATA_DIR; it never leaves the machine.
  env.ORACLE_ADMIN_TOKEN ??= randomBytes(24).toString("hex");
  await guard(mkdir(dataDir, { recursive: true }));
  await guard(writeFile(adminTokenPath(dataDir), `${env.ORACLE_ADMIN_TOKEN}\n`, { mode: 0o600 }));
  const simulatorConfig = loadSimulatorConfig(env);
  const stream = createMemoryStream();
  const logTo = (name: "oracle" | "simulator") => createLogger({ level: simulatorConfig.LOG_LEVEL, name, destination: pino.destination({ fd: terminal.openLog(name).fd, sync: true }) });
  const logger = logTo("oracle");
  const oracle = await guard(startOracle(simulatorConfig, { stream: simulatorConfig.REDIS_URL ? undefined : stream, logger }));
  shutdown.part("the oracle", () => oracle.stop());
  if (start.SIMULATOR === "on" && isLocalChain(indexer.CHAIN)) {
    void runSimulator({ config: simulatorConfig, publicClient: oracle.publicClient, stream: oracle.stream, logger: logTo("simulator"), signal: shutdown.signal }).catch(
      (error: unknown) => !shutdown.stopping && logger.error({ msg: "simulator stopped", error: String(error) }),
    );
  }

  const api = `http://localhost:${start.PORT}`;
  say("ready");
  say(`GraphQL:    ${api}/graphql`);
  say(`GraphiQL:   ${api}/graphql (open in a browser)`);
  say(`Dashboard:  ${api}${DASHBOARD_PATH} (live revenue, open in a browser)`);
  say(`RPC:        ${env.RPC_URL}`);
  if (isLocalChain(indexer.CHAIN)) say(`Manifest:   ${manifestPath(indexer.DEPLOYMENTS_DIR, LOCAL_CHAINS[indexer.CHAIN].id)}`);
  say(`Metrics:    ${api}/metrics`);
  say(`Query:      curl -s ${api}/graphql -H 'content-type: application/json' -d '{"query":"{ indexingStatus { latestBlock { number } synced } }"}'`);
  say(`Subscribe:  curl -N ${api}/graphql -H 'accept: text/event-stream' -H 'content-type: application/json' -d '{"query":"subscription { payouts { cursor action payout { stream recipient amount usdValue } } }"}'`);
  say(`Operators:  npm run far -- status | verify | node register <address>   (oracle at http://localhost:${simulatorConfig.ORACLE_HTTP_PORT})`);
  say(`Logs:       ${terminal.logPaths().join("  ")}`);
  say("            (their warnings and errors are shown here; FAR_VERBOSE=1 or npm start -- --verbose streams every line)");
  say("Ctrl-C stops everything.");
  const settled = async () => (await oracle.metrics.settled.get()).values.reduce((sum, { value }) => sum + value, 0);
  shutdown.part("the status", terminal.startStatus({ apiUrl: `http://127.0.0.1:${start.PORT}`, settled, lineEveryMs: start.STATUS_INTERVAL_MS }));
}

async function hasDeployment(env: NodeJS.ProcessEnv): Promise<boolean> {
  const indexer = loadIndexerConfig(env);
  try {
    if (!isLocalChain(indexer.CHAIN)) return false;
    const manifest = readManifest(indexer.DEPLOYMENTS_DIR, LOCAL_CHAINS[indexer.CHAIN].id);
    const { publicClient } = createClients(indexer, anvilAccount(0));
    const code = await publicClient.getCode({ address: getAddress(manifest.contracts.FARToken.address) });
    return code !== undefined && code !== "0x";
  } catch {
    return false;
  }
}

/**
 * A new local chain reuses its chain id (LOCAL_CHAINS) with a different history, so whatever was indexed or
 * cached for the old one must go: Ponder would otherwise serve the old chain's logs.
 */
async function forgetIndexedChain(env: NodeJS.ProcessEnv, schema: string, chainId: number) {
  await rm(env.PGLITE_DIR!, { recursive: true, force: true });
  await rm(env.ORACLE_DATA_DIR!, { recursive: true, force: true });
  if (!env.DATABASE_URL) return;
  const sql = postgres(env.DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    const cached = await sql<{ table_name: string }[]>`
      SELECT table_name FROM information_schema.columns WHERE table_schema = 'ponder_sync' AND column_name = 'chain_id'`;
    for (const { table_name } of cached) await sql.unsafe(`DELETE FROM ponder_sync."${table_name}" WHERE chain_id = ${chainId}`);
  } finally {
    await sql.end();
  }
}

async function waitForReady(url: string, child: ChildProcess) {
  for (;;) {
    if (child.exitCode !== null) throw new BaseError(`The indexer exited with code ${child.exitCode} while starting`);
    const ok = await fetch(url).then((response) => response.ok, () => false);
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

runCommand(main, { prefix: "[far] " });
