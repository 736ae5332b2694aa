/**
 * `npm run far -- <command>`: the operators' questions.
 *   status                       how far the indexer is, against the chain's head
 *   verify                       every indexed value against the contracts' views at the indexed block
 *   node register <node> [owner] register a GPU node, through the running oracle
 *   node rate <node> <rating>    set a node's rating (0..100), through the running oracle
 *   webhooks add|list|remove|log|dead|redeliver|replay …   the webhook deliverer's endpoints and log (webhooks/cli.ts)
 * Reads the indexer through its GraphQL API at INDEXER_URL or, with DATABASE_URL, Postgres directly.
 * `--help` prints the usage line.
 */
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { isAddress } from "viem";
import { anvilAccount, anvilTestClient, createClients } from "../common/chain";
import { runCommand } from "../common/cli";
import { adminTokenPath, loadCliConfig, loadIndexerConfig, loadStartConfig, LOCAL_CHAINS } from "../common/config";
import { BaseError } from "../common/errors";
import { createChainFinality } from "../common/finality";
import { createLogger } from "../common/logger";
import { judgeLag, type LagCause } from "../domain/lag";
import { readProgress, withChainFinality, type BlockPoint, type FinalitySource, type QueryRows } from "../domain/progress";
import { resolveSources } from "../indexer/sources";
import { readIndexedStateSql, verifyIndexedState, type IndexedState } from "../ops/verify";
import { graphqlReader, readIndexedBlock, readIndexedStateGraphql, type GraphqlReader } from "../ops/verify-graphql";
import { webhooksCommand, WEBHOOKS_USAGE } from "../webhooks/cli";

/**
 * How `far` reads the index: Postgres directly with DATABASE_URL, else the GraphQL API at
 * INDEXER_URL — what users read. Never Ponder's `/sql/db`: its result cache answers by query text
 * and is not invalidated by a reorg (see verify below), and it is off by default now.
 */
function indexerApi(): GraphqlReader {
  const { INDEXER_URL } = loadCliConfig();
  return graphqlReader(
    `${INDEXER_URL}/graphql`,
    (cause) => new BaseError(`The indexer does not answer at ${INDEXER_URL}`, { cause, metaMessages: ["Is `npm start` running? Set INDEXER_URL otherwise."] }),
  );
}

function openPostgres(databaseUrl: string) {
  return postgres(databaseUrl, { max: 1, onnotice: () => {}, connection: { search_path: loadCliConfig().DATABASE_SCHEMA, default_transaction_read_only: true } });
}

const queryRows = (sql: postgres.Sql | postgres.TransactionSql): QueryRows => async (text) => (await sql.unsafe(text)) as Record<string, unknown>[];

async function status() {
  const indexer = loadIndexerConfig();
  const { publicClient } = createClients(indexer, anvilAccount(0));
  const api = indexer.DATABASE_URL ? undefined : indexerApi();
  const head = Number(await publicClient.getBlockNumber());
  let progress: { chain: string; latest: BlockPoint; safe: number; finalized: number; finality: FinalitySource } | undefined;
  if (!api) {
    const sql = openPostgres(indexer.DATABASE_URL!);
    const [[row], tags] = await Promise.all([readProgress(queryRows(sql)).finally(() => sql.end()), createChainFinality({ chain: publicClient, logger: createLogger({ name: "far", level: "error" }) }).read()]);
    if (row) {
      const final = withChainFinality(row, tags);
      progress = { chain: `${row.chainName} (${row.chainId})`, latest: row.latest, safe: final.safe.number, finalized: final.finalized.number, finality: final.finality };
    }
  } else {
    const block = await readIndexedBlock(api).catch((error: unknown) => {
      if (error instanceof BaseError) throw error;
      return undefined;
    });
    if (block) {
      const latest = { number: Number(block.number), timestamp: Date.parse(block.timestamp) / 1000 };
      progress = { chain: `${indexer.CHAIN} (${block.chainId})`, latest, safe: Number(block.safe), finalized: Number(block.finalized), finality: block.finality };
    }
  }
  if (!progress) return console.log("The indexer has not committed anything yet.");
  const lag = Math.max(0, Math.floor(Date.now() / 1000) - progress.latest.timestamp);
  // The API judges from its head reads over time; a single read here can tell only how far behind.
  const cause = api
    ? (await api<{ indexingStatus: { lagCause: LagCause; lagCauseMessage: string | null } }>("{ indexingStatus { lagCause lagCauseMessage } }")).indexingStatus
    : undefined;
  const { cause: lagCause, message } = cause
    ? { cause: cause.lagCause, message: cause.lagCauseMessage }
    : judgeLag({ now: Date.now(), indexedBlock: progress.latest.number, backfilled: true, observation: { head: { number: head, since: Date.now() } }, maxLagBlocks: 0, staleAfterMs: 0, rateLimitWindowMs: 0 });
  console.log(`chain           ${progress.chain}`);
  console.log(`indexed block   ${progress.latest.number} (${head - progress.latest.number} behind the head ${head}, ${lag} s old)`);
  console.log(`safe block      ${progress.safe} (${head - progress.safe} behind the head)`);
  console.log(`finalized block ${progress.finalized} (${head - progress.finalized} behind the head)`);
  console.log(`finality        ${progress.finality === "chain" ? "the chain's safe and finalized tags" : "a fixed depth (the chain has no finality tags)"}`);
  console.log(`lag cause       ${lagCause}${message ? ` (${message})` : ""}`);
}

/** Reads of the index that never see two different blocks: one snapshot, or a block that held still. */
const READ_ATTEMPTS = 3;

