/**
 * `npx tsx bench/memory.ts [--quick] [--events N] [--subscribers N]`
 *
 * Memory of the real `npm start` (PGlite, no Redis, the simulator on, as a developer runs it) at
 * three points:
 *  1. start: a fresh DATA_DIR, the contracts deployed on an empty chain, 5 s after it prints ready;
 *  2. indexed: a second fresh DATA_DIR, on bench/history.ts's chain of ≥ N handled events
 *     (100,000; 5,000 with --quick), once the indexer has handled every one. That chain is an
 *     anvil state dump, which answers no eth_call at past blocks, so the bench runs its anvil
 *     (the same binary and flags as npm start's, one block a second) behind bench/indexing's
 *     RPC proxy, and npm start gets it as RPC_URL; the anvil is measured with the rest;
 *  3. subscribed: the same run, once S subscribers of `payouts` (1,000; 50 with --quick; over
 *     SSE, which is how npm start's embedded API serves subscriptions; WebSocket is the
 *     replicas'), from a client process of their own, are connected and each has received a
 *     live payout (the simulator's tasks, settled by the oracle).
 * At each point, every process of the tree `npm start` heads (found through /proc: npm, its
 * shell, the start script that runs the oracle and the simulator, anvil, Ponder running the
 * indexer and the embedded API, their esbuild services): VmRSS split into anonymous and
 * file-backed pages, and threads, from /proc/<pid>/status (a process's threads share its RSS).
 * For the two node processes that serve prom-client's default metrics (Ponder's /metrics and
 * the oracle's), the V8 heap used and allocated and the external memory (ArrayBuffers: PGlite's
 * WASM memory among them), which separates JavaScript objects from the database engine and the
 * native rest. Prints markdown tables; exits 1 when a check fails: a process missing, the index
 * short of the history's events, a subscriber that did not open or received no payout.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { basename, join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { startAnvil, type AnvilInstance } from "../common/anvil";
import { LOCAL_CHAINS } from "../common/config";
import { freePort } from "../harness/ports";
import { npmStartEnv } from "../harness/start";
import { waitUntil } from "../harness/wait";
import { benchArgs } from "./args";
import { ensureHistory, type History } from "./history";
import { startRpcProxy } from "./indexing/rpc-proxy";
import { startClientProcess, stopProcess } from "./subscriptions/processes";
import type { Collected, SubscriberSpec } from "./subscriptions/protocol";

const args = benchArgs({ events: { type: "string" }, subscribers: { type: "string" } });
const { quick } = args;
const EVENTS = Number(args.events ?? (quick ? 5_000 : 100_000));
const SUBSCRIBERS = Number(args.subscribers ?? (quick ? 50 : 1_000));
/** After ready, before the first reading: the start-up's last allocations settle (and a GC or two runs). */
const SETTLE_MS = 5_000;
const PAYOUTS = "subscription { payouts { blockNumber action payout { id } } }";
const root = new URL("..", import.meta.url).pathname;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

// ---------------------------------------------------------------------------------------------
// /proc readings.
// ---------------------------------------------------------------------------------------------

type ProcessMemory = { pid: number; ppid: number; name: string; command: string; rss: number; anon: number; file: number; peak: number; threads: number };

/** `/proc/<pid>/status` fields in bytes (the kB ones) or counts. */
async function status(pid: number): Promise<Record<string, number>> {
  const text = await readFile(`/proc/${pid}/status`, "utf8");
  const fields: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const match = /^(\w+):\s+(\d+)(\s+kB)?$/.exec(line);
    if (match) fields[match[1]!] = Number(match[2]) * (match[3] ? 1024 : 1);
  }
  return fields;
}

