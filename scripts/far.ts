/**
 * `npm run far -- <command>`: the operators' questions.
 *   status                       how far the indexer is, against the chain's head
 *   verify                       every indexed value against the contracts' views at the indexed block
 *   node register <node> [owner] register a GPU node, through the running oracle
 *   node rate <node> <rating>    set a node's rating (0..100), through the running oracle
 * Reads the indexer through INDEXER_URL (its HTTP server) or, with DATABASE_URL, Postgres directly.
 */
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import postgres from "postgres";
import { isAddress } from "viem";
import { anvilAccount, createClients } from "../common/chain";
import { runCommand } from "../common/cli";
import { adminTokenPath, loadCliConfig, loadIndexerConfig, loadStartConfig } from "../common/config";
import { BaseError } from "../common/errors";
import { readProgress } from "../indexer/checkpoint";
import { resolveSources } from "../indexer/sources";
import { verifyIndexedState, type QueryRows } from "../indexer/verify";

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
  const cli = loadCliConfig();
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

const VERIFY_ATTEMPTS = 3;

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
    // Ponder's SQL endpoint caches results by query text until it hears of a write: a comment
    // naming the block and the attempt makes every look a fresh read.
    const check = (attempt: number) =>
      verifyIndexedState({ publicClient, manifest, query: (text) => query(`${text} /* far verify: block ${blockNumber}, attempt ${attempt} */`), blockNumber });
    let { differences, checked } = await check(1);
    // Read over HTTP, the index is not one snapshot: a difference that a second look at the same
    // block no longer shows is reported as seen, not as a verdict.
    for (let attempt = 2; differences.length > 0 && attempt <= VERIFY_ATTEMPTS; attempt++) {
      for (const difference of differences) console.error(`transient? ${difference} (re-checking block ${blockNumber}, attempt ${attempt} of ${VERIFY_ATTEMPTS})`);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      ({ differences, checked } = await check(attempt));
    }
    for (const difference of differences) console.log(`DIFFERENCE ${difference}`);
    console.log(`${checked} values checked at block ${blockNumber}: ${differences.length} differences`);
    if (differences.length > 0) process.exitCode = 1;
  } finally {
    if (paused) await publicClient.request({ method: "evm_setIntervalMining" as never, params: [loadStartConfig().ANVIL_BLOCK_TIME] as never });
    await close();
  }
}

type OperationReply = { key?: string; state?: string; code?: string; reason?: string | null };

/** Hands a node operation to the running oracle and waits until it is confirmed on chain (or refused). */
async function nodeOperation(fields: Record<string, string>) {
  const cli = loadCliConfig();
  const token = cli.ORACLE_ADMIN_TOKEN ?? (await readFile(adminTokenPath(cli.DATA_DIR), "utf8").then((text) => text.trim(), () => undefined));
  if (!token) throw new BaseError("No oracle admin token", { metaMessages: [`Set ORACLE_ADMIN_TOKEN (the oracle's), or run this where \`npm start\` keeps ${adminTokenPath(cli.DATA_DIR)}.`] });
  const call = async (path: string, init: RequestInit = {}): Promise<{ status: number; body: OperationReply }> => {
    const response = await fetch(`${cli.ORACLE_URL}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" } }).catch((cause: unknown) => {
      throw new BaseError(`The oracle does not answer at ${cli.ORACLE_URL}`, { cause, metaMessages: ["Is `npm start` or `npm run oracle` running? Set ORACLE_URL otherwise."] });
    });
    return { status: response.status, body: (await response.json()) as OperationReply };
  };
  const posted = await call("/operations", { method: "POST", body: JSON.stringify({ ...fields, opId: randomUUID() }) });
  if (posted.status !== 202 || !posted.body.key) throw new BaseError(`The oracle refused the operation: ${posted.body.code}`, { details: posted.body.reason ?? undefined });
  const key = posted.body.key;
  console.log(`operation ${key} accepted; waiting for its confirmation on chain`);
  for (const deadline = Date.now() + 180_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 500))) {
    const { status, body } = await call(`/operations/${encodeURIComponent(key)}`);
    if (status === 404) continue;
    if (body.state === "confirmed") return console.log(`operation ${key} confirmed`);
    if (body.state === "dead") throw new BaseError(`The operation failed: ${body.reason ?? "no reason given"}`);
  }
  throw new BaseError(`The operation ${key} was not confirmed within 180 s`, { metaMessages: ["The oracle keeps it and will still send it; check again later."] });
}

function requireAddress(value: string | undefined, what: string): string {
  if (!value || !isAddress(value, { strict: false })) throw new BaseError(`${what} must be a 0x-prefixed 20-byte hex address, got ${JSON.stringify(value ?? "")}`);
  return value;
}

const NODE_USAGE = "usage: npm run far -- node register <node> [owner] | node rate <node> <rating 0..100>";

async function node([action, nodeAddress, value]: string[]) {
  if (action === "register") {
    const node = requireAddress(nodeAddress, "node");
    return nodeOperation({ op: "registerNode", node, owner: value === undefined ? node : requireAddress(value, "owner") });
  }
  if (action === "rate") return nodeOperation({ op: "updateNodeRating", node: requireAddress(nodeAddress, "node"), rating: value ?? "" });
  throw new BaseError(NODE_USAGE);
}

const [command, ...args] = process.argv.slice(2);
const commands: Record<string, () => Promise<void>> = {
  status,
  verify,
  node: () => node(args),
};
const run = commands[command ?? ""];
if (!run) {
  console.error(`usage: npm run far -- status | verify | ${NODE_USAGE.slice("usage: npm run far -- ".length)}`);
  process.exit(2);
}
runCommand(run);
