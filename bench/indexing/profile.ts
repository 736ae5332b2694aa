/**
 * `npx tsx bench/indexing/profile.ts [--events N] [--project ours|empty] [--postgres] [--warm] [--cpu-prof DIR] [--log]`
 *
 * One backfill of the benchmark history, then where its time went by Ponder's own metrics: the
 * handlers' time per event (ponder_indexing_function_duration) and the indexing cache's per
 * table and method. With --warm, a first run fills Ponder's RPC cache and the one measured
 * re-indexes on it (as bench/indexing.ts's warm phase), so fetching is out of the picture. With
 * --cpu-prof, Node writes a CPU profile of the measured Ponder process into DIR (PGlite runs
 * inside it, so its time is there too), summed here by area of the code and by function.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import postgres from "postgres";
import { startAnvil } from "../../common/anvil";
import { freePort } from "../../harness/ports";
import { ensureHistory } from "../history";
import { runPonder } from "./ponder";
import { benchArgs } from "../args";
import { startRpcProxy } from "./rpc-proxy";
import { byFunction, selfTime, type CpuProfile } from "../profile-summary";

const args = benchArgs({ project: { type: "string" }, "cpu-prof": { type: "string" }, events: { type: "string" }, postgres: { type: "boolean", default: false }, warm: { type: "boolean", default: false }, log: { type: "boolean", default: false } });
const project = (args.project ?? "ours") as "ours" | "empty";
const profileDir = args["cpu-prof"];
const history = await ensureHistory(Number(args.events ?? 100_000));

/** Values of a Prometheus counter, by the values of `labels`. */
function counter(text: string, metric: string, labels: string[]) {
  const rows = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = line.match(new RegExp(`^${metric}\\{([^}]*)\\} ([0-9.e+-]+)$`));
    if (!match) continue;
    const values = Object.fromEntries([...match[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((pair) => [pair[1]!, pair[2]!]));
    const key = labels.map((label) => values[label] ?? "").join(" ");
    rows.set(key, (rows.get(key) ?? 0) + Number(match[2]));
  }
  return [...rows.entries()].sort((a, b) => b[1] - a[1]);
}

/** Sums and counts of a Prometheus histogram, by the values of `labels`. */
function histogram(text: string, metric: string, labels: string[]) {
  const rows = new Map<string, { sum: number; count: number }>();
  for (const line of text.split("\n")) {
    const match = line.match(new RegExp(`^${metric}_(sum|count)\\{([^}]*)\\} ([0-9.e+-]+)$`));
    if (!match) continue;
    const values = Object.fromEntries([...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((pair) => [pair[1]!, pair[2]!]));
    const key = labels.map((label) => values[label] ?? "").join(" ");
    const row = rows.get(key) ?? { sum: 0, count: 0 };
    row[match[1] as "sum" | "count"] += Number(match[3]);
    rows.set(key, row);
  }
  return [...rows.entries()].sort((a, b) => b[1].sum - a[1].sum);
}

const anvil = await startAnvil({ port: await freePort(), loadState: history.statePath });
const proxy = await startRpcProxy(anvil.rpcUrl, history.manifest.contracts.PriceFeed.address);
let databaseUrl: string | undefined;
let dropDatabase = async () => {};
if (args.postgres) {
  const base = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  const name = `bench_idx_profile_${process.pid}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  databaseUrl = url.toString();
  dropDatabase = async () => {
    const sql = postgres(base, { max: 1, onnotice: () => {} });
    await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await sql.end();
  };
}
if (profileDir) await mkdir(profileDir, { recursive: true });
const pgliteDir = databaseUrl ? undefined : await mkdtemp(join(tmpdir(), "far-bench-pglite-"));
const runOn = { rpcUrl: proxy.rpcUrl, deploymentsDir: history.deploymentsDir, databaseUrl, pgliteDir, lastEventBlock: history.lastEventBlock, timeoutMs: 1_800_000 };
let metrics = "";
let clock: { spawnedAt: number; backfillFrom: number; backfillTo: number } | undefined;
try {
  if (args.warm) {
    const fill = await runPonder({ project, ...runOn, schema: "bench_cold" });
    console.log(`${project} cold (filling the RPC cache): backfill ${fill.backfillSeconds.toFixed(2)} s`);
  }
  const run = await runPonder({
    project,
    ...runOn,
    schema: args.warm ? "bench_warm" : "bench",
    nodeOptions: profileDir ? `--cpu-prof --cpu-prof-dir=${resolve(profileDir)}` : undefined,
    onReady: async (baseUrl) => {
      metrics = await (await fetch(`${baseUrl}/metrics`)).text();
    },
  });
  if (args.log) console.log(run.log);
  clock = run.clock;
  console.log(`${project} on ${databaseUrl ? "Postgres" : "PGlite"}${args.warm ? ", RPC cache warm" : ""}: ${history.events} events, start → ready ${run.totalSeconds.toFixed(2)} s, backfill ${run.backfillSeconds.toFixed(2)} s`);
} finally {
  await proxy.stop();
  await anvil.stop();
  await dropDatabase();
  if (pgliteDir) await rm(pgliteDir, { recursive: true, force: true });
}
console.log("\n| event | calls | handler ms total | ms per call |\n|---|---:|---:|---:|");
for (const [event, { sum, count }] of histogram(metrics, "ponder_indexing_function_duration", ["event"])) {
  console.log(`| ${event} | ${count} | ${sum.toFixed(0)} | ${(sum / Math.max(count, 1)).toFixed(3)} |`);
}
console.log("\n| table method | calls | ms total |\n|---|---:|---:|");
for (const [key, { sum, count }] of histogram(metrics, "ponder_indexing_cache_query_duration", ["table", "method"])) {
  console.log(`| ${key} | ${count} | ${sum.toFixed(0)} |`);
}
console.log("\n| table type | cache requests |\n|---|---:|");
for (const [key, count] of counter(metrics, "ponder_indexing_cache_requests_total", ["table", "type"])) console.log(`| ${key} | ${count} |`);
console.log("\n| table method | store queries |\n|---|---:|");
for (const [key, count] of counter(metrics, "ponder_indexing_store_queries_total", ["table", "method"])) console.log(`| ${key} | ${count} |`);

/** The area of the code a frame is in: our folders, Ponder's by folder, other packages by name. */
function areaOf({ functionName, url }: { functionName: string; url: string }) {
  if (!url) return functionName;
  if (url.startsWith("node:")) return "node internals";
  const ponder = url.match(/node_modules\/ponder\/(?:dist\/esm|src)\/([^/]+)/);
  if (ponder) return `ponder ${ponder[1]}`;
  const dependency = url.match(/.*node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (dependency) return dependency[1]!;
  const repository = url.match(new RegExp(`${process.cwd()}/([^/]+)`));
  return repository ? `ours: ${repository[1]}/` : url;
}

if (profileDir && clock) {
  // Node writes one file per thread; the main thread's, where the handlers run, is the largest.
  const files = await Promise.all((await readdir(profileDir)).filter((name) => name.endsWith(".cpuprofile")).map(async (name) => ({ name, size: (await stat(join(profileDir, name))).size })));
  const main = files.sort((a, b) => b.size - a.size)[0];
  if (main) {
    const profile = JSON.parse(await readFile(join(profileDir, main.name), "utf8")) as CpuProfile;
    // The profile's clock starts with the process (less Node's boot, some tens of ms): the
    // backfill's window in it, from Ponder's log, leaves start-up and the indexes out.
    const window = { fromMs: clock.backfillFrom - clock.spawnedAt, toMs: clock.backfillTo - clock.spawnedAt };
    console.log(`\n${main.name}, the backfill only (${((window.toMs - window.fromMs) / 1000).toFixed(2)} s): self time by area\n\n| area | share | ms |\n|---|---:|---:|`);
    for (const [area, share, ms] of selfTime(profile, areaOf, window).slice(0, 20)) console.log(`| ${area} | ${(100 * share).toFixed(1)} % | ${ms.toFixed(0)} |`);
    console.log("\n| function | share | ms |\n|---|---:|---:|");
    for (const [name, share, ms] of selfTime(profile, byFunction, window).slice(0, 30)) console.log(`| ${name} | ${(100 * share).toFixed(1)} % | ${ms.toFixed(0)} |`);
  }
}
