/**
 * `npm run far -- <command>`: the operators' questions.
 *   status                       how far the indexer is, against the chain's head
 *   verify                       every indexed value against the contracts' views at the indexed block
 *   node register <node> [owner] register a GPU node through the oracle (its store must be Postgres)
 * Reads the indexer through INDEXER_URL (its HTTP server) or, with DATABASE_URL, Postgres directly.
 */
import { spawn } from "node:child_process";
import postgres from "postgres";
import { z } from "zod";
import { anvilAccount, createClients } from "../common/chain";
import { loadIndexerConfig, loadStartConfig, parseEnv } from "../common/config";
import { BaseError } from "../common/errors";
import { readProgress } from "../indexer/checkpoint";
import { resolveSources } from "../indexer/sources";
import { verifyIndexedState, type QueryRows } from "../indexer/verify";

const cliSchema = z.object({
  INDEXER_URL: z.string().url().default("http://127.0.0.1:42069"),
  DATABASE_SCHEMA: z.string().default("far"),
});

/** Ponder's read-only SQL endpoint takes superjson; plain JSON under `json` is valid superjson. */
function queryOverHttp(indexerUrl: string): QueryRows {
  return async (sql) => {
    const url = `${indexerUrl}/sql/db?sql=${encodeURIComponent(JSON.stringify({ json: { sql, params: [] } }))}`;
    const response = await fetch(url).catch((cause: unknown) => {
      throw new BaseError(`The indexer does not answer at ${indexerUrl}`, { cause, metaMessages: ["Is `npm start` running? Set INDEXER_URL otherwise."] });
    });
    if (!response.ok) throw new BaseError(`The indexer refused a query (${response.status})`, { details: await response.text() });
    return ((await response.json()) as { rows: Record<string, unknown>[] }).rows;
  };
}

function openQuery(): { query: QueryRows; close: () => Promise<void> } {
  const cli = parseEnv(cliSchema, process.env);
  const indexer = loadIndexerConfig();
  if (!indexer.DATABASE_URL) return { query: queryOverHttp(cli.INDEXER_URL), close: async () => {} };
  const sql = postgres(indexer.DATABASE_URL, { max: 2, onnotice: () => {}, connection: { search_path: cli.DATABASE_SCHEMA } });
  return { query: async (text) => (await sql.unsafe(text)) as Record<string, unknown>[], close: () => sql.end() };
}

async function status() {
  const indexer = loadIndexerConfig();
  const { publicClient } = createClients(indexer, anvilAccount(0));
  const { query, close } = openQuery();
  try {
    const [progress] = await readProgress(query);
    const head = Number(await publicClient.getBlockNumber());
    if (!progress) return console.log("The indexer has not committed anything yet.");
    const lag = Math.max(0, Math.floor(Date.now() / 1000) - progress.latest.timestamp);
    console.log(`chain           ${progress.chainName} (${progress.chainId})`);
    console.log(`indexed block   ${progress.latest.number} (${head - progress.latest.number} behind the head ${head}, ${lag} s old)`);
    console.log(`finalized block ${progress.finalized.number}`);
  } finally {
    await close();
  }
}

async function verify() {
  const indexer = loadIndexerConfig();
  const { publicClient } = createClients(indexer, anvilAccount(0));
  const sources = resolveSources(indexer);
  const { query, close } = openQuery();
  // Tables hold only the newest state, so the chain must hold still while both are read: on a
  // local anvil mining pauses until the check is done; elsewhere blocks past the one checked fail it.
  const paused = indexer.CHAIN === "anvil";
  if (paused) await publicClient.request({ method: "evm_setIntervalMining" as never, params: [0] as never });
  try {
    const head = await publicClient.getBlockNumber();
    let progress = (await readProgress(query))[0];
    for (let waited = 0; paused && progress && BigInt(progress.latest.number) < head && waited < 60_000; waited += 200) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      progress = (await readProgress(query))[0];
    }
    if (!progress) throw new BaseError("The indexer has not committed anything yet");
    const blockNumber = BigInt(progress.latest.number);
    const manifest = {
      contracts: {
        FARToken: { address: sources.farToken, deployBlock: sources.startBlock },
        InferencePayment: { address: sources.inferencePayment, deployBlock: sources.startBlock },
        PriceFeed: { address: sources.priceFeed, deployBlock: sources.startBlock },
      },
    };
    const { differences, checked } = await verifyIndexedState({ publicClient, manifest, query, blockNumber });
    for (const difference of differences) console.log(`DIFFERENCE ${difference}`);
    console.log(`${checked} values checked at block ${blockNumber}: ${differences.length} differences`);
    if (differences.length > 0) process.exitCode = 1;
  } finally {
    if (paused) await publicClient.request({ method: "evm_setIntervalMining" as never, params: [loadStartConfig().ANVIL_BLOCK_TIME] as never });
    await close();
  }
}

async function registerNode(node: string | undefined, owner: string | undefined) {
  if (!node) throw new BaseError("usage: npm run far -- node register <node address> [owner address]");
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/oracle.ts", "register-node", node, owner ?? node], { stdio: "inherit" });
  process.exitCode = await new Promise<number>((resolve) => child.once("exit", (code) => resolve(code ?? 1)));
}

const [command, ...args] = process.argv.slice(2);
const commands: Record<string, () => Promise<void>> = {
  status,
  verify,
  node: () => (args[0] === "register" ? registerNode(args[1], args[2]) : Promise.reject(new BaseError("usage: npm run far -- node register <node> [owner]"))),
};
const run = commands[command ?? ""];
if (!run) {
  console.error("usage: npm run far -- status | verify | node register <node> [owner]");
  process.exit(2);
}
await run().catch((error: unknown) => {
  console.error(error instanceof BaseError ? error.message : String(error));
  process.exit(1);
});
