/**
 * `npx tsx bench/indexing.ts [--quick] [--events N] [--repeats N] [--only ours|empty|raw] [--phases cold,warm]`
 *
 * Backfill throughput on one fixed history (bench/history.ts: ≥ 100,000 handled events, 5,000
 * with --quick) by (a) our indexer, (b) the same Ponder with a no-op handler for every event we
 * handle (bench/indexing/empty/), (c) the raw baseline: eth_getLogs in chunks + multi-row INSERTs
 * (bench/indexing/raw.ts). Each on PGlite, and on Postgres when DATABASE_URL is set, every variant
 * on a fresh database. Both Ponders run with their RPC cache on (bench/indexing/ponder.config.ts),
 * in two phases on that database: cold (the cache empty: every log, block and transaction comes
 * from the RPC) and then warm (a re-index into a fresh app schema, on the cache the cold run
 * filled: what a developer waits for after changing a handler). raw has no cache: it runs cold
 * only. One anvil serves every run (the indexers only read it), so the cache stays valid. Repeats
 * rotate the order of the variants so that drift of a shared machine hits each alike; ratios are
 * taken within a repeat and phase, then their median. Prints markdown tables; exits 1 on any
 * failure, or if a warm run fetched what the cache holds.
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

const args = benchArgs({ events: { type: "string" }, repeats: { type: "string" }, only: { type: "string" }, phases: { type: "string" } });
const { quick } = args;
const EVENTS = Number(args.events ?? (quick ? 5_000 : 100_000));
const REPEATS = Number(args.repeats ?? (quick ? 1 : 3));
const RAW_CHUNK_BLOCKS = 25;
const TIMEOUT_MS = quick ? 120_000 : 1_200_000;

const VARIANTS = ["ours", "empty", "raw"] as const;
type Variant = (typeof VARIANTS)[number];
const only = args.only as Variant | undefined;
const variants = only ? [only] : [...VARIANTS];
const PHASES = ["cold", "warm"] as const;
type Phase = (typeof PHASES)[number];
const phases = (args.phases ?? PHASES.join(",")).split(",") as Phase[];
if (phases.some((phase) => !PHASES.includes(phase))) throw new Error(`--phases takes ${PHASES.join(",")} or either alone, not ${args.phases}`);
const databases = process.env.DATABASE_URL ? (["PGlite", "Postgres"] as const) : (["PGlite"] as const);
type DatabaseKind = (typeof databases)[number];

type Timing = { totalSeconds: number; backfillSeconds: number; rpcRequests: number; note: string };
type Run = Timing & { repeat: number; database: DatabaseKind; variant: Variant; phase: Phase };
type RpcProxy = Awaited<ReturnType<typeof startRpcProxy>>;


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

/** Runs `run` and counts the RPC requests it made through the proxy, by method in its note. */
async function counted(proxy: RpcProxy, run: () => Promise<Omit<Timing, "rpcRequests">>): Promise<Timing> {
  const before = proxy.calls();
  const result = await run();
  const made = [...proxy.calls()].map(([method, count]) => [method, count - (before.get(method) ?? 0)] as const).filter(([, count]) => count > 0);
  const byMethod = made.sort((a, b) => b[1] - a[1]).map(([method, count]) => `${method} ${count}`).join(", ");
  return { ...result, rpcRequests: made.reduce((sum, [, count]) => sum + count, 0), note: `${result.note}; RPC: ${byMethod}` };
}

