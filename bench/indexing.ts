/**
 * `npx tsx bench/indexing.ts [--quick] [--events N] [--repeats N] [--only ours|empty|raw]`
 *
 * Backfill throughput on one fixed history (bench/history.ts: ≥ 100,000 handled events, 5,000
 * with --quick) by (a) our indexer, (b) the same Ponder with a no-op handler for every event we
 * handle (bench/indexing/empty/), (c) the raw baseline: eth_getLogs in chunks + multi-row INSERTs
 * (bench/indexing/raw.ts). Each on PGlite, and on Postgres when DATABASE_URL is set, every run
 * on a fresh database. One anvil serves every run (the indexers only read it). Repeats rotate the
 * order of the three so that drift of a shared machine hits each alike; ratios are taken within a
 * repeat, then their median. Prints markdown tables; exits 1 on any failure.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAnvil } from "../common/anvil";
import { createTestDatabase } from "../harness/database";
import { freePort } from "../harness/ports";
import { ensureHistory, type History } from "./history";
import { handledEventNames, handledTopics, registeredByIndexer } from "./indexing/events";
import { runPonder } from "./indexing/ponder";
import { benchArgs } from "./args";
import { startRpcProxy } from "./indexing/rpc-proxy";

const args = benchArgs({ events: { type: "string" }, repeats: { type: "string" }, only: { type: "string" } });
const { quick } = args;
const EVENTS = Number(args.events ?? (quick ? 5_000 : 100_000));
const REPEATS = Number(args.repeats ?? (quick ? 1 : 3));
const RAW_CHUNK_BLOCKS = 25;
const TIMEOUT_MS = quick ? 120_000 : 1_200_000;

const VARIANTS = ["ours", "empty", "raw"] as const;
type Variant = (typeof VARIANTS)[number];
const only = args.only as Variant | undefined;
const variants = only ? [only] : [...VARIANTS];
const databases = process.env.DATABASE_URL ? (["PGlite", "Postgres"] as const) : (["PGlite"] as const);
type DatabaseKind = (typeof databases)[number];

type Run = { repeat: number; database: DatabaseKind; variant: Variant; totalSeconds: number; backfillSeconds: number; note: string };


async function runRaw(history: History, rpcUrl: string, databaseUrl: string | undefined) {
  const pgliteDir = await mkdtemp(join(tmpdir(), "far-bench-raw-"));
  const { contracts } = history.manifest;
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    RPC_URL: rpcUrl,
    ADDRESSES: [contracts.FARToken.address, contracts.InferencePayment.address, contracts.PriceFeed.address].join(","),
    TOPICS: [...handledTopics().keys()].join(","),
    FROM_BLOCK: String(history.firstBlock),
    TO_BLOCK: String(history.headBlock),
    CHUNK_BLOCKS: String(RAW_CHUNK_BLOCKS),
    PGLITE_DIR: pgliteDir,
  };
  delete env.DATABASE_URL;
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  try {
    const started = performance.now();
    const child = spawn(join(process.cwd(), "node_modules/.bin/tsx"), ["bench/indexing/raw.ts"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    const totalSeconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`raw baseline exited with ${code}:\n${output.slice(-4000)}`);
    const result = JSON.parse(output.trim().split("\n").at(-1)!) as { logs: number; workSeconds: number };
    if (result.logs !== history.events) throw new Error(`raw baseline stored ${result.logs} logs, the history has ${history.events}`);
    return { totalSeconds, backfillSeconds: result.workSeconds, note: `${result.logs} rows` };
  } finally {
    await rm(pgliteDir, { recursive: true, force: true });
  }
}

async function runOne(history: History, rpcUrl: string, variant: Variant, database: DatabaseKind) {
  const db = database === "Postgres" ? await createTestDatabase(process.env.DATABASE_URL!, "bench_idx") : undefined;
  try {
    if (variant === "raw") return await runRaw(history, rpcUrl, db?.url);
    const run = await runPonder({
      project: variant,
      rpcUrl,
      deploymentsDir: history.deploymentsDir,
      databaseUrl: db?.url,
      lastEventBlock: history.lastEventBlock,
      timeoutMs: TIMEOUT_MS,
    });
    if (run.events !== history.events) throw new Error(`${variant} ponder processed ${run.events} events, the history has ${history.events}`);
    return { totalSeconds: run.totalSeconds, backfillSeconds: run.backfillSeconds, note: `${run.events} events, indexes ${run.indexesSeconds.toFixed(2)} s, /status block ${run.statusBlock}` };
  } finally {
    await db?.drop();
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const summary = (values: number[], digits: number) =>
  values.length === 1 ? values[0]!.toFixed(digits) : `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;

async function main() {
  const registered = registeredByIndexer(join(process.cwd(), "indexer"));
  const listed = [...handledEventNames].sort();
  if (registered.join() !== listed.join()) {
    throw new Error(`bench/indexing/events.ts lists ${listed.join(", ")} but indexer/ handles ${registered.join(", ")}`);
  }
  const history = await ensureHistory(EVENTS, (line) => console.log(line));
  const anvil = await startAnvil({ port: await freePort(), loadState: history.statePath });
  const proxy = await startRpcProxy(anvil.rpcUrl, history.manifest.contracts.PriceFeed.address);
  console.log(
    `indexing bench: ${history.events} handled events (${history.transactions} transactions, blocks ${history.firstBlock}–${history.headBlock}, ` +
      `last event in ${history.lastEventBlock}), ${REPEATS} repeat(s), databases ${databases.join(" and ")}, Ponder 0.17.7, ${new Date().toISOString()}`,
  );
  const runs: Run[] = [];
  try {
    for (let repeat = 1; repeat <= REPEATS; repeat++) {
      const order = variants.map((_, i) => variants[(i + repeat - 1) % variants.length]!);
      for (const database of databases) {
        for (const variant of order) {
          const result = await runOne(history, proxy.rpcUrl, variant, database);
          runs.push({ repeat, database, variant, ...result });
          console.log(
            `  run ${repeat} ${database} ${variant}: total ${result.totalSeconds.toFixed(2)} s (${(history.events / result.totalSeconds).toFixed(0)} ev/s), ` +
              `backfill ${result.backfillSeconds.toFixed(2)} s (${(history.events / result.backfillSeconds).toFixed(0)} ev/s); ${result.note}`,
          );
        }
      }
    }
  } finally {
    await proxy.stop();
    await anvil.stop();
  }
  console.log(`  (PriceFeed decimals() calls moved to the latest block by the RPC proxy: ${proxy.rewritten()})`);

  console.log("");
  console.log("| database | indexer | events | start → ready s | events/s (start → ready) | backfill s | events/s (backfill only) | start-up and indexes s |");
  console.log("|---|---|---:|---:|---:|---:|---:|---:|");
  for (const database of databases) {
    for (const variant of variants) {
      const mine = runs.filter((run) => run.database === database && run.variant === variant);
      console.log(
        `| ${database} | ${variant} | ${history.events} | ${summary(mine.map((run) => run.totalSeconds), 2)} | ${summary(mine.map((run) => history.events / run.totalSeconds), 0)} | ` +
          `${summary(mine.map((run) => run.backfillSeconds), 2)} | ${summary(mine.map((run) => history.events / run.backfillSeconds), 0)} | ` +
          `${summary(mine.map((run) => run.totalSeconds - run.backfillSeconds), 2)} |`,
      );
    }
  }
  if (variants.includes("ours")) {
    console.log("");
    console.log("| database | ratio | start → ready | backfill only |");
    console.log("|---|---|---:|---:|");
    for (const database of databases) {
      for (const other of variants.filter((variant) => variant !== "ours")) {
        // Throughput ratio ours/other within each repeat = other's seconds / ours.
        const paired = (pick: (run: Run) => number) =>
          runs
            .filter((run) => run.database === database && run.variant === "ours")
            .map((ours) => pick(runs.find((run) => run.database === database && run.variant === other && run.repeat === ours.repeat)!) / pick(ours));
        console.log(`| ${database} | ours/${other} | ${summary(paired((run) => run.totalSeconds), 3)} | ${summary(paired((run) => run.backfillSeconds), 3)} |`);
      }
    }
  }
}

try {
  await main();
} catch (error) {
  console.error(error);
  process.exit(1);
}