async function parentOf(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  return stat === undefined ? undefined : Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/** What a process of the tree is, by its command line; esbuild services are named by their parent. */
function roleOf(argv: string[], parentRole: string | undefined): string {
  const line = argv.join(" ");
  if (basename(argv[0] ?? "") === "sh") return "sh (npm's script shell)";
  if (line.includes("scripts/start.ts")) return "start script: oracle (own PGlite), simulator, status";
  if (/\/ponder start /.test(line)) return "Ponder: indexer + embedded API (PGlite)";
  if (basename(argv[0] ?? "") === "anvil") return "anvil";
  if (line.includes("esbuild")) return `esbuild service of the ${parentRole?.split(":")[0] ?? "?"}`;
  if (/\bnpm\b/.test(line)) return "npm";
  return basename(argv[0] ?? "?");
}

/** Every process descended from `rootPid` (itself included), parents before children. */
async function processTree(rootPid: number): Promise<ProcessMemory[]> {
  const pids = (await readdir("/proc")).filter((entry) => /^\d+$/.test(entry)).map(Number);
  const parents = new Map<number, number>();
  for (const pid of pids) {
    const ppid = await parentOf(pid);
    if (ppid !== undefined) parents.set(pid, ppid);
  }
  const tree: ProcessMemory[] = [];
  const visit = async (pid: number, parentRole: string | undefined) => {
    const argv = (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).split("\0").filter(Boolean);
    const fields = await status(pid).catch(() => undefined);
    if (!fields || argv.length === 0) return;
    const name = roleOf(argv, parentRole);
    tree.push({
      pid,
      ppid: parents.get(pid) ?? 0,
      name,
      command: argv.join(" ").replace(root, ""),
      rss: fields.VmRSS ?? 0,
      anon: fields.RssAnon ?? 0,
      file: (fields.RssFile ?? 0) + (fields.RssShmem ?? 0),
      peak: fields.VmHWM ?? 0,
      threads: fields.Threads ?? 0,
    });
    for (const [child, ppid] of parents) if (ppid === pid) await visit(child, name);
  };
  await visit(rootPid, undefined);
  return tree;
}

// ---------------------------------------------------------------------------------------------
// prom-client's default metrics, where a node process serves them.
// ---------------------------------------------------------------------------------------------

type Heap = { used: number; total: number; external: number; rss: number };

/** The process's heap from its /metrics (prom-client's default metrics, `prefix` as registered). */
async function heapOf(url: string, prefix: string): Promise<Heap> {
  const text = await (await fetch(url)).text();
  const value = (name: string) => {
    const match = new RegExp(`^${prefix}${name}(?:\\{[^}]*\\})? ([\\d.e+-]+)$`, "m").exec(text);
    if (!match) throw new Error(`${url} has no ${prefix}${name}`);
    return Number(match[1]);
  };
  return {
    used: value("nodejs_heap_size_used_bytes"),
    total: value("nodejs_heap_size_total_bytes"),
    external: value("nodejs_external_memory_bytes"),
    rss: value("process_resident_memory_bytes"),
  };
}

// ---------------------------------------------------------------------------------------------
// `npm start`, driven as a developer drives it.
// ---------------------------------------------------------------------------------------------

type System = { child: ChildProcess; anvil?: AnvilInstance; port: number; oraclePort: number; stop: () => Promise<void> };

/** `npm start` on a fresh DATA_DIR: with its own anvil on an empty chain, or on the history's chain through RPC_URL. */
async function startSystem(history: History | undefined): Promise<System> {
  const dataDir = await mkdtemp(join(tmpdir(), "far-bench-memory-"));
  const anvil = history && (await startAnvil({ port: await freePort(), loadState: history.statePath, blockTime: LOCAL_CHAINS.anvil.blockTime }));
  const proxy = history && anvil && (await startRpcProxy(anvil.rpcUrl, history.manifest.contracts.PriceFeed.address));
  if (history) await cp(history.deploymentsDir, join(dataDir, "deployments"), { recursive: true });
  const { env, port, oraclePort } = await npmStartEnv(dataDir, { STATUS_INTERVAL_MS: "600000", ...(proxy ? { RPC_URL: proxy.rpcUrl } : {}) });
  let output = "";
  // A process group of its own: stopped with SIGINT to the group, as Ctrl-C in a terminal does.
  const child = spawn("npm", ["start"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  child.stdout!.on("data", (chunk: Buffer) => (output += stripVTControlCharacters(chunk.toString())));
  child.stderr!.on("data", (chunk: Buffer) => (output += stripVTControlCharacters(chunk.toString())));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    // The whole tree as it stands: anvil and Ponder run in groups of their own, stopped by the start script.
    const pids = (await processTree(child.pid!)).map((entry) => entry.pid);
    if (child.exitCode === null) {
      process.kill(-child.pid!, "SIGINT");
      await Promise.race([exited, sleep(60_000)]);
    }
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone: stopped as it should be.
      }
    }
    await proxy?.stop();
    await anvil?.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await waitUntil(
      () => {
        if (child.exitCode !== null) throw new Error(`npm start exited with code ${child.exitCode}:\n${output.slice(-4000)}`);
        return output.includes("[far] Ctrl-C stops everything.");
      },
      "npm start to print ready",
      quick ? 300_000 : 1_800_000,
      200,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { child, anvil, port, oraclePort, stop };
}

type Reading = { point: string; processes: ProcessMemory[]; ponderHeap: Heap; oracleHeap: Heap };

async function read(point: string, system: System): Promise<Reading> {
  const [processes, ponderHeap, oracleHeap] = await Promise.all([
    Promise.all([system.child.pid!, ...(system.anvil ? [system.anvil.process.pid!] : [])].map(processTree)).then((trees) => trees.flat()),
    heapOf(`http://127.0.0.1:${system.port}/metrics`, ""),
    heapOf(`http://127.0.0.1:${system.oraclePort}/metrics`, "oracle_"),
  ]);
  for (const role of ["Ponder", "start script", "anvil"]) {
    if (!processes.some((entry) => entry.name.startsWith(role))) throw new Error(`${point}: no ${role} process under npm start:\n${processes.map((entry) => entry.command).join("\n")}`);
  }
  return { point, processes, ponderHeap, oracleHeap };
}

async function completedEvents(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return [...text.matchAll(/^ponder_indexing_completed_events\{[^}]*\} (\d+)$/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
}

async function indexedBlock(port: number): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: "{ indexingStatus { latestBlock { number } } }" }),
  });
  const body = (await response.json()) as { data?: { indexingStatus?: { latestBlock?: { number: number } } } };
  return body.data?.indexingStatus?.latestBlock?.number ?? 0;
}

