/**
 * `npm run bench:oracle [-- --quick] [--tasks N] [--repeats N] [--designs baseline,current] [--modes automine,1s,bsc]`
 *
 * Settlement throughput, transactions and gas per task of the oracle worker, two designs side by
 * side in one run: "baseline" is the tree of commit 2d2d461 (extracted once into
 * .bench-baseline/), "current" is the working tree. The worker is a black box: a child process
 * `node --import tsx scripts/oracle.ts` of the design's tree with environment settings only (its
 * own defaults for batching and in-flight limits, the test suites' timings), reading a Redis
 * stream, settling on a fresh anvil (automine, 1 s blocks, or bsc-local's 0.75 s blocks) with the design's own contracts.
 * Per run: tasks created on chain first, then every result posted at once (10% `failed`, 20% of
 * the messages posted twice); timed from the first post until the last task's
 * TaskCompleted/TaskCancelled is on chain. Every run ends with an exactly-once check and fails
 * the bench if any task has no settlement, two, or the wrong kind. Runs alternate between the
 * designs (and their order flips every repeat) so that any drift of the machine hits both alike.
 * Needs REDIS_URL; Postgres when DATABASE_URL is set (a schema per run, dropped after), else
 * PGlite in memory.
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Redis } from "ioredis";
import postgres from "postgres";
import { getAddress, parseEther, toHex, type Address, type Hash, type Hex, type LocalAccount } from "viem";
import { anvilAccount, nodeAddresses, USER_ACCOUNT_OFFSET, userAccounts } from "../common/chain";
import { LOCAL_CHAINS } from "../common/config";
import { DEFAULT_MODELS } from "../oracle/pricing";
import { createSimulator, type SimulatedTask } from "../oracle/simulator";
import { createRedisStream } from "../oracle/stream";
import { FAR, mined } from "../harness/chain";
import { oracleEnv, type Chain } from "../harness/oracle";
import { benchArgs } from "./args";
import { startWorker, type Worker } from "./oracle/worker";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const BASELINE_COMMIT = "2d2d461";

/**
 * Where each design's tree is: the bench loads its chain helper and ABIs and runs its worker from
 * there. The chain helper moved from test/helpers/ to harness/ after the baseline.
 */
const DESIGNS = {
  baseline: { label: `baseline (${BASELINE_COMMIT})`, root: baselineTree, chainHelper: "test/helpers/chain.ts" },
  current: { label: "current (working tree)", root: () => root, chainHelper: "harness/chain.ts" },
} as const;
type Design = keyof typeof DESIGNS;

/**
 * The chain of each mode: anvil's block time (none: one block per transaction, mined at once), and
 * for `bsc` the BSC-like profile (chain 56, 0.75 s blocks; the baseline's chain helper predates
 * profiles and ignores `chain`, so its runs get 0.75 s blocks on chain 31337).
 */
const CHAIN_MODES = {
  automine: { label: "anvil automine", chain: { blockTime: undefined } },
  "1s": { label: "anvil, 1 s blocks", chain: { blockTime: 1 } },
  bsc: { label: "bsc-local, 0.75 s blocks", chain: { chain: "bsc-local", blockTime: LOCAL_CHAINS["bsc-local"].blockTime } },
} as const;
type ChainMode = keyof typeof CHAIN_MODES;

const args = benchArgs({ tasks: { type: "string" }, repeats: { type: "string" }, designs: { type: "string" }, modes: { type: "string" } });
const { quick } = args;
const TASKS = Number(args.tasks ?? (quick ? 100 : 600));
const REPEATS = Number(args.repeats ?? (quick ? 1 : 3));
const designs = choices(args.designs ?? "baseline,current", DESIGNS, "--designs");
const modes = choices(args.modes ?? "automine,1s", CHAIN_MODES, "--modes");
const REDIS_URL = process.env.REDIS_URL;
const DATABASE_URL = process.env.DATABASE_URL;
if (!REDIS_URL) fail("bench/oracle.ts needs REDIS_URL: the worker reads its results from a Redis stream");
if (!Number.isInteger(TASKS) || TASKS < 10 || !Number.isInteger(REPEATS) || REPEATS < 1) fail("--tasks must be ≥ 10 and --repeats ≥ 1");

