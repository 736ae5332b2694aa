/**
 * `npx tsx bench/bsc.ts [--quick] [--seconds N] [--rate N] [--subscribers N] [--poll-ms N]`
 *
 * The whole system at a steady settlement load on a BSC-like chain (CHAIN=bsc-local: anvil as
 * chain 56, a block every 0.75 s): the real `ponder start` on Postgres with its embedded API, the
 * real oracle worker (a child process reading a Redis stream), SSE subscribers to `payouts`, and a
 * scheduler stand-in (oracle/simulator.ts) that keeps creating tasks on chain and posts their
 * results to the oracle's stream at `--rate` per second for `--seconds`. Measured:
 *   (a) indexing lag: chain head − indexed block, sampled every 100 ms, p50/p99/max in blocks
 *       (target: p99 ≤ 2), and mined → committed per block in ms;
 *   (b) payout delivery: commit → subscriber and mined → subscriber, p50/p99 in ms;
 *   (c) the oracle: tasks settled per second, and result posted → settled on chain p50/p99.
 * "Mined" is the start of the first 20 ms `eth_blockNumber` poll that showed the block (anvil's
 * block timestamps are whole seconds: too coarse at 0.75 s blocks); "committed" the start of the
 * first 10 ms poll of Ponder's checkpoint row that showed it (bench/measure.ts). Exactly once,
 * checked after the load has drained: every posted task settled once, of the kind its result
 * asked for, no dead letter; the payout table holds one row per non-zero share of every
 * TaskCompleted on chain in the window, and every subscriber received each of them exactly once,
 * as ADDED, and nothing else. Exits 1 if any of that fails. Needs DATABASE_URL and REDIS_URL.
 */
import { loadavg } from "node:os";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import postgres from "postgres";
import { getAddress, parseEther, type Hash, type Hex, type LocalAccount } from "viem";
import { farTokenAbi, inferencePaymentAbi } from "../abis";
import { anvilAccount, nodeAddresses, USER_ACCOUNT_OFFSET, userAccounts } from "../common/chain";
import { LOCAL_CHAINS } from "../common/config";
import { DEFAULT_MODELS } from "../oracle/pricing";
import { createSimulator, type SimulatedTask } from "../oracle/simulator";
import { createRedisStream } from "../oracle/stream";
import { FAR, mined, startDeployedChain } from "../harness/chain";
import { createTestDatabase } from "../harness/database";
import { subscribeSse, type SubscriptionHandle } from "../harness/graphql";
import { oracleEnv } from "../harness/oracle";
import { openIndexedTables, startPonder } from "../harness/ponder";
import { waitUntil } from "../harness/wait";
import { benchArgs } from "./args";
import { cpuSeconds, percentile, watchCommits, watchHead } from "./measure";
import { startWorker, type Worker } from "./oracle/worker";

const args = benchArgs({ seconds: { type: "string" }, rate: { type: "string" }, subscribers: { type: "string" }, "poll-ms": { type: "string" } });
const { quick } = args;
const SECONDS = Number(args.seconds ?? (quick ? 20 : 180));
const RATE = Number(args.rate ?? 4);
const SUBSCRIBERS = Number(args.subscribers ?? (quick ? 3 : 20));
/** Ponder's RPC_POLLING_INTERVAL_MS: how often it asks the chain for a new head. */
const POLL_MS = Number(args["poll-ms"] ?? 200);
const databaseUrl = process.env.DATABASE_URL;
const redisUrl = process.env.REDIS_URL;
if (!databaseUrl || !redisUrl) throw new Error("bench/bsc.ts needs DATABASE_URL (a server where it may CREATE DATABASE) and REDIS_URL");
if (!(SECONDS > 0 && RATE > 0 && Number.isInteger(SUBSCRIBERS) && SUBSCRIBERS > 0 && POLL_MS > 0)) throw new Error("--seconds, --rate, --subscribers and --poll-ms must be positive");

