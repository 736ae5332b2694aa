/**
 * `npx tsx bench/queries.ts [--quick] [--events N] [--seconds S] [--repeats N] [--connections 1,8,32,64] [--frontend-connections 8,64] [--inspect PORT]`
 *
 * Our GraphQL API against Ponder's built-in GraphQL, both served by the same `ponder start`
 * process from the same tables (Postgres when DATABASE_URL is set, else PGlite): a fixed mix of
 * four questions (bench/queries/mix.ts), first checked to return the same data from both, then
 * driven by autocannon at rising concurrency, the two APIs alternating, every setting repeated.
 * Our side is asked with `Cache-Control: no-cache` there, which bypasses the response cache:
 * execution against execution. Then the frontend case: popular questions repeated while the chain
 * mines a block a second, our API with its response cache against Ponder's GraphQL.
 * Prints markdown tables of throughput, p50/p99 latency, errors, the Ponder process's CPU time
 * per request and how busy Ponder's read-only database pool was; exits 1 if the APIs disagree or
 * any request failed. `--inspect PORT` starts Ponder with its inspector there, for
 * bench/cpu-profile.ts.
 */
import { readFile, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { createTestDatabase } from "../harness/database";
import { data } from "../harness/graphql";
import { waitUntil } from "../harness/wait";
import { startPonder } from "../harness/ponder";
import { steadyBlocks } from "../harness/chain";
import { farTokenAbi } from "../abis";
import { anvilAccount } from "../common/chain";
import { encodeFunctionData, getAddress } from "viem";
import { BLOCK_SECONDS, buildDataset } from "./queries/dataset";
import { percentile, runLoad, type LoadRequest, type LoadResult } from "./queries/load";
import { benchArgs } from "./args";
import { ponderRoot } from "./ponder-root";
import { buildMix, QUESTION_NAMES, type Question, type Target } from "./queries/mix";

const args = benchArgs({ events: { type: "string" }, seconds: { type: "string" }, repeats: { type: "string" }, connections: { type: "string" }, "frontend-connections": { type: "string" }, inspect: { type: "string" } });
const { quick } = args;
const EVENTS = Number(args.events ?? (quick ? 3_000 : 30_000));
const SECONDS = Number(args.seconds ?? (quick ? 2 : 10));
const REPEATS = Number(args.repeats ?? (quick ? 1 : 3));
const CONNECTIONS = (args.connections ?? (quick ? "8,64" : "1,8,32,64")).split(",").map(Number);
/** The frontend case: the response cache on, a block a second. */
const FRONTEND_CONNECTIONS = (args["frontend-connections"] ?? "8,64").split(",").map(Number);
/** The per-question runs use one middle concurrency: enough to queue, not enough to saturate. */
const QUESTION_CONNECTIONS = 8;
const WARMUP_SECONDS = quick ? 1 : 2;

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PATHS: Record<Target, string> = { ours: "/graphql", ponder: "/ponder/graphql" };
const TARGETS: Target[] = ["ours", "ponder"];
/**
 * What a load run asks: our API with the response cache bypassed (`Cache-Control: no-cache`, so
 * every request executes), our API as a browser asks it (cache on), or Ponder's GraphQL.
 */
type Side = "ours" | "cached" | "ponder";
const BYPASS = { "cache-control": "no-cache" };

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const spread = (values: number[], digits: number) => `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat in 10 ms clock ticks. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  return { status: response.status, text: await response.text() };
}

/** Elements in every list of an answer: a check that the answers compared are not all empty. */
function countRows(value: unknown): number {
  if (Array.isArray(value)) return value.length + value.reduce((sum: number, item) => sum + countRows(item), 0);
  if (value && typeof value === "object") return Object.values(value).reduce((sum: number, item) => sum + countRows(item), 0);
  return 0;
}

type Prepared = Record<Side, LoadRequest[]> & { question: Question };

/** Asks every question of both APIs once; the bodies become what the load must get back. */
async function validate(baseUrl: string, mix: Question[]): Promise<Prepared[]> {
  const prepared: Prepared[] = [];
  const failures: string[] = [];
  const rowsByQuestion = new Map<string, number[]>();
  for (const question of mix) {
    const entry: Prepared = { question, ours: [], cached: [], ponder: [] };
    const answers: Partial<Record<Target, unknown>> = {};
    for (const target of TARGETS) {
      const operation = question[target];
      if (!operation) continue;
      const body = JSON.stringify({ query: operation.query, variables: operation.variables });
      const headers = target === "ours" ? BYPASS : {};
      const { status, text } = await post(`${baseUrl}${PATHS[target]}`, body, headers);
      const parsed = JSON.parse(text) as { data?: never; errors?: unknown[] };
      if (status !== 200 || parsed.errors || !parsed.data) {
        failures.push(`${question.name} (${target}): HTTP ${status} ${text.slice(0, 500)}`);
        continue;
      }
      const answer = operation.canonical(parsed.data);
      answers[target] = answer;
      // Data, not bytes: Ponder's executor orders root fields as they resolve, which varies. Both
      // APIs pay the same check (parse, canonical form, deep comparison) on every response.
      const accept = (received: string) => {
        const { data, errors } = JSON.parse(received) as { data?: never; errors?: unknown };
        return !errors && data !== undefined && isDeepStrictEqual(operation.canonical(data), answer);
      };
      entry[target].push({ path: PATHS[target], body, accept, headers });
      if (target === "ours") {
        // The same request as a browser sends it: answered through the response cache, the same data.
        const cached = await post(`${baseUrl}${PATHS.ours}`, body);
        if (cached.status !== 200 || !accept(cached.text)) failures.push(`${question.name} (ours, cache on): HTTP ${cached.status} ${cached.text.slice(0, 500)}`);
        entry.cached.push({ path: PATHS.ours, body, accept });
      }
    }
    if ("ours" in answers && "ponder" in answers && !isDeepStrictEqual(answers.ours, answers.ponder)) {
      failures.push(`${question.name}: the APIs disagree\n  ours:   ${JSON.stringify(answers.ours).slice(0, 1500)}\n  ponder: ${JSON.stringify(answers.ponder).slice(0, 1500)}`);
    }
    rowsByQuestion.set(question.name, [...(rowsByQuestion.get(question.name) ?? []), countRows(answers.ours)]);
    prepared.push(entry);
  }
  for (const [name, rows] of rowsByQuestion) {
    console.log(`  ${name}: ${rows.length} variants, list elements per answer ${rows.join(", ")}`);
    if (rows.every((count) => count === 0)) failures.push(`${name}: every answer is empty; the comparison would prove nothing`);
  }
  if (failures.length > 0) throw new Error(`validation failed:\n${failures.join("\n")}`);
  return prepared;
}

type Pool = { busy: number; queued: number; queuedShare: number };
type Run = { label: string; target: Side; repeat: number; result: LoadResult; cpuPerRequestMs: number; pool: Pool };

/**
 * The answers were validated against a chain that must not move: a block mined after the
 * dataset was built (a transaction left pending, anything else talking to this anvil) makes
 * every later comparison wrong, so it stops the benchmark with the reason instead of counting
 * errors.
 */
async function assertChainUnchanged(head: bigint, readHead: () => Promise<bigint>) {
  const now = await readHead();
  if (now !== head) throw new Error(`the chain moved from block ${head} to ${now} during the benchmark: the validated answers no longer hold`);
}

/** Ponder's /metrics (its registry holds ours too): every sample by name and labels, e.g. `x{a="b"}`. */
async function scrape(baseUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}

/**
 * Ponder's read-only pool (both APIs read through it), sampled every 200 ms during a run: the
 * connections busy (of its total) and the queries queued waiting for one, on average, and the
 * share of samples with any queued.
 */
function samplePool(baseUrl: string) {
  const busy: number[] = [];
  const queued: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const samples = await scrape(baseUrl).catch(() => undefined);
      if (samples) {
        const total = samples.get('ponder_postgres_pool_connections{pool="readonly",kind="total"}') ?? NaN;
        busy.push(total - (samples.get('ponder_postgres_pool_connections{pool="readonly",kind="idle"}') ?? NaN));
        queued.push(samples.get('ponder_postgres_query_queue_size{pool="readonly"}') ?? NaN);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
  return async (): Promise<Pool> => {
    running = false;
    await loop;
    return { busy: mean(busy), queued: mean(queued), queuedShare: queued.filter((value) => value > 0).length / Math.max(1, queued.length) };
  };
}

async function measure(baseUrl: string, pid: number, label: string, target: Side, repeat: number, requests: LoadRequest[], connections: number): Promise<Run> {
  await runLoad(baseUrl, requests, connections, WARMUP_SECONDS);
  const cpuBefore = await cpuSeconds(pid);
  const pooled = samplePool(baseUrl);
  const result = await runLoad(baseUrl, requests, connections, SECONDS);
  const cpuPerRequestMs = ((await cpuSeconds(pid)) - cpuBefore) * 1000 / Math.max(1, result.responses);
  const pool = await pooled();
  const rps = result.responses / result.seconds;
  console.log(
    `  ${label} ${target.padEnd(6)} c=${String(connections).padStart(2)} run ${repeat}: ${rps.toFixed(0)} req/s, ` +
      `p50 ${percentile(result.latencies, 50).toFixed(1)} ms, p99 ${percentile(result.latencies, 99).toFixed(1)} ms, ` +
      `${result.errors} errors, Ponder CPU ${cpuPerRequestMs.toFixed(2)} ms/request, ` +
      `read-only pool ${pool.busy.toFixed(1)} busy, ${pool.queued.toFixed(1)} queued (${(pool.queuedShare * 100).toFixed(0)}% of samples)` +
      `${result.firstError ? ` — first error: ${result.firstError}` : ""}`,
  );
  return { label, target, repeat, result, cpuPerRequestMs, pool };
}

/** Median and range over the repeats of one label × target × concurrency. */
function summarize(runs: Run[]) {
  const rps = runs.map((run) => run.result.responses / run.result.seconds);
  const p50 = runs.map((run) => percentile(run.result.latencies, 50));
  const p99 = runs.map((run) => percentile(run.result.latencies, 99));
  const cpu = runs.map((run) => run.cpuPerRequestMs);
  const busy = runs.map((run) => run.pool.busy);
  const queued = runs.map((run) => run.pool.queued);
  const errors = runs.reduce((sum, run) => sum + run.result.errors, 0);
  const responses = runs.reduce((sum, run) => sum + run.result.responses, 0);
  return { rps, p50, p99, cpu, busy, queued, errors, responses };
}

/** One row per side, each side's ratios to Ponder's beside it. */
function printTable(title: string, runs: Run[], keys: { label: string; connections: number }[], sides: Side[]) {
  console.log("");
  console.log(`### ${title}`);
  console.log("");
  console.log("| what | c | API | req/s median (min–max) | p50 ms | p99 ms median (min–max) | Ponder CPU ms/req | pool busy / queued | errors / responses | req/s ÷ Ponder | p99 ÷ Ponder |");
  console.log("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const { label, connections } of keys) {
    const pick = (target: Side) => runs.filter((run) => run.label === label && run.target === target && run.result.connections === connections);
    const ponder = pick("ponder").length > 0 ? summarize(pick("ponder")) : undefined;
    for (const target of sides) {
      if (pick(target).length === 0) continue;
      const row = summarize(pick(target));
      const ratios = target !== "ponder" && ponder ? `${(median(row.rps) / median(ponder.rps)).toFixed(2)} | ${(median(row.p99) / median(ponder.p99)).toFixed(2)}` : " | ";
      console.log(
        `| ${label} | ${connections} | ${target} | ${median(row.rps).toFixed(0)} (${spread(row.rps, 0)}) | ${median(row.p50).toFixed(1)} | ` +
          `${median(row.p99).toFixed(1)} (${spread(row.p99, 1)}) | ${median(row.cpu).toFixed(2)} | ${median(row.busy).toFixed(1)} / ${median(row.queued).toFixed(1)} | ${row.errors} / ${row.responses} | ${ratios} |`,
      );
    }
  }
}