/** Opens `count` payouts subscribers and waits until each has received a payout of a block after the current one. */
async function subscribe(system: System, count: number) {
  const client = await startClientProcess(count + 1_000);
  const url = `http://127.0.0.1:${system.port}/graphql`;
  const specs: SubscriberSpec[] = Array.from({ length: count }, (_, index) => ({ index, transport: "sse", url, query: PAYOUTS, variables: {} }));
  const opened = await client.call<{ open: number; failed: number }>({ type: "open", subscribers: specs, concurrency: 50 }, "opened");
  if (opened.open !== count) throw new Error(`${opened.open} of ${count} subscribers opened (${opened.failed} failed)`);
  const fromBlock = (await indexedBlock(system.port)) + 1;
  await client.call({ type: "window", fromBlock }, "window");
  let received = 0;
  let collected: Collected | undefined;
  await waitUntil(
    async () => {
      collected = await client.call<Collected>({ type: "collect" }, "collected");
      const reached = new Set<number>();
      for (let i = 0; i < collected.subscriber.length; i++) if (collected.block[i]! >= fromBlock) reached.add(collected.subscriber[i]!);
      received = reached.size;
      return received === count;
    },
    `every subscriber to receive a live payout (${received} of ${count} have)`,
    180_000,
    2_000,
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}; ${received} of ${count} received one; errors ${JSON.stringify(collected?.errors)}`);
  });
  const errors = Object.keys(collected!.errors).length;
  if (errors > 0 || collected!.ended > 0) throw new Error(`subscribers saw errors ${JSON.stringify(collected!.errors)}, ${collected!.ended} ended`);
  return { deliveries: collected!.subscriber.length, close: () => client.call({ type: "close" }, "closed").then(() => stopProcess(client.child)) };
}

// ---------------------------------------------------------------------------------------------
// The tables.
// ---------------------------------------------------------------------------------------------

/** Processes of one role summed (two esbuild services are one row), in the order first seen. */
function byRole(processes: ProcessMemory[]) {
  const roles = new Map<string, { rss: number; anon: number; file: number; threads: number; count: number }>();
  for (const entry of processes) {
    const role = roles.get(entry.name) ?? { rss: 0, anon: 0, file: 0, threads: 0, count: 0 };
    roles.set(entry.name, role);
    role.rss += entry.rss;
    role.anon += entry.anon;
    role.file += entry.file;
    role.threads += entry.threads;
    role.count += 1;
  }
  return roles;
}

function printTables(readings: Reading[]) {
  const names = [...new Set(readings.flatMap((reading) => reading.processes.map((entry) => entry.name)))];
  const roles = readings.map((reading) => byRole(reading.processes));
  console.log("");
  console.log(`| process | ${readings.map((reading) => `${reading.point}: RSS MiB (anon + file), threads`).join(" | ")} |`);
  console.log(`|---|${readings.map(() => "---:").join("|")}|`);
  for (const name of names) {
    const cells = roles.map((role) => {
      const entry = role.get(name);
      return entry ? `${mib(entry.rss)} (${mib(entry.anon)} + ${mib(entry.file)}), ${entry.threads}${entry.count > 1 ? ` in ${entry.count}` : ""}` : "–";
    });
    console.log(`| ${name} | ${cells.join(" | ")} |`);
  }
  const totals = readings.map((reading) => reading.processes.reduce((sum, entry) => ({ rss: sum.rss + entry.rss, anon: sum.anon + entry.anon, file: sum.file + entry.file }), { rss: 0, anon: 0, file: 0 }));
  console.log(`| **total** | ${totals.map((total) => `**${mib(total.rss)}** (${mib(total.anon)} + ${mib(total.file)})`).join(" | ")} |`);

  console.log("");
  console.log("| node process | point | RSS MiB | V8 heap used / allocated MiB | external MiB (ArrayBuffers: PGlite's WASM memory as sized, not as resident) | RSS − heap allocated MiB (WASM, code, native) |");
  console.log("|---|---|---:|---:|---:|---:|");
  for (const reading of readings) {
    for (const [name, heap] of [["Ponder", reading.ponderHeap], ["start script (oracle)", reading.oracleHeap]] as const) {
      console.log(`| ${name} | ${reading.point} | ${mib(heap.rss)} | ${mib(heap.used)} / ${mib(heap.total)} | ${mib(heap.external)} | ${mib(heap.rss - heap.total)} |`);
    }
  }
}

function printRaw(reading: Reading) {
  console.log(`  ${reading.point}:`);
  for (const entry of reading.processes) {
    console.log(
      `    pid ${entry.pid} (parent ${entry.ppid}) ${entry.name}: VmRSS ${mib(entry.rss)} MiB (anon ${mib(entry.anon)}, file+shmem ${mib(entry.file)}), peak VmHWM ${mib(entry.peak)} MiB, ` +
        `${entry.threads} threads; ${entry.command.slice(0, 160)}`,
    );
  }
  for (const [name, heap] of [["Ponder", reading.ponderHeap], ["oracle", reading.oracleHeap]] as const) {
    console.log(`    ${name} /metrics: rss ${mib(heap.rss)} MiB, heap used ${mib(heap.used)} / allocated ${mib(heap.total)} MiB, external ${mib(heap.external)} MiB`);
  }
}

async function main() {
  const history = await ensureHistory(EVENTS, (line) => console.log(line));
  console.log(
    `memory bench: npm start (PGlite, no Redis, simulator on), history of ${history.events} events (blocks ${history.firstBlock}–${history.headBlock}), ${SUBSCRIBERS} payouts subscribers over SSE; load average ${loadavg().map((load) => load.toFixed(2)).join(" ")}; ${new Date().toISOString()}`,
  );
  const readings: Reading[] = [];
  const system = await startSystem(undefined);
  try {
    await sleep(SETTLE_MS);
    readings.push(await read("start", system));
  } finally {
    await system.stop();
  }
  printRaw(readings[0]!);

  const started = Date.now();
  const loaded = await startSystem(history);
  try {
    const readyAfter = (Date.now() - started) / 1000;
    const events = await waitUntil(async () => {
      const completed = await completedEvents(loaded.port);
      return completed >= history.events && completed;
    }, `the indexer to handle the history's ${history.events} events`, 600_000, 1_000);
    const block = await indexedBlock(loaded.port);
    if (block < history.lastEventBlock) throw new Error(`indexed to block ${block}, before the history's last event in ${history.lastEventBlock}`);
    console.log(`  ready ${readyAfter.toFixed(0)} s after npm start on the history; Ponder handled ${events} events (the history's ${history.events} and the simulator's first), indexed block ${block}`);
    await sleep(SETTLE_MS);
    readings.push(await read(`after ${history.events} events`, loaded));
    printRaw(readings[1]!);

    const subscribers = await subscribe(loaded, SUBSCRIBERS);
    try {
      await sleep(SETTLE_MS);
      readings.push(await read(`with ${SUBSCRIBERS} subscribers`, loaded));
      console.log(`  every one of the ${SUBSCRIBERS} subscribers received a live payout (${subscribers.deliveries} deliveries in all)`);
      printRaw(readings[2]!);
    } finally {
      await subscribers.close();
    }
  } finally {
    await loaded.stop();
  }
  printTables(readings);
}

try {
  await main();
} catch (error) {
  console.error(error);
  process.exit(1);
}
