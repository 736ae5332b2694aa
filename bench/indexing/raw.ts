/**
 * The raw baseline, run as a child process like Ponder: `eth_getLogs` over the history in chunks
 * of blocks (the indexed contracts, the handled events' topics), each chunk stored with multi-row
 * INSERTs in one transaction, into PGlite (PGLITE_DIR) or Postgres (DATABASE_URL). No decoding,
 * no blocks or transactions fetched, no handlers: what moving the logs into a database costs.
 * Fetching runs ahead of inserting by a few chunks so the two overlap.
 *
 * Env: RPC_URL, ADDRESSES and TOPICS (comma-separated), FROM_BLOCK, TO_BLOCK, CHUNK_BLOCKS, and
 * DATABASE_URL or PGLITE_DIR. Prints one JSON line: { logs, workSeconds }.
 */
import { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";

type RpcLog = {
  blockNumber: string;
  logIndex: string;
  transactionHash: string;
  address: string;
  topics: string[];
  data: string;
};

const COLUMNS = ["block_number", "log_index", "transaction_hash", "address", "topic0", "topic1", "topic2", "topic3", "data"] as const;
/** Well under Postgres's 65,535 parameters per statement; PGlite 0.2 fails on much larger messages. */
const ROWS_PER_STATEMENT = 1_000;
const PREFETCH = 3;

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`raw baseline: ${name} is not set`);
  return value;
};
const rpcUrl = env("RPC_URL");
const addresses = env("ADDRESSES").split(",");
const topics = env("TOPICS").split(",");
const fromBlock = Number(env("FROM_BLOCK"));
const toBlock = Number(env("TO_BLOCK"));
const chunkBlocks = Number(env("CHUNK_BLOCKS"));

type Database = { exec: (text: string) => Promise<void>; insert: (text: string, params: (string | number | null)[]) => Promise<void>; close: () => Promise<void> };

function openDatabase(): Database {
  if (process.env.DATABASE_URL) {
    const sql = postgres(process.env.DATABASE_URL, { max: 1, onnotice: () => {} });
    return {
      exec: async (text) => void (await sql.unsafe(text)),
      insert: async (text, params) => void (await sql.unsafe(text, params)),
      close: () => sql.end(),
    };
  }
  const db = new PGlite(env("PGLITE_DIR"));
  return {
    exec: async (text) => void (await db.exec(text)),
    insert: async (text, params) => void (await db.query(text, params)),
    close: () => db.close(),
  };
}

async function getLogs(from: number, to: number): Promise<RpcLog[]> {
  const response = await fetch(rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "eth_getLogs",
      params: [{ address: addresses, topics: [topics], fromBlock: `0x${from.toString(16)}`, toBlock: `0x${to.toString(16)}` }],
    }),
  });
  const body = (await response.json()) as { result?: RpcLog[]; error?: { message: string } };
  if (!body.result) throw new Error(`eth_getLogs ${from}–${to}: ${body.error?.message ?? response.status}`);
  return body.result;
}

function insertStatement(rows: number): string {
  const tuples = Array.from({ length: rows }, (_, row) => `(${COLUMNS.map((_, column) => `$${row * COLUMNS.length + column + 1}`).join(",")})`);
  return `INSERT INTO raw_log (${COLUMNS.join(",")}) VALUES ${tuples.join(",")}`;
}

async function store(db: Database, logs: RpcLog[]) {
  await db.exec("BEGIN");
  for (let start = 0; start < logs.length; start += ROWS_PER_STATEMENT) {
    const slice = logs.slice(start, start + ROWS_PER_STATEMENT);
    const params = slice.flatMap((log) => [
      Number(log.blockNumber),
      Number(log.logIndex),
      log.transactionHash,
      log.address,
      log.topics[0] ?? null,
      log.topics[1] ?? null,
      log.topics[2] ?? null,
      log.topics[3] ?? null,
      log.data,
    ]);
    await db.insert(insertStatement(slice.length), params);
  }
  await db.exec("COMMIT");
}

const db = openDatabase();
await db.exec(
  "CREATE TABLE raw_log (block_number bigint NOT NULL, log_index integer NOT NULL, transaction_hash text NOT NULL, address text NOT NULL, " +
    "topic0 text, topic1 text, topic2 text, topic3 text, data text NOT NULL, PRIMARY KEY (block_number, log_index))",
);
const started = performance.now();
const chunks: [number, number][] = [];
for (let from = fromBlock; from <= toBlock; from += chunkBlocks) chunks.push([from, Math.min(from + chunkBlocks - 1, toBlock)]);
const pending = chunks.slice(0, PREFETCH).map(([from, to]) => getLogs(from, to));
let stored = 0;
for (let i = 0; i < chunks.length; i++) {
  const logs = await pending[i]!;
  const next = chunks[i + PREFETCH];
  if (next) pending.push(getLogs(next[0], next[1]));
  await store(db, logs);
  stored += logs.length;
}
const workSeconds = (performance.now() - started) / 1000;
await db.close();
console.log(JSON.stringify({ logs: stored, workSeconds }));