/** The response cache's outcomes so far (hit, miss, bypass, not_modified), from /metrics. */
async function cacheOutcomes(baseUrl: string): Promise<Record<string, number>> {
  const samples = await scrape(baseUrl);
  const outcomes: Record<string, number> = {};
  for (const [name, value] of samples) {
    const match = /^graphql_response_cache_requests_total\{outcome="(\w+)"\}$/.exec(name);
    if (match) outcomes[match[1]!] = value;
  }
  return outcomes;
}

/**
 * The frontend case's request sequence: the first pass's four requests (a front page: the
 * leaderboard by earnings, the month's revenue, one popular staker's dashboard and account page)
 * come three times as often as each other pass's, so that popular questions repeat.
 */
function frontendSequence(prepared: Prepared[], side: Side): LoadRequest[] {
  const passes = Array.from({ length: prepared.length / QUESTION_NAMES.length }, (_, pass) => prepared.slice(pass * QUESTION_NAMES.length, (pass + 1) * QUESTION_NAMES.length));
  const order = passes.slice(1).flatMap((pass) => [passes[0]!, pass]);
  return order.flat().flatMap((entry) => entry[side]);
}

async function main() {
  const databaseUrl = process.env.DATABASE_URL;
  console.log(
    `queries bench: ≥${EVENTS} history events (blocks ${BLOCK_SECONDS / 3600} h apart) + scenario; ${SECONDS} s per run after ${WARMUP_SECONDS} s warm-up; ` +
      `${REPEATS} repeats; connections ${CONNECTIONS.join(", ")}; ${quick ? "no per-question runs" : `per question at ${QUESTION_CONNECTIONS}`}; ` +
      `frontend (cache on, a block a second) at ${FRONTEND_CONNECTIONS.join(", ")}; database ${databaseUrl ? "Postgres" : "PGlite"}; ` +
      `response cache ${process.env.REDIS_URL ? "in Redis" : "in process"}; NODE_ENV=production`,
  );
  const cleanup: (() => Promise<unknown>)[] = [];
  const runCleanup = async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch((error: unknown) => console.error("cleanup:", error));
  };
  // Ctrl-C or the runner's SIGTERM still stops Ponder and anvil and drops the database.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void runCleanup().finally(() => process.exit(130)));
  }
  try {
    const built = Date.now();
    const dataset = await buildDataset({ targetEvents: EVENTS, scenarioSteps: quick ? 80 : 400, stakers: 4 });
    cleanup.push(() => dataset.chain.anvil.stop());
    console.log(`  chain: ${dataset.historyEvents} history events + ${dataset.scenarioSent} scenario transactions, head block ${dataset.head}, built in ${((Date.now() - built) / 1000).toFixed(0)} s`);

    const database = databaseUrl ? await createTestDatabase(databaseUrl) : undefined;
    if (database) cleanup.push(() => database.drop());
    const indexed = Date.now();
    // Our indexer and API, with Ponder's own GraphQL beside it (bench/queries/ponder-api.ts).
    const root = await ponderRoot({
      config: join(REPO, "ponder.config.ts"),
      schema: join(REPO, "ponder.schema.ts"),
      indexing: join(REPO, "src/index.ts"),
      api: join(REPO, "bench/queries/ponder-api.ts"),
    });
    cleanup.push(() => rm(root, { recursive: true, force: true }));
    const ponder = await startPonder({
      rpcUrl: dataset.chain.anvil.rpcUrl,
      deploymentsDir: dataset.chain.deploymentsDir,
      databaseUrl: database?.url,
      root,
      // NODE_ENV as the Dockerfile sets it: graphql-js then skips its development-only
      // cross-realm checks in every type test (5 % of the API's CPU in a profile without it).
      // The response cache on, as shipped: the execution runs bypass it per request. The load
      // shedding's 2 s queue timeout off (bench/overload.ts measures it): at 64 connections on a
      // busy machine a request may wait longer, which Ponder's GraphQL, without a queue, never refuses.
      env: { API_LOG_LEVEL: "warn", NODE_ENV: "production", API_QUEUE_TIMEOUT_MS: "600000", ...(args.inspect ? { NODE_OPTIONS: `--inspect=127.0.0.1:${args.inspect}` } : {}) },
    });
    cleanup.push(() => ponder.stop());
    await ponder.waitForBlock(dataset.head, 900_000);
    // /status runs ahead of the commit; the checkpoint our API reads is the commit itself. /ready
    // turns 200 once the backfill is over, which is when Ponder creates the schema's indexes.
    const committed = async () =>
      (await data<{ indexingStatus: { latestBlock: { number: number } } }>(`${ponder.baseUrl}/graphql`, "{ indexingStatus { latestBlock { number } } }").catch(() => undefined))
        ?.indexingStatus.latestBlock.number ?? -1;
    const ready = async () => (await fetch(`${ponder.baseUrl}/ready`).catch(() => undefined))?.status === 200;
    await waitUntil(async () => (await ready()) && BigInt(await committed()) >= dataset.head, "the indexer to commit the whole chain", 300_000);
    console.log(`  indexed and ready in ${((Date.now() - indexed) / 1000).toFixed(0)} s`);

    console.log("validation (each question once per API, canonical answers compared):");
    const prepared = await validate(ponder.baseUrl, buildMix(dataset.parameters));
    const pid = ponder.child.pid!;
    const runs: Run[] = [];
    const failed = () => runs.some((run) => run.result.errors > 0);
    const unchanged = () => assertChainUnchanged(dataset.head, () => dataset.chain.publicClient.getBlockNumber());
    await unchanged();

    console.log("load, the mix (every question in turn, each request checked against its validated answer; ours with the cache bypassed):");
    for (let repeat = 1; repeat <= REPEATS; repeat++) {
      for (const connections of CONNECTIONS) {
        // Alternating which API goes first, so that a drift of the machine hits both alike.
        const order = (repeat + CONNECTIONS.indexOf(connections)) % 2 === 0 ? TARGETS : [...TARGETS].reverse();
        for (const target of order) {
          runs.push(await measure(ponder.baseUrl, pid, "mix", target, repeat, prepared.flatMap((entry) => entry[target]), connections));
          await unchanged();
        }
      }
    }
    // The quick run (CI) checks that every question still runs and agrees; the per-question figures need the full one.
    if (!quick) {
      console.log(`load, one question at a time (c=${QUESTION_CONNECTIONS}):`);
      for (let repeat = 1; repeat <= REPEATS; repeat++) {
        for (const name of QUESTION_NAMES) {
          const order = repeat % 2 === 0 ? TARGETS : [...TARGETS].reverse();
          for (const target of order) {
            const requests = prepared.filter((entry) => entry.question.name === name).flatMap((entry) => entry[target]);
            if (requests.length === 0) continue;
            runs.push(await measure(ponder.baseUrl, pid, name, target, repeat, requests, QUESTION_CONNECTIONS));
            await unchanged();
          }
        }
      }
    }

    // The frontend case: a FAR transfer a second from and to an account no question reads (anvil's
    // first), each mined in a block of its own, so the indexer commits a block a second, every
    // cached answer is for one block only, and the validated answers still hold.
    const { testClient, manifest } = dataset.chain;
    const idle = anvilAccount(0).address;
    const transfer = encodeFunctionData({ abi: farTokenAbi, functionName: "transfer", args: [idle, 1n] });
    const token = getAddress(manifest.contracts.FARToken.address);
    const traffic = steadyBlocks(() => testClient.sendUnsignedTransaction({ from: idle, to: token, data: transfer, gas: 100_000n }));
    const frontendSides: Side[] = ["cached", "ponder"];
    try {
      console.log("load, the frontend case (popular questions repeated, a block a second; ours with its response cache, as a browser asks):");
      for (let repeat = 1; repeat <= REPEATS; repeat++) {
        for (const connections of FRONTEND_CONNECTIONS) {
          const order = (repeat + FRONTEND_CONNECTIONS.indexOf(connections)) % 2 === 0 ? frontendSides : [...frontendSides].reverse();
          for (const target of order) {
            const [blockBefore, outcomesBefore] = [await committed(), await cacheOutcomes(ponder.baseUrl)];
            runs.push(await measure(ponder.baseUrl, pid, "frontend", target, repeat, frontendSequence(prepared, target), connections));
            const [blockAfter, outcomesAfter] = [await committed(), await cacheOutcomes(ponder.baseUrl)];
            const delta = Object.keys(outcomesAfter).map((outcome) => `${outcome} ${outcomesAfter[outcome]! - (outcomesBefore[outcome] ?? 0)}`);
            console.log(`    frontend ${target} c=${connections} run ${repeat}: indexed blocks ${blockBefore} → ${blockAfter}; response cache (warm-up included): ${delta.join(", ") || "none"}`);
            if (blockAfter <= blockBefore) throw new Error(`the indexer committed no block during a frontend run (${blockBefore} → ${blockAfter}): it would not be the case measured`);
          }
        }
      }
    } finally {
      const { sent, failed } = await traffic.stop();
      console.log(`  chain traffic: ${sent} transfers mined, ${failed} failed`);
    }

    printTable(
      "The mix (ours: cache bypassed, every request executed)",
      runs,
      CONNECTIONS.map((connections) => ({ label: "mix", connections })),
      ["ours", "ponder"],
    );
    if (!quick) {
      printTable(
        `Per question (c=${QUESTION_CONNECTIONS})`,
        runs,
        QUESTION_NAMES.map((label) => ({ label, connections: QUESTION_CONNECTIONS })),
        ["ours", "ponder"],
      );
    }
    printTable(
      "The frontend case (popular questions repeated, a block a second; ours: response cache on)",
      runs,
      FRONTEND_CONNECTIONS.map((connections) => ({ label: "frontend", connections })),
      frontendSides,
    );
    console.log("");
    console.log("What Ponder's GraphQL cannot answer of each question (left out of both sides above):");
    for (const name of QUESTION_NAMES) console.log(`- ${name}: ${prepared.find((entry) => entry.question.name === name)!.question.ponderGap}`);
    if (failed()) {
      console.error("some requests failed: see the first error of each run above");
      process.exitCode = 1;
    }
  } finally {
    await runCleanup();
  }
}

await main();
