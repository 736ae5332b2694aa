/**
 * `npx tsx bench/indexing/profile.ts [--events N] [--project ours|empty] [--postgres] [--cpu-prof DIR] [--log]`
 *
 * One backfill of the benchmark history, then where its time went by Ponder's own metrics: the
 * handlers' time per event (ponder_indexing_function_duration) and the indexing cache's per
 * table and method. With --cpu-prof, Node writes a CPU profile of the Ponder process into DIR
 * (PGlite runs inside it, so its time is there too).
 */
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import postgres from "postgres";
import { startAnvil } from "../../common/anvil";
import { freePort } from "../../harness/ports";
import { ensureHistory } from "../history";
import { runPonder } from "./ponder";
import { benchArgs } from "../args";
import { startRpcProxy } from "./rpc-proxy";

const args = benchArgs({ project: { type: "string" }, "cpu-prof": { type: "string" }, events: { type: "string" }, postgres: { type: "boolean", default: false }, log: { type: "boolean", default: false } });
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
let metrics = "";
try {
  const run = await runPonder({
    project,
    rpcUrl: proxy.rpcUrl,
    deploymentsDir: history.deploymentsDir,
    databaseUrl,
    lastEventBlock: history.lastEventBlock,
    timeoutMs: 1_800_000,
    nodeOptions: profileDir ? `--cpu-prof --cpu-prof-dir=${resolve(profileDir)}` : undefined,
    onReady: async (baseUrl) => {
      metrics = await (await fetch(`${baseUrl}/metrics`)).text();
    },
  });
  if (args.log) console.log(run.log);
  console.log(`${project} on ${databaseUrl ? "Postgres" : "PGlite"}: ${history.events} events, start → ready ${run.totalSeconds.toFixed(2)} s, backfill ${run.backfillSeconds.toFixed(2)} s`);
} finally {
  await proxy.stop();
  await anvil.stop();
  await dropDatabase();
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
