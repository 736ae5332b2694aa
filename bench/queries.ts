/**
 * `npx tsx bench/queries.ts [--quick] [--events N] [--seconds S] [--repeats N] [--connections 1,8,32,64]`
 *
 * Our GraphQL API against Ponder's built-in GraphQL, both served by the same `ponder start`
 * process from the same tables (Postgres when DATABASE_URL is set, else PGlite): a fixed mix of
 * four questions (bench/queries/mix.ts), first checked to return the same data from both, then
 * driven by autocannon at rising concurrency, the two APIs alternating, every setting repeated.
 * Prints markdown tables of throughput, p50/p99 latency, errors and the Ponder process's CPU time
 * per request; exits 1 if the APIs disagree or any request failed.
 */
import { readFile, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { createTestDatabase } from "../harness/database";
import { data } from "../harness/graphql";
import { waitUntil } from "../harness/wait";
import { startPonder } from "../harness/ponder";
import { BLOCK_SECONDS, buildDataset } from "./queries/dataset";
import { percentile, runLoad, type LoadRequest, type LoadResult } from "./queries/load";
import { benchArgs } from "./args";
import { ponderRoot } from "./ponder-root";
import { buildMix, QUESTION_NAMES, type Question, type Target } from "./queries/mix";

const args = benchArgs({ events: { type: "string" }, seconds: { type: "string" }, repeats: { type: "string" }, connections: { type: "string" } });
const { quick } = args;
const EVENTS = Number(args.events ?? (quick ? 3_000 : 30_000));
const SECONDS = Number(args.seconds ?? (quick ? 2 : 10));
const REPEATS = Number(args.repeats ?? (quick ? 1 : 3));
const CONNECTIONS = (args.connections ?? (quick ? "1,16" : "1,8,32,64")).split(",").map(Number);
/** The per-question runs use one middle concurrency: enough to queue, not enough to saturate. */
const QUESTION_CONNECTIONS = 8;
const WARMUP_SECONDS = quick ? 1 : 2;

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PATHS: Record<Target, string> = { ours: "/graphql", ponder: "/ponder/graphql" };
const TARGETS: Target[] = ["ours", "ponder"];

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const spread = (values: number[], digits: number) => `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat in 10 ms clock ticks. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function post(url: string, body: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
  return { status: response.status, text: await response.text() };
}

/** Elements in every list of an answer: a check that the answers compared are not all empty. */
function countRows(value: unknown): number {
  if (Array.isArray(value)) return value.length + value.reduce((sum: number, item) => sum + countRows(item), 0);
  if (value && typeof value === "object") return Object.values(value).reduce((sum: number, item) => sum + countRows(item), 0);
  return 0;
}

type Prepared = Record<Target, LoadRequest[]> & { question: Question };

/** Asks every question of both APIs once; the bodies become what the load must get back. */
async function validate(baseUrl: string, mix: Question[]): Promise<Prepared[]> {
  const prepared: Prepared[] = [];
  const failures: string[] = [];
  const rowsByQuestion = new Map<string, number[]>();
  for (const question of mix) {
    const entry: Prepared = { question, ours: [], ponder: [] };
    const answers: Partial<Record<Target, unknown>> = {};
    for (const target of TARGETS) {
      const operation = question[target];
      if (!operation) continue;
      const body = JSON.stringify({ query: operation.query, variables: operation.variables });
      const { status, text } = await post(`${baseUrl}${PATHS[target]}`, body);
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
      entry[target].push({ path: PATHS[target], body, accept });
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

type Run = { label: string; target: Target; repeat: number; result: LoadResult; cpuPerRequestMs: number };

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

async function measure(baseUrl: string, pid: number, label: string, target: Target, repeat: number, requests: LoadRequest[], connections: number): Promise<Run> {
  await runLoad(baseUrl, requests, connections, WARMUP_SECONDS);
  const cpuBefore = await cpuSeconds(pid);
  const result = await runLoad(baseUrl, requests, connections, SECONDS);
  const cpuPerRequestMs = ((await cpuSeconds(pid)) - cpuBefore) * 1000 / Math.max(1, result.responses);
  const rps = result.responses / result.seconds;
  console.log(
    `  ${label} ${target.padEnd(6)} c=${String(connections).padStart(2)} run ${repeat}: ${rps.toFixed(0)} req/s, ` +
      `p50 ${percentile(result.latencies, 50).toFixed(1)} ms, p99 ${percentile(result.latencies, 99).toFixed(1)} ms, ` +
      `${result.errors} errors, Ponder CPU ${cpuPerRequestMs.toFixed(2)} ms/request${result.firstError ? ` — first error: ${result.firstError}` : ""}`,
  );
  return { label, target, repeat, result, cpuPerRequestMs };
}

/** Median and range over the repeats of one label × target × concurrency. */
function summarize(runs: Run[]) {
  const rps = runs.map((run) => run.result.responses / run.result.seconds);
  const p50 = runs.map((run) => percentile(run.result.latencies, 50));
  const p99 = runs.map((run) => percentile(run.result.latencies, 99));
  const cpu = runs.map((run) => run.cpuPerRequestMs);
  const errors = runs.reduce((sum, run) => sum + run.result.errors, 0);
  const responses = runs.reduce((sum, run) => sum + run.result.responses, 0);
  return { rps, p50, p99, cpu, errors, responses };
}

function printTable(title: string, runs: Run[], keys: { label: string; connections: number }[]) {
  console.log("");
  console.log(`### ${title}`);
  console.log("");
  console.log("| what | c | API | req/s median (min–max) | p50 ms | p99 ms median (min–max) | Ponder CPU ms/req | errors / responses | req/s ours ÷ Ponder | p99 ours ÷ Ponder |");
  console.log("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const { label, connections } of keys) {
    const pick = (target: Target) => runs.filter((run) => run.label === label && run.target === target && run.result.connections === connections);
    const ours = summarize(pick("ours"));
    const ponder = pick("ponder").length > 0 ? summarize(pick("ponder")) : undefined;
    for (const [target, row] of [["ours", ours], ["ponder", ponder]] as const) {
      if (!row) continue;
      const ratios =
        target === "ours" && ponder
          ? `${(median(ours.rps) / median(ponder.rps)).toFixed(2)} | ${(median(ours.p99) / median(ponder.p99)).toFixed(2)}`
          : " | ";
      console.log(
        `| ${label} | ${connections} | ${target} | ${median(row.rps).toFixed(0)} (${spread(row.rps, 0)}) | ${median(row.p50).toFixed(1)} | ` +
          `${median(row.p99).toFixed(1)} (${spread(row.p99, 1)}) | ${median(row.cpu).toFixed(2)} | ${row.errors} / ${row.responses} | ${ratios} |`,
      );
    }
  }
}

async function main() {
  const databaseUrl = process.env.DATABASE_URL;
  console.log(
    `queries bench: ≥${EVENTS} history events (blocks ${BLOCK_SECONDS / 3600} h apart) + scenario; ${SECONDS} s per run after ${WARMUP_SECONDS} s warm-up; ` +
      `${REPEATS} repeats; connections ${CONNECTIONS.join(", ")}; per question at ${QUESTION_CONNECTIONS}; database ${databaseUrl ? "Postgres" : "PGlite"}; NODE_ENV=production`,
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
      // The response cache off: these runs repeat each question at one block, which the cache
      // would answer without executing; they compare execution with Ponder's.
      env: { API_LOG_LEVEL: "warn", NODE_ENV: "production", API_RESPONSE_CACHE: "false" },
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

    console.log("load, the mix (every question in turn, each request checked against its validated answer):");
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

    printTable(
      "The mix",
      runs,
      CONNECTIONS.map((connections) => ({ label: "mix", connections })),
    );
    printTable(
      `Per question (c=${QUESTION_CONNECTIONS})`,
      runs,
      QUESTION_NAMES.map((label) => ({ label, connections: QUESTION_CONNECTIONS })),
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