const CHAIN = LOCAL_CHAINS["bsc-local"];
/** The indexing-lag target of issue 17: the indexed block within 2 blocks of the head, p99. */
const LAG_TARGET_BLOCKS = 2;
const LAG_SAMPLE_MS = 100;
const USERS = 8;
const NODES = 3;
const FAILURE_RATE = 0.1;
const DUPLICATE_RATE = 0.2;
/** Tasks kept created on chain ahead of the poster, in seconds of load: creation never starves it. */
const LEAD_SECONDS = 3;
const DRAIN_TIMEOUT_MS = 120_000;
/** The oracle keeps up when it settles, within the window, this share of what was posted in it (the last posts settle after it ends). */
const KEEP_UP_SHARE = 0.95;
const PAYOUTS = `subscription { payouts { blockNumber action payout { id } } }`;

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sorted = (values: number[]) => Float64Array.from(values).sort();
const round = (value: number) => (Number.isNaN(value) ? "–" : Math.round(value).toString());
const load = () => loadavg().map((value) => value.toFixed(2)).join(", ");

/** Steps that stop what the bench started, newest last. */
const cleanup: (() => Promise<unknown>)[] = [];
async function unwind() {
  while (cleanup.length > 0) await cleanup.pop()!().catch((error: unknown) => console.error("cleanup:", error));
}
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void unwind().then(() => process.exit(1)));

type Delivery = { subscriber: number; id: string; block: number; action: string; at: number };
type Settlement = { kind: string; block: number };

