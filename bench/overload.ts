/**
 * `npx tsx bench/overload.ts [--quick] [--events N] [--burst N] [--repeats N]`
 *
 * Load shedding, before and after, in one run: the embedded API (`ponder start` on the same
 * chain, Postgres when DATABASE_URL is set, else PGlite) first with the limits off
 * (API_MAX_CONCURRENT and API_MAX_QUEUED far above the burst), then with the defaults,
 * alternating over repeats. Each run: a steady transaction load (a transfer every 250 ms, a block
 * a second) keeps the indexer working; then BURST expensive but legal queries arrive at once
 * while four probes ask a cheap query in turn. Printed: what became of the burst (answered,
 * OVERLOADED, timed out), the cheap query's latency (p50/p99 of the answered, and how many were
 * refused), its p99 before the burst, and the indexer's lag behind the head during the burst
 * (read from Postgres, not through the API under test; on PGlite, Ponder's /status).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { encodeFunctionData, getAddress, type Address } from "viem";
import { farTokenAbi } from "../abis";
import { anvilAccount, USER_ACCOUNT_OFFSET } from "../common/chain";
import { readProgress } from "../domain/progress";
import { createTestDatabase } from "../harness/database";
import { post } from "../harness/graphql";
import { waitUntil } from "../harness/wait";
import { openIndexedTables, startPonder } from "../harness/ponder";
import { benchArgs } from "./args";
import { buildDataset } from "./queries/dataset";
import { percentile } from "./queries/load";

const args = benchArgs({ events: { type: "string" }, burst: { type: "string" }, repeats: { type: "string" } });
const { quick } = args;
const EVENTS = Number(args.events ?? (quick ? 2_000 : 10_000));
const BURST = Number(args.burst ?? (quick ? 100 : 500));
const REPEATS = Number(args.repeats ?? (quick ? 1 : 2));
/** A client gives up after this long (the clients waited 240 s). */
const CLIENT_TIMEOUT_MS = quick ? 30_000 : 120_000;
const PROBES = 4;
const PROBE_PAUSE_MS = 50;

const MODES = {
  "limits off": { API_MAX_CONCURRENT: "1000000", API_MAX_QUEUED: "1000000", API_QUEUE_TIMEOUT_MS: "3600000" },
  "defaults": {},
} as const;
type Mode = keyof typeof MODES;

/** Payouts with their tasks, nodes and users, and the node leaderboard with tasks: legal (cost 8,778 of 10,000 by graphql-armor's count), many joins. */
const HEAVY = `query Heavy {
  payouts(first: 40) { edges { node { id stream amount usdValue blockNumber timestamp recipient
    task { id status escrow actualCost user { address } node { address reliability totalEarned } }
    node { address totalEarned tasksCompleted } } } }
  nodes(first: 10, orderBy: EARNINGS_DESC) { edges { node { address totalEarned tasks(first: 5) { edges { node { id status escrow } } } } } }
}`;
const CHEAP = `query Cheap { indexingStatus { latestBlock { number } } }`;

type Outcome = { ms: number; kind: "ok" | "overloaded" | "timeout" | "error" };

async function ask(url: string, query: string): Promise<Outcome> {
  const started = performance.now();
  try {
    const { status, body } = await post(url, query, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) });
    const ms = performance.now() - started;
    if (status === 503 && body.errors?.[0]?.extensions?.code === "OVERLOADED") return { ms, kind: "overloaded" };
    return { ms, kind: status >= 200 && status < 300 && body.data && !body.errors ? "ok" : "error" };
  } catch (error) {
    return { ms: performance.now() - started, kind: (error as Error).name === "TimeoutError" ? "timeout" : "error" };
  }
}

const sorted = (values: number[]) => Float64Array.from(values).sort();
const count = (outcomes: Outcome[], kind: Outcome["kind"]) => outcomes.filter((outcome) => outcome.kind === kind).length;
const fmt = (value: number) => (Number.isFinite(value) ? value.toFixed(0) : "–");

type Run = {
  mode: Mode;
  repeat: number;
  heavyAlone: number;
  burst: Outcome[];
  burstSeconds: number;
  cheap: Outcome[];
  idleCheap: Outcome[];
  lag: number[];
};