/**
 * Why verify no longer reads Ponder's `/sql/db` (it twice read `task` as empty while GraphQL
 * served hundreds of tasks): Ponder 0.17.7's `client()` middleware caches each result promise
 * under the request's query text and drops it only when a NOTIFY lists a table changed by a new
 * block (`live_query_notify`, fired by updates of `_ponder_checkpoint`). A reorg revert (`reorg`
 * event in ponder/dist/esm/runtime/omnichain.js) first DROPS the live-query triggers, rewinds the
 * tables and recreates the triggers without touching `_ponder_checkpoint`, so no NOTIFY is sent
 * and every cached answer survives the reorg. On anvil an `evm_revert` reuses block numbers, so
 * the comment this command used to make each text unique ("block N, attempt k") repeats after a
 * revert and is answered from the cache: an answer taken at block N of the abandoned branch.
 * Reproduced on PGlite: 7 tasks, a reorg replacing the 3 blocks that created 3 of them with empty
 * blocks; after Ponder indexed the new head, `/sql/db` kept answering 7 to the same text (5 of 5
 * reads) while a new text and GraphQL answered 4.
 * (PGlite's single session is not the cause: PGlite 0.2.13 runs `query()` under the same mutex
 * as `transaction()`, so a read cannot land inside the indexer's open transaction.)
 * Now: Postgres in one REPEATABLE READ snapshot that also holds the checkpoint, or GraphQL with
 * the indexed block read before and after; and every table's row count is held to the chain's logs.
 */
async function verify() {
  const indexer = loadIndexerConfig();
  const { publicClient } = createClients(indexer, anvilAccount(0));
  const sources = resolveSources(indexer);
  const manifest = {
    contracts: {
      FARToken: { address: sources.farToken, deployBlock: sources.startBlock },
      InferencePayment: { address: sources.inferencePayment, deployBlock: sources.startBlock },
      PriceFeed: { address: sources.priceFeed, deployBlock: sources.startBlock },
    },
  };
  const sql = indexer.DATABASE_URL ? openPostgres(indexer.DATABASE_URL) : undefined;
  const api = sql ? undefined : indexerApi();
  const indexedBlock = async () => {
    if (api) return (await readIndexedBlock(api)).number;
    const [progress] = await readProgress(queryRows(sql!));
    if (!progress) throw new BaseError("The indexer has not committed anything yet");
    return BigInt(progress.latest.number);
  };
  /** The whole index at one block, and that block. */
  const readIndex = async (): Promise<{ blockNumber: bigint; state: IndexedState }> => {
    if (sql) {
      return sql.begin("isolation level repeatable read read only", async (tx) => {
        const [progress] = await readProgress(queryRows(tx));
        if (!progress) throw new BaseError("The indexer has not committed anything yet");
        return { blockNumber: BigInt(progress.latest.number), state: await readIndexedStateSql(queryRows(tx)) };
      });
    }
    for (let attempt = 1; ; attempt++) {
      const before = await indexedBlock();
      const state = await readIndexedStateGraphql(api!);
      const after = await indexedBlock();
      if (before === after) return { blockNumber: after, state };
      if (attempt === READ_ATTEMPTS) throw new BaseError(`The index moved from block ${before} to ${after} while it was read, ${READ_ATTEMPTS} times`);
    }
  };
  // Tables hold only the newest state, so the chain must hold still while both are read: on a
  // local anvil mining pauses until the check is done; elsewhere the read is pinned to one block.
  const paused = indexer.CHAIN === "anvil";
  if (paused) await anvilTestClient(publicClient).setIntervalMining({ interval: 0 });
  try {
    const head = await publicClient.getBlockNumber();
    for (let waited = 0; paused && (await indexedBlock()) < head; waited += 200) {
      if (waited > 60_000) throw new BaseError(`The indexer did not reach the head block ${head} within 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const { blockNumber, state } = await readIndex();
    const { differences, checked, rows } = await verifyIndexedState({ publicClient, manifest, state, blockNumber });
    for (const difference of differences) console.log(`DIFFERENCE ${difference}`);
    console.log(`rows checked per table (${api ? "GraphQL API" : "Postgres"}): ${Object.entries(rows).map(([table, count]) => `${table} ${count}`).join(", ")}`);
    console.log(`${checked} values checked at block ${blockNumber}: ${differences.length} differences`);
    if (differences.length > 0) process.exitCode = 1;
  } finally {
    if (paused) await anvilTestClient(publicClient).setIntervalMining({ interval: loadStartConfig().ANVIL_BLOCK_TIME ?? LOCAL_CHAINS.anvil.blockTime });
    await sql?.end();
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

const USAGE = `usage: npm run far -- status | verify | ${NODE_USAGE.slice("usage: npm run far -- ".length)}\n  ${WEBHOOKS_USAGE}`;

/** The command and its arguments; `--help` prints the usage, anything else starting with `-` is refused with it. */
function commandLine(): string[] {
  // `webhooks` takes options of its own (webhooks/cli.ts parses them).
  if (process.argv[2] === "webhooks") return process.argv.slice(2);
  try {
    const { values, positionals } = parseArgs({ args: process.argv.slice(2), options: { help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
    if (!values.help) return positionals;
    console.log(USAGE);
    process.exit(0);
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

const [command, ...args] = commandLine();
const commands: Record<string, () => Promise<void>> = {
  status,
  verify,
  node: () => node(args),
  webhooks: () => webhooksCommand(args),
};
const run = commands[command ?? ""];
if (!run) {
  console.error(USAGE);
  process.exit(2);
}
// Every command's settings are checked before anything is asked of the chain or the indexer.
runCommand(async () => {
  loadCliConfig();
  loadIndexerConfig();
  await run();
});