async function main() {
  const started = new Date();
  console.log(
    `bsc bench: CHAIN=bsc-local (chain id ${CHAIN.id}, ${CHAIN.blockTime} s blocks, finalized = head − ${2 * CHAIN.slotsInAnEpoch}); ${SECONDS} s of load at ${RATE} results/s ` +
      `(${FAILURE_RATE * 100}% failed, ${DUPLICATE_RATE * 100}% posted twice), tasks created on chain ${LEAD_SECONDS} s ahead; ${SUBSCRIBERS} SSE payout subscribers on the embedded API; ` +
      `Ponder on Postgres, RPC_POLLING_INTERVAL_MS=${POLL_MS}; oracle worker child process, Postgres store, test timings; load average ${load()}; ${started.toISOString()}`,
  );

  const chain = await startDeployedChain({ chain: "bsc-local", blockTime: CHAIN.blockTime });
  cleanup.push(() => chain.anvil.stop());
  const { publicClient, manifest, walletFor } = chain;
  const token = getAddress(manifest.contracts.FARToken.address);
  const payment = getAddress(manifest.contracts.InferencePayment.address);
  const nodes = nodeAddresses(NODES);

  const id = `${process.pid}_${Date.now().toString(36)}`;
  const keyPrefix = `bench:bsc:${id}:`;
  const stream = createRedisStream({ url: redisUrl!, stream: `${keyPrefix}results`, deadLetter: `${keyPrefix}dead`, group: "oracle" });
  const redis = new Redis(redisUrl!);
  cleanup.push(async () => {
    await stream.close();
    // Every key the run wrote (the oracle's stream, the API's feed) lives under its own prefix.
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  // A staker, so every settlement pays all three streams; nodes registered by the oracle's key
  // from outside the worker (which then starts past those nonces), as bench/oracle.ts does.
  const staker = walletFor(USER_ACCOUNT_OFFSET + USERS);
  await mined(publicClient, walletFor(0).writeContract({ address: token, abi: farTokenAbi, functionName: "transfer", args: [staker.account.address, 1_000n * FAR] }));
  await mined(publicClient, staker.writeContract({ address: token, abi: farTokenAbi, functionName: "stake", args: [1_000n * FAR] }));
  const oracleWallet = walletFor(1);
  const registrations: Hash[] = [];
  for (const node of nodes) registrations.push(await oracleWallet.writeContract({ address: payment, abi: inferencePaymentAbi, functionName: "registerNode", args: [node, node] }));
  const simulator = createSimulator({ publicClient, chainId: manifest.chainId, funder: anvilAccount(0) as LocalAccount, users: userAccounts(USERS), nodes, token, payment, stream, models: DEFAULT_MODELS });
  await Promise.all([...registrations.map((hash) => mined(publicClient, hash)), simulator.fundUsers(parseEther("100000"))]);

  const database = await createTestDatabase(databaseUrl!, "bench_bsc");
  cleanup.push(() => database.drop());
  const schema = `bench_bsc_${process.pid}`;
  const ponder = await startPonder({
    chain: "bsc-local",
    rpcUrl: chain.anvil.rpcUrl,
    deploymentsDir: chain.deploymentsDir,
    databaseUrl: database.url,
    schema,
    env: { REDIS_URL: redisUrl!, API_FEED_PREFIX: `${keyPrefix}feed`, RPC_POLLING_INTERVAL_MS: String(POLL_MS), API_LOG_LEVEL: "warn" },
  });
  cleanup.push(() => Promise.race([ponder.stop(), sleep(10_000)]).then(() => ponder.kill()));
  const worker: Worker = await startWorker(
    root,
    oracleEnv(chain, { REDIS_URL: redisUrl!, DATABASE_URL: databaseUrl!, ORACLE_STREAM_KEY: `${keyPrefix}results`, ORACLE_DEAD_LETTER_KEY: `${keyPrefix}dead`, ORACLE_DB_SCHEMA: `bench_bsc_oracle_${process.pid}` }),
  );
  cleanup.push(async () => {
    worker.kill();
    const sql = postgres(databaseUrl!, { max: 1, onnotice: () => {} });
    await sql.unsafe(`drop schema if exists "bench_bsc_oracle_${process.pid}" cascade`).catch(() => undefined);
    await sql.end();
  });
  await ponder.waitForBlock(await publicClient.getBlockNumber(), 480_000);
  await waitUntil(() => fetch(`${ponder.baseUrl}/ready`).then((response) => response.ok, () => false), "Ponder's backfill to end", 240_000);

  const watcher = await openIndexedTables({ databaseUrl: database.url, schema, pgliteDir: "" });
  const tables = await openIndexedTables({ databaseUrl: database.url, schema, pgliteDir: "" });
  const { committedAt, committed, waitCommitted, stop: stopCommits } = watchCommits(watcher.query);
  const { minedAt, head, stop: stopHead } = watchHead(publicClient);
  cleanup.push(async () => {
    await Promise.all([stopCommits(), stopHead()]);
    await Promise.all([watcher.close(), tables.close()]);
  });
  await waitUntil(() => head() >= 0 && committed() >= 0, "the head and the indexer's checkpoint to be read");

  // Settlements as the chain shows them, each with its block: scanned as the head moves.
  const settlements = new Map<Hex, Settlement[]>();
  let scanned = BigInt(await publicClient.getBlockNumber());
  let scanning = true;
  const scanner = (async () => {
    while (scanning) {
      const top = BigInt(head());
      if (top > scanned) {
        const events = await publicClient.getContractEvents({ address: payment, abi: inferencePaymentAbi, fromBlock: scanned + 1n, toBlock: top });
        for (const event of events) {
          if (event.eventName !== "TaskCompleted" && event.eventName !== "TaskCancelled") continue;
          const kind = event.eventName === "TaskCompleted" ? "completed" : event.args.failed ? "failed" : "cancelled";
          settlements.set(event.args.taskId!, [...(settlements.get(event.args.taskId!) ?? []), { kind, block: Number(event.blockNumber) }]);
        }
        scanned = top;
      }
      await sleep(20);
    }
  })();
  cleanup.push(async () => {
    scanning = false;
    await scanner;
  });

  // Subscribers, each event stamped on arrival.
  const deliveries: Delivery[] = [];
  const subscriptions: SubscriptionHandle<{ blockNumber: number; action: string; payout: { id: string } }>[] = [];
  for (let subscriber = 0; subscriber < SUBSCRIBERS; subscriber++) {
    subscriptions.push(
      subscribeSse(`${ponder.baseUrl}/graphql`, PAYOUTS, {}, (event) => deliveries.push({ subscriber, id: event.payout.id, block: event.blockNumber, action: event.action, at: Date.now() })),
    );
  }
  cleanup.push(async () => subscriptions.forEach((subscription) => subscription.close()));

  // The load: a creator keeps LEAD_SECONDS of tasks created on chain, a poster posts one result
  // every 1/RATE s on a fixed schedule (a slot with no created task is counted, not shifted).
  const created: SimulatedTask[] = await simulator.createTasks(Math.ceil(RATE * LEAD_SECONDS));
  const posted = new Map<Hex, { at: number; status: string }>();
  let loading = true;
  let starved = 0;
  const creator = (async () => {
    while (loading) {
      if (created.length < RATE * LEAD_SECONDS) created.push(...(await simulator.createTasks(Math.ceil(RATE))));
      else await sleep(100);
    }
  })();
  cleanup.push(async () => {
    loading = false;
    await creator.catch(() => undefined);
  });
  const post = async (task: SimulatedTask, failureRate = FAILURE_RATE) => {
    const at = Date.now();
    const fields = await simulator.postResults([task], { failureRate, duplicateRate: DUPLICATE_RATE });
    posted.set(task.taskId, { at, status: fields.get(task.taskId)!.status });
  };

  // Warm-up: completed results until every subscriber received a payout, so all are live on the
  // feed; the window's payouts are those of the blocks after the last first-delivery.
  for (let warm = 0; new Set(deliveries.map((delivery) => delivery.subscriber)).size < SUBSCRIBERS; warm++) {
    if (warm > 60) throw new Error(`not every subscriber received a payout within 60 warm-up settlements: ${JSON.stringify(subscriptions.map((s) => s.errors))}`);
    await post(created.shift()!, 0);
    await sleep(1_000);
  }
  const firstBlock = Math.max(...Array.from({ length: SUBSCRIBERS }, (_, subscriber) => deliveries.find((delivery) => delivery.subscriber === subscriber)!.block)) + 1;

  // The measured window.
  const pids = { anvil: chain.anvil.process.pid!, ponder: ponder.child.pid!, oracle: worker.pid };
  const cpu = async () => ({ bench: process.cpuUsage(), anvil: await cpuSeconds(pids.anvil), ponder: await cpuSeconds(pids.ponder), oracle: await cpuSeconds(pids.oracle) });
  const loadBefore = load();
  const cpuBefore = await cpu();
  const windowStart = Date.now();
  const lags: number[] = [];
  const sampler = setInterval(() => lags.push(head() - committed()), LAG_SAMPLE_MS);
  const interval = 1000 / RATE;
  const windowPosts: Hex[] = [];
  for (let slot = 0; windowStart + slot * interval < windowStart + SECONDS * 1000; slot++) {
    await sleep(Math.max(0, windowStart + slot * interval - Date.now()));
    const task = created.shift();
    if (!task) {
      starved += 1;
      continue;
    }
    await post(task);
    windowPosts.push(task.taskId);
  }
  const windowEnd = Date.now();
  clearInterval(sampler);
  const cpuAfter = await cpu();
  const loadAfter = load();
  loading = false;
  await creator;

  // Drain: every posted task settled on chain, indexed, and every payout delivered.
  const unsettled = () => [...posted.keys()].filter((taskId) => !settlements.has(taskId));
  await waitUntil(() => unsettled().length === 0 || worker.exited(), "every posted task to be settled on chain", DRAIN_TIMEOUT_MS).catch(() => undefined);
  if (unsettled().length > 0) throw new Error(`${unsettled().length} posted tasks unsettled ${DRAIN_TIMEOUT_MS / 1000} s after the load ended:\n${worker.output()}`);
  const lastBlock = Math.max(...[...settlements.values()].flat().map((settlement) => settlement.block));
  await waitCommitted(lastBlock);
  const rows = await tables.query(`SELECT id, block_number FROM payout WHERE block_number BETWEEN ${firstBlock} AND ${lastBlock}`);
  const expected = new Map(rows.map((row) => [String(row.id), Number(row.block_number)]));
  const inWindow = (delivery: Delivery) => delivery.block >= firstBlock && delivery.block <= lastBlock;
  let count = -1;
  let quietSince = Date.now();
  while (deliveries.filter(inWindow).length < expected.size * SUBSCRIBERS && Date.now() - quietSince < 15_000) {
    if (deliveries.length !== count) [count, quietSince] = [deliveries.length, Date.now()];
    await sleep(100);
  }

  // Exactly once. The chain: one settlement per posted task, of its result's kind; nothing else settled; no dead letter.
  const problems: string[] = [];
  const wrong = [...posted].filter(([taskId, { status }]) => settlements.get(taskId)?.length !== 1 || settlements.get(taskId)![0]!.kind !== status);
  if (wrong.length > 0) problems.push(`${wrong.length} posted tasks not settled exactly once as posted, e.g. ${JSON.stringify(wrong.slice(0, 3).map(([taskId, { status }]) => ({ taskId, status, got: settlements.get(taskId) })))}`);
  const strangers = [...settlements.keys()].filter((taskId) => !posted.has(taskId));
  if (strangers.length > 0) problems.push(`${strangers.length} settlements of tasks never posted`);
  const deadLetters = await redis.xrange(`${keyPrefix}dead`, "-", "+", "COUNT", 3);
  if (deadLetters.length > 0) problems.push(`dead letters: ${JSON.stringify(deadLetters)}`);
  // The payout table against the chain: one row per non-zero share of each TaskCompleted in the window.
  const completed = await publicClient.getContractEvents({ address: payment, abi: inferencePaymentAbi, eventName: "TaskCompleted", fromBlock: BigInt(firstBlock), toBlock: BigInt(lastBlock) });
  const shares = completed.reduce((sum, { args }) => sum + [args.nodePayment, args.stakerPayment, args.treasuryPayment].filter((amount) => amount !== 0n).length, 0);
  if (shares !== expected.size) problems.push(`the payout table holds ${expected.size} payouts in blocks ${firstBlock}–${lastBlock}, the chain's TaskCompleted events ${shares} non-zero shares`);
  // Every subscriber: each of those payouts exactly once, as ADDED, nothing else.
  const fromCommit: number[] = [];
  const fromMined: number[] = [];
  let missing = 0;
  let duplicate = 0;
  let unexpected = 0;
  for (let subscriber = 0; subscriber < SUBSCRIBERS; subscriber++) {
    const got = new Map<string, number>();
    for (const delivery of deliveries.filter((candidate) => candidate.subscriber === subscriber && inWindow(candidate))) {
      got.set(delivery.id, (got.get(delivery.id) ?? 0) + 1);
      if (delivery.action !== "ADDED" || expected.get(delivery.id) !== delivery.block) unexpected += 1;
      fromCommit.push(delivery.at - committedAt.get(delivery.block)!);
      fromMined.push(delivery.at - minedAt.get(delivery.block)!);
    }
    for (const id of expected.keys()) if (!got.has(id)) missing += 1;
    for (const times of got.values()) if (times > 1) duplicate += times - 1;
  }
  if (missing + duplicate + unexpected > 0) problems.push(`subscribers: ${missing} missing, ${duplicate} duplicate, ${unexpected} unexpected deliveries of ${expected.size * SUBSCRIBERS}`);
  const errors = subscriptions.flatMap((subscription) => subscription.errors);
  if (errors.length > 0) problems.push(`subscription errors: ${JSON.stringify(errors.slice(0, 3))}`);

  // Figures.
  const windowSeconds = (windowEnd - windowStart) / 1000;
  const lagBlocks = sorted(lags);
  const windowBlocks = [...minedAt.keys()].filter((block) => minedAt.get(block)! >= windowStart && minedAt.get(block)! <= windowEnd && committedAt.has(block));
  const minedToCommit = sorted(windowBlocks.map((block) => committedAt.get(block)! - minedAt.get(block)!));
  // Throughput: settlements (of any posted task) in blocks mined within the window.
  const settledInWindow = [...settlements.values()].filter(([first]) => first && minedAt.get(first.block)! >= windowStart && minedAt.get(first.block)! <= windowEnd).length;
  const keepsUp = settledInWindow >= KEEP_UP_SHARE * windowPosts.length;
  const postToSettle = sorted(windowPosts.map((taskId) => minedAt.get(settlements.get(taskId)![0]!.block)! - posted.get(taskId)!.at));
  const commitToClient = sorted(fromCommit);
  const minedToClient = sorted(fromMined);
  const percent = (name: keyof typeof pids) => ((100 * (cpuAfter[name] - cpuBefore[name])) / windowSeconds).toFixed(0);
  const benchPercent = ((cpuAfter.bench.user + cpuAfter.bench.system - cpuBefore.bench.user - cpuBefore.bench.system) / 1e4 / windowSeconds).toFixed(0);
  const lagMet = percentile(lagBlocks, 99) <= LAG_TARGET_BLOCKS;

  console.log(
    `  window ${windowSeconds.toFixed(1)} s, blocks ${firstBlock}–${lastBlock} (settled through ${lastBlock}); ${windowPosts.length} results posted (${starved} slots with no created task), ` +
      `${posted.size} in all with the warm-up; ${windowBlocks.length} blocks mined in the window; ${lags.length} lag samples; ` +
      `${expected.size} payouts × ${SUBSCRIBERS} subscribers = ${expected.size * SUBSCRIBERS} deliveries expected, ${deliveries.filter(inWindow).length} received; ` +
      `CPU in the window: anvil ${percent("anvil")} %, Ponder ${percent("ponder")} %, oracle ${percent("oracle")} %, bench ${benchPercent} %; ` +
      `load average ${loadBefore} before, ${loadAfter} after the window`,
  );
  console.log("");
  console.log(`| figure (0.75 s blocks, ${RATE} results/s, ${SUBSCRIBERS} subscribers, ${SECONDS} s) | target | p50 | p99 | max | met |`);
  console.log("|---|---|---:|---:|---:|---|");
  console.log(`| indexing lag: head − indexed block, every ${LAG_SAMPLE_MS} ms (blocks) | p99 ≤ ${LAG_TARGET_BLOCKS} | ${percentile(lagBlocks, 50)} | ${percentile(lagBlocks, 99)} | ${lagBlocks.at(-1)} | ${lagMet ? "yes" : "no"} |`);
  console.log(`| mined → committed by the indexer (ms) | — | ${round(percentile(minedToCommit, 50))} | ${round(percentile(minedToCommit, 99))} | ${round(minedToCommit.at(-1) ?? NaN)} | |`);
  console.log(`| payout delivery: committed → subscriber (ms) | — | ${round(percentile(commitToClient, 50))} | ${round(percentile(commitToClient, 99))} | ${round(commitToClient.at(-1) ?? NaN)} | |`);
  console.log(`| payout delivery: mined → subscriber (ms) | — | ${round(percentile(minedToClient, 50))} | ${round(percentile(minedToClient, 99))} | ${round(minedToClient.at(-1) ?? NaN)} | |`);
  console.log(`| oracle: result posted → settled on chain (ms) | — | ${round(percentile(postToSettle, 50))} | ${round(percentile(postToSettle, 99))} | ${round(postToSettle.at(-1) ?? NaN)} | |`);
  console.log(`| oracle: tasks settled per second in the window (posted per second) | ≥ ${KEEP_UP_SHARE * 100}% of posted | ${(settledInWindow / windowSeconds).toFixed(2)} (${(windowPosts.length / windowSeconds).toFixed(2)}) | | | ${keepsUp ? "yes" : "no"} |`);
  console.log(`| exactly once: tasks settled, payouts delivered | all | ${posted.size} tasks, ${expected.size * SUBSCRIBERS} deliveries | | | ${problems.length === 0 ? "yes" : "no"} |`);

  if (problems.length > 0) {
    console.error(`bsc bench: NOT exactly once:\n  ${problems.join("\n  ")}`);
    process.exitCode = 1;
  }
}

try {
  await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await unwind();
}