async function main() {
  const databaseUrl = process.env.DATABASE_URL;
  console.log(
    `overload bench: ≥${EVENTS} history events; burst of ${BURST} heavy queries; ${PROBES} cheap-query probes; client timeout ${CLIENT_TIMEOUT_MS / 1000} s; ` +
      `${REPEATS} repeats; database ${databaseUrl ? "Postgres" : "PGlite"}; a transfer every 250 ms, a block a second`,
  );
  const cleanup: (() => Promise<unknown>)[] = [];
  const runCleanup = async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch((error: unknown) => console.error("cleanup:", error));
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void runCleanup().finally(() => process.exit(130)));
  try {
    const dataset = await buildDataset({ targetEvents: EVENTS, scenarioSteps: quick ? 40 : 150, stakers: 4 });
    cleanup.push(() => dataset.chain.anvil.stop());
    const { publicClient, testClient } = dataset.chain;
    const database = databaseUrl ? await createTestDatabase(databaseUrl) : undefined;
    if (database) cleanup.push(() => database.drop());

    const runs: Run[] = [];
    for (let repeat = 1; repeat <= REPEATS; repeat++) {
      const order: Mode[] = repeat % 2 === 1 ? ["limits off", "defaults"] : ["defaults", "limits off"];
      for (const mode of order) {
        const ponder = await startPonder({
          rpcUrl: dataset.chain.anvil.rpcUrl,
          deploymentsDir: dataset.chain.deploymentsDir,
          databaseUrl: database?.url,
          // The response cache off: a burst of one heavy query at one block would be answered from it.
          env: { ...MODES[mode], API_LOG_LEVEL: "error", NODE_ENV: "production", RPC_POLLING_INTERVAL_MS: "1000", API_RESPONSE_CACHE: "false" },
        });
        let tables: Awaited<ReturnType<typeof openIndexedTables>> | undefined;
        try {
          if (database) tables = await openIndexedTables({ databaseUrl: database.url, schema: ponder.schema, pgliteDir: ponder.pgliteDir });
          await ponder.waitForBlock(await publicClient.getBlockNumber(), 900_000);
          await waitUntil(async () => (await fetch(`${ponder.baseUrl}/ready`).catch(() => undefined))?.status === 200, "Ponder's backfill", 300_000);
          const url = `${ponder.baseUrl}/graphql`;
          const indexed = async (): Promise<number | undefined> => (tables ? (await readProgress(tables.query))[0]?.latest.number : ponder.status());
          const heavy = await ask(url, HEAVY);
          if (heavy.kind !== "ok") {
            const { body } = await post(url, HEAVY);
            throw new Error(`the heavy query must be legal and answered: ${JSON.stringify(body).slice(0, 1000)}`);
          }
          {
            // The steady load: a block a second, a transfer every 250 ms (unsigned, from anvil's accounts).
            await testClient.setIntervalMining({ interval: 1 });
            let loading = true;
            const from = anvilAccount(0).address;
            const token = getAddress(dataset.chain.manifest.contracts.FARToken.address);
            const load = (async () => {
              for (let i = 0; loading; i++) {
                const to: Address = anvilAccount(USER_ACCOUNT_OFFSET + (i % 30)).address;
                void testClient.sendUnsignedTransaction({ from, to: token, data: encodeFunctionData({ abi: farTokenAbi, functionName: "transfer", args: [to, 1n] }), gas: 100_000n }).catch(() => {});
                await sleep(250);
              }
            })();
            await sleep(3_000);
            const probe = async (until: () => boolean, into: Outcome[]) => {
              while (!until()) {
                into.push(await ask(url, CHEAP));
                await sleep(PROBE_PAUSE_MS);
              }
            };
            const idleCheap: Outcome[] = [];
            const idleEnd = Date.now() + 3_000;
            await Promise.all(Array.from({ length: PROBES }, () => probe(() => Date.now() > idleEnd, idleCheap)));

            let burstDone = false;
            const lag: number[] = [];
            const sampler = (async () => {
              while (!burstDone) {
                const [head, at] = await Promise.all([publicClient.getBlockNumber({ cacheTime: 0 }), indexed().catch(() => undefined)]);
                if (at !== undefined) lag.push(Number(head) - at);
                await sleep(500);
              }
            })();
            const cheap: Outcome[] = [];
            const probes = Promise.all(Array.from({ length: PROBES }, () => probe(() => burstDone, cheap)));
            const burstStarted = performance.now();
            const burst = await Promise.all(Array.from({ length: BURST }, () => ask(url, HEAVY)));
            const burstSeconds = (performance.now() - burstStarted) / 1000;
            burstDone = true;
            await Promise.all([probes, sampler]);
            loading = false;
            await load;
            await testClient.setIntervalMining({ interval: 0 });
            runs.push({ mode, repeat, heavyAlone: heavy.ms, burst, burstSeconds, cheap, idleCheap, lag });
            const last = runs.at(-1)!;
            console.log(
              `  ${mode} run ${repeat}: burst ${count(burst, "ok")} ok / ${count(burst, "overloaded")} OVERLOADED / ${count(burst, "timeout")} timed out / ${count(burst, "error")} failed in ${burstSeconds.toFixed(1)} s; ` +
                `cheap ${count(cheap, "ok")} answered (p50 ${fmt(percentile(sorted(cheap.filter((o) => o.kind === "ok").map((o) => o.ms)), 50))} ms, p99 ${fmt(percentile(sorted(cheap.filter((o) => o.kind === "ok").map((o) => o.ms)), 99))} ms), ` +
                `${count(cheap, "overloaded")} refused, ${count(cheap, "timeout") + count(cheap, "error")} failed; lag max ${Math.max(...last.lag)} blocks`,
            );
          }
        } finally {
          await tables?.close();
          await ponder.stop();
        }
      }
    }

    console.log("");
    console.log(`### Overload: ${BURST} heavy queries at once, cheap query alongside (medians over ${REPEATS} repeats)`);
    console.log("");
    console.log(
      "| mode | heavy alone ms | burst: ok / OVERLOADED / timed out / failed | burst settled s | cheap p99 before burst ms | cheap during burst: answered / refused / failed | cheap p50 ms | cheap p99 ms | cheap p99 incl. refusals ms | indexer lag max / median blocks |",
    );
    console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    const median = (values: number[]) => sorted(values)[Math.floor(values.length / 2)]!;
    for (const mode of Object.keys(MODES) as Mode[]) {
      const picked = runs.filter((run) => run.mode === mode);
      if (picked.length === 0) continue;
      const of = (f: (run: Run) => number) => median(picked.map(f));
      const answered = (run: Run) => run.cheap.filter((o) => o.kind === "ok").map((o) => o.ms);
      console.log(
        `| ${mode} | ${fmt(of((r) => r.heavyAlone))} | ${fmt(of((r) => count(r.burst, "ok")))} / ${fmt(of((r) => count(r.burst, "overloaded")))} / ${fmt(of((r) => count(r.burst, "timeout")))} / ${fmt(of((r) => count(r.burst, "error")))} | ` +
          `${of((r) => r.burstSeconds).toFixed(1)} | ${fmt(of((r) => percentile(sorted(r.idleCheap.map((o) => o.ms)), 99)))} | ` +
          `${fmt(of((r) => count(r.cheap, "ok")))} / ${fmt(of((r) => count(r.cheap, "overloaded")))} / ${fmt(of((r) => count(r.cheap, "timeout") + count(r.cheap, "error")))} | ` +
          `${fmt(of((r) => percentile(sorted(answered(r)), 50)))} | ${fmt(of((r) => percentile(sorted(answered(r)), 99)))} | ${fmt(of((r) => percentile(sorted(r.cheap.map((o) => o.ms)), 99)))} | ` +
          `${fmt(of((r) => Math.max(...r.lag)))} / ${fmt(of((r) => median(r.lag)))} |`,
      );
    }
    const failedProbes = runs.some((run) => run.idleCheap.some((o) => o.kind !== "ok"));
    if (failedProbes) {
      console.error("a cheap query failed before the burst: the server was not healthy to begin with");
      process.exitCode = 1;
    }
  } finally {
    await runCleanup();
  }
}

await main();