const FAILURE_EVERY = 10;
const USERS = 8;
const NODES = 3;
/** How often the bench asks the chain for new blocks while the worker settles. */
const POLL_MS = 20;
const SETTLE_TIMEOUT_MS = 300_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

function choices<T extends string>(text: string, table: Record<T, unknown>, name: string): T[] {
  const picked = text.split(",").map((value) => value.trim());
  const unknown = picked.filter((value) => !Object.hasOwn(table, value));
  if (unknown.length > 0 || picked.length === 0) fail(`${name}: unknown ${unknown.join(", ")} (one or more of ${Object.keys(table).join(", ")})`);
  return picked as T[];
}

/** The baseline's tree, extracted once: inside the repo, so its imports find the repo's node_modules. */
function baselineTree(): string {
  const dir = join(root, ".bench-baseline", BASELINE_COMMIT);
  if (existsSync(dir)) return dir;
  // Extracted beside it and renamed, so an interrupted extraction is never taken for a whole tree.
  const partial = `${dir}.partial-${process.pid}`;
  const archive = join(tmpdir(), `far-baseline-${process.pid}.tar`);
  try {
    execFileSync("git", ["cat-file", "-e", `${BASELINE_COMMIT}^{commit}`], { cwd: root, stdio: "ignore" });
  } catch {
    fail(`the baseline commit ${BASELINE_COMMIT} is not in this clone (a shallow one?): fetch it, or run --designs current`);
  }
  mkdirSync(partial, { recursive: true });
  execFileSync("git", ["archive", "--output", archive, BASELINE_COMMIT], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  execFileSync("tar", ["-x", "-f", archive, "-C", partial], { stdio: ["ignore", "ignore", "inherit"] });
  rmSync(archive);
  renameSync(partial, dir);
  return dir;
}

/**
 * What the bench takes from a design's tree: its deployment (so a design that changes the
 * contracts is measured on its own) and its ABIs. Typed as the working tree's modules.
 */
type Tree = {
  root: string;
  startDeployedChain: typeof import("../harness/chain").startDeployedChain;
  abis: typeof import("../abis");
};

async function loadTree(design: Design): Promise<Tree> {
  const treeRoot = DESIGNS[design].root();
  const load = (path: string) => import(pathToFileURL(join(treeRoot, path)).href);
  const chainModule = (await load(DESIGNS[design].chainHelper)) as typeof import("../harness/chain");
  return { root: treeRoot, startDeployedChain: chainModule.startDeployedChain, abis: (await load("abis/index.ts")) as typeof import("../abis") };
}

/**
 * One result per task in the scheduler's documented message format: every 10th `failed`, and
 * two in every ten posted twice, the copy right behind the original (one in five failures among them).
 */
function resultMessages(tasks: readonly SimulatedTask[], nodes: readonly Address[]) {
  const models = Object.keys(DEFAULT_MODELS);
  const messages: Record<string, string>[] = [];
  const failed = new Set<Hex>();
  tasks.forEach((task, i) => {
    const status = i % FAILURE_EVERY === 0 ? "failed" : "completed";
    if (status === "failed") failed.add(task.taskId);
    const model = models[i % models.length]!;
    const expected = DEFAULT_MODELS[model]!.tokensPerSecond;
    const fields = {
      taskId: task.taskId,
      node: nodes[i % nodes.length]!,
      model,
      tokensGenerated: String(20_000 + ((i * 7919) % 2_000_000)),
      status,
      uptime: "99.5",
      tokensPerSecond: String(expected * 0.9),
      expectedTokensPerSecond: String(expected),
      accuracy: "0.95",
      reportedAt: String(Date.now()),
    };
    messages.push(fields);
    if (i % 5 === Math.floor(i / 10) % 5) messages.push(fields);
  });
  return { messages, failed };
}

/** A receipt as eth_getBlockReceipts answers it (hex quantities). */
type RawReceipt = { from: Address; gasUsed: Hex; status: Hex; logs: { address: Address }[] };

type RunResult = {
  design: Design;
  mode: ChainMode;
  repeat: number;
  tasks: number;
  messages: number;
  seconds: number;
  transactions: number;
  settlementTransactions: number;
  reverted: number;
  gas: bigint;
  /** Not timed, shown so that the bench's own duration can be planned: chain and tasks, worker start-up, the whole run. */
  setUpSeconds: number;
  startSeconds: number;
  totalSeconds: number;
};

async function run(tree: Tree, design: Design, mode: ChainMode, repeat: number): Promise<RunResult> {
  const begun = performance.now();
  const id = randomUUID().slice(0, 8);
  const keyPrefix = `bench:oracle:${id}:`;
  const schema = `bench_oracle_${id}`;
  const chain: Chain = await tree.startDeployedChain(CHAIN_MODES[mode].chain);
  const stream = createRedisStream({ url: REDIS_URL!, stream: `${keyPrefix}results`, deadLetter: `${keyPrefix}dead`, group: "oracle" });
  const redis = new Redis(REDIS_URL!);
  let worker: Worker | undefined;
  try {
    const { publicClient, manifest, walletFor } = chain;
    const { farTokenAbi, inferencePaymentAbi } = tree.abis;
    const token = getAddress(manifest.contracts.FARToken.address);
    const payment = getAddress(manifest.contracts.InferencePayment.address);
    const nodes = nodeAddresses(NODES);
    const simulator = createSimulator({
      publicClient,
      chainId: manifest.chainId,
      funder: anvilAccount(0) as LocalAccount,
      users: userAccounts(USERS),
      nodes,
      token,
      payment,
      stream,
      models: DEFAULT_MODELS,
    });

    // Untimed set-up. A staker, as in `npm run gas`: every settlement then pays the stakers' share too.
    const staker = walletFor(USER_ACCOUNT_OFFSET + USERS);
    await mined(publicClient, walletFor(0).writeContract({ address: token, abi: farTokenAbi, functionName: "transfer", args: [staker.account.address, 1_000n * FAR] }));
    // Alone: its gas is estimated on the token's state, which the users' funding below would change under it.
    await mined(publicClient, staker.writeContract({ address: token, abi: farTokenAbi, functionName: "stake", args: [1_000n * FAR] }));
    // Nodes registered by the oracle's key from outside the worker, which then starts past these nonces.
    const oracleWallet = walletFor(1);
    const registrations: Hash[] = [];
    for (const node of nodes) {
      registrations.push(await oracleWallet.writeContract({ address: payment, abi: inferencePaymentAbi, functionName: "registerNode", args: [node, node] }));
    }
    await Promise.all([
      ...registrations.map((hash) => mined(publicClient, hash)),
      simulator.fundUsers(parseEther("100000")),
    ]);
    const tasks = await simulator.createTasks(TASKS);
    const { messages, failed } = resultMessages(tasks, nodes);

    const env = oracleEnv(chain, {
      REDIS_URL: REDIS_URL!,
      ORACLE_STREAM_KEY: `${keyPrefix}results`,
      ORACLE_DEAD_LETTER_KEY: `${keyPrefix}dead`,
      ORACLE_DB_SCHEMA: schema,
      ...(DATABASE_URL ? { DATABASE_URL } : {}),
    });
    const setUpSeconds = (performance.now() - begun) / 1000;
    worker = await startWorker(tree.root, env);
    const startSeconds = (performance.now() - begun) / 1000 - setUpSeconds;
    const fromBlock = (await publicClient.getBlockNumber()) + 1n;

    // Timed: from the first result posted to the last settlement on chain. Every XADD goes out
    // without waiting for the one before (ioredis pipelines them on its connection).
    const started = performance.now();
    await Promise.all(messages.map((fields) => stream.publish(fields)));
    const open = new Set(tasks.map((task) => task.taskId));
    let scanned = fromBlock - 1n;
    while (open.size > 0) {
      if (worker.exited()) throw new Error(`${design} ${mode}: worker exited with ${open.size} tasks unsettled:\n${worker.output()}`);
      if (performance.now() - started > SETTLE_TIMEOUT_MS) {
        throw new Error(`${design} ${mode}: ${open.size} of ${TASKS} tasks unsettled after ${SETTLE_TIMEOUT_MS / 1000} s:\n${worker.output()}`);
      }
      const head = await publicClient.getBlockNumber();
      if (head <= scanned) {
        await sleep(POLL_MS);
        continue;
      }
      const events = await publicClient.getContractEvents({ address: payment, abi: inferencePaymentAbi, fromBlock: scanned + 1n, toBlock: head });
      for (const event of events) {
        if (event.eventName === "TaskCompleted" || event.eventName === "TaskCancelled") open.delete(event.args.taskId!);
      }
      scanned = head;
    }
    const seconds = (performance.now() - started) / 1000;
    await worker.stop();

    // Everything the oracle's key sent from the first post until it stopped, read from the chain.
    const head = await publicClient.getBlockNumber();
    let transactions = 0;
    let settlementTransactions = 0;
    let reverted = 0;
    let gas = 0n;
    for (let number = fromBlock; number <= head; number++) {
      const receipts = (await publicClient.request({ method: "eth_getBlockReceipts", params: [toHex(number)] })) as RawReceipt[] | null;
      for (const receipt of receipts ?? []) {
        if (getAddress(receipt.from) !== worker.oracleAddress) continue;
        transactions += 1;
        gas += BigInt(receipt.gasUsed);
        if (receipt.status !== "0x1") reverted += 1;
        if (receipt.logs.some((log) => getAddress(log.address) === payment)) settlementTransactions += 1;
      }
    }

    // Exactly once, over the whole chain: one settlement per task, of the kind its result asked for.
    const settlements = new Map<Hex, string[]>();
    const events = await publicClient.getContractEvents({ address: payment, abi: inferencePaymentAbi, fromBlock: 0n, toBlock: head });
    for (const event of events) {
      if (event.eventName === "TaskCompleted") settlements.set(event.args.taskId!, [...(settlements.get(event.args.taskId!) ?? []), "completed"]);
      if (event.eventName === "TaskCancelled") {
        settlements.set(event.args.taskId!, [...(settlements.get(event.args.taskId!) ?? []), event.args.failed ? "failed" : "cancelled"]);
      }
    }
    const wrong = tasks
      .map((task) => ({ taskId: task.taskId, want: failed.has(task.taskId) ? "failed" : "completed", got: settlements.get(task.taskId) ?? [] }))
      .filter(({ want, got }) => got.length !== 1 || got[0] !== want);
    const taskIds = new Set(tasks.map((task) => task.taskId));
    const strangers = [...settlements.keys()].filter((taskId) => !taskIds.has(taskId));
    const deadLetters = await redis.xrange(`${keyPrefix}dead`, "-", "+", "COUNT", 3);
    if (wrong.length > 0 || strangers.length > 0 || deadLetters.length > 0) {
      throw new Error(
        `${design} ${mode}: NOT exactly once: ${wrong.length} tasks with the wrong settlements ` +
          `(e.g. ${JSON.stringify(wrong.slice(0, 3))}), ${strangers.length} settlements of unknown tasks, ` +
          `dead letters (first 3): ${JSON.stringify(deadLetters)}`,
      );
    }
    return {
      design,
      mode,
      repeat,
      tasks: TASKS,
      messages: messages.length,
      seconds,
      transactions,
      settlementTransactions,
      reverted,
      gas,
      setUpSeconds,
      startSeconds,
      totalSeconds: (performance.now() - begun) / 1000,
    };
  } finally {
    worker?.kill();
    await stream.close();
    // Every key the run wrote lives under its own prefix.
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await chain.anvil.stop();
    if (DATABASE_URL) {
      const sql = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
      await sql.unsafe(`drop schema if exists "${schema}" cascade`).catch(() => undefined);
      await sql.end();
    }
  }
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const summary = (values: readonly number[], digits: number) =>
  values.length === 1 ? values[0]!.toFixed(digits) : `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;

const rate = (result: RunResult) => result.tasks / result.seconds;
const gasPerTask = (result: RunResult) => Number(result.gas) / result.tasks;

console.log(
  `oracle bench: ${TASKS} tasks per run (${TASKS / FAILURE_EVERY} failed, 20% of messages posted twice), ${REPEATS} runs per design and chain mode; ` +
    `designs ${designs.map((design) => DESIGNS[design].label).join(", ")}; chain modes ${modes.join(", ")}; ` +
    `worker: child process, Redis stream, store ${DATABASE_URL ? "Postgres (a schema per run)" : "PGlite (memory://)"}, test timings (ORACLE_POLL_MS=50), ` +
    `its own batching and in-flight defaults`,
);
const trees = new Map<Design, Tree>();
for (const design of designs) trees.set(design, await loadTree(design));

const results: RunResult[] = [];
for (let repeat = 1; repeat <= REPEATS; repeat++) {
  for (const mode of modes) {
    // The order flips every repeat: neither design always runs first on a fresh machine state.
    const order = repeat % 2 === 1 ? designs : [...designs].reverse();
    for (const design of order) {
      const result = await run(trees.get(design)!, design, mode, repeat);
      results.push(result);
      console.log(
        `  run ${repeat} ${mode} ${design}: ${result.tasks} tasks (${result.messages} messages) settled in ${result.seconds.toFixed(2)} s ` +
          `(${rate(result).toFixed(1)} tasks/s), ${result.transactions} oracle transactions (${result.settlementTransactions} settling, ` +
          `${result.reverted} reverted), ${result.gas} gas (${Math.round(gasPerTask(result))} per task), exactly once ` +
          `[set-up ${result.setUpSeconds.toFixed(1)} s, worker start ${result.startSeconds.toFixed(1)} s, run ${result.totalSeconds.toFixed(1)} s]`,
      );
    }
  }
}

const metrics = [
  { name: "tasks/s", digits: 1, of: rate },
  { name: "seconds", digits: 2, of: (result: RunResult) => result.seconds },
  { name: "oracle transactions", digits: 0, of: (result: RunResult) => result.transactions },
  { name: "gas per task", digits: 0, of: gasPerTask },
];
for (const mode of modes) {
  const columns = designs.map((design) => results.filter((result) => result.mode === mode && result.design === design));
  const ratio = designs.length === 2;
  console.log(`\n### ${CHAIN_MODES[mode].label}: ${TASKS} tasks per run, median (min–max) of ${REPEATS}\n`);
  console.log(`| metric | ${designs.map((design) => DESIGNS[design].label).join(" | ")} |${ratio ? ` ${designs[1]} / ${designs[0]} |` : ""}`);
  console.log(`|---|${designs.map(() => "---:|").join("")}${ratio ? "---:|" : ""}`);
  for (const metric of metrics) {
    const values = columns.map((runs) => runs.map(metric.of));
    const ratioCell = ratio ? ` ${(median(values[1]!) / median(values[0]!)).toFixed(2)} |` : "";
    console.log(`| ${metric.name} | ${values.map((column) => summary(column, metric.digits)).join(" | ")} |${ratioCell}`);
  }
}