/** One variant on a fresh database: raw once; a Ponder cold, then warm on the cache the cold run left. */
async function runVariant(history: History, proxy: RpcProxy, variant: Variant, database: DatabaseKind): Promise<[Phase, Timing][]> {
  const db = database === "Postgres" ? await createTestDatabase(process.env.DATABASE_URL!, "bench_idx") : undefined;
  const pgliteDir = db || variant === "raw" ? undefined : await mkdtemp(join(tmpdir(), "far-bench-pglite-"));
  try {
    if (variant === "raw") return phases.includes("cold") ? [["cold", await counted(proxy, () => runRaw(history, proxy.rpcUrl, db?.url))]] : [];
    const results: [Phase, Timing][] = [];
    // The cold run fills the cache even when only the warm phase is measured.
    for (const phase of PHASES.slice(0, phases.includes("warm") ? 2 : 1)) {
      const timing = await counted(proxy, async () => {
        const run = await runPonder({
          project: variant,
          rpcUrl: proxy.rpcUrl,
          deploymentsDir: history.deploymentsDir,
          databaseUrl: db?.url,
          pgliteDir,
          // A fresh app schema: on the cold run's own, Ponder would resume it instead of re-indexing.
          schema: `bench_${phase}`,
          lastEventBlock: history.lastEventBlock,
          timeoutMs: TIMEOUT_MS,
        });
        if (run.events !== history.events) throw new Error(`${variant} ponder processed ${run.events} events, the history has ${history.events}`);
        return { totalSeconds: run.totalSeconds, backfillSeconds: run.backfillSeconds, note: `${run.events} events, indexes ${run.indexesSeconds.toFixed(2)} s, /status block ${run.statusBlock}` };
      });
      if (phase === "warm" && timing.rpcRequests >= results[0]![1].rpcRequests / 2) {
        throw new Error(`${variant} ponder made ${timing.rpcRequests} RPC requests warm, ${results[0]![1].rpcRequests} cold: the cache was not used`);
      }
      results.push([phase, timing]);
    }
    return results.filter(([phase]) => phases.includes(phase));
  } finally {
    await db?.drop();
    if (pgliteDir) await rm(pgliteDir, { recursive: true, force: true });
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
          for (const [phase, result] of await runVariant(history, proxy, variant, database)) {
            runs.push({ repeat, database, variant, phase, ...result });
            console.log(
              `  run ${repeat} ${database} ${variant} ${phase}: total ${result.totalSeconds.toFixed(2)} s (${(history.events / result.totalSeconds).toFixed(0)} ev/s), ` +
                `backfill ${result.backfillSeconds.toFixed(2)} s (${(history.events / result.backfillSeconds).toFixed(0)} ev/s); ${result.note}`,
            );
          }
        }
      }
    }
  } finally {
    await proxy.stop();
    await anvil.stop();
  }
  console.log(`  (PriceFeed decimals() calls moved to the latest block by the RPC proxy: ${proxy.rewritten()})`);

  console.log("");
  console.log("| database | RPC cache | indexer | events | start → ready s | events/s (start → ready) | backfill s | events/s (backfill only) | start-up and indexes s | RPC requests |");
  console.log("|---|---|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const database of databases) {
    for (const phase of phases) {
      for (const variant of variants) {
        const mine = runs.filter((run) => run.database === database && run.phase === phase && run.variant === variant);
        if (mine.length === 0) continue;
        console.log(
          `| ${database} | ${phase} | ${variant} | ${history.events} | ${summary(mine.map((run) => run.totalSeconds), 2)} | ${summary(mine.map((run) => history.events / run.totalSeconds), 0)} | ` +
            `${summary(mine.map((run) => run.backfillSeconds), 2)} | ${summary(mine.map((run) => history.events / run.backfillSeconds), 0)} | ` +
            `${summary(mine.map((run) => run.totalSeconds - run.backfillSeconds), 2)} | ${summary(mine.map((run) => run.rpcRequests), 0)} |`,
        );
      }
    }
  }
  if (variants.includes("ours")) {
    console.log("");
    console.log("| database | RPC cache | ratio | start → ready | backfill only |");
    console.log("|---|---|---|---:|---:|");
    for (const database of databases) {
      for (const phase of phases) {
        for (const other of variants.filter((variant) => variant !== "ours")) {
          const ours = runs.filter((run) => run.database === database && run.phase === phase && run.variant === "ours");
          const theirs = (repeat: number) => runs.find((run) => run.database === database && run.phase === phase && run.variant === other && run.repeat === repeat);
          if (ours.length === 0 || !theirs(ours[0]!.repeat)) continue;
          // Throughput ratio ours/other within each repeat = other's seconds / ours.
          const paired = (pick: (run: Run) => number) => ours.map((run) => pick(theirs(run.repeat)!) / pick(run));
          console.log(`| ${database} | ${phase} | ours/${other} | ${summary(paired((run) => run.totalSeconds), 3)} | ${summary(paired((run) => run.backfillSeconds), 3)} |`);
        }
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
