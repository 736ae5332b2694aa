/**
 * `npx tsx bench/oracle.ts [--quick] [--tasks N] [--repeats N]`
 *
 * Settlement throughput and gas per task of the oracle worker, single (`completeTask` per task)
 * against batched (`completeTasks`), side by side in one run. Each run gets a fresh anvil
 * (automine), the worker in this process (in-process stream, PGlite in memory, or Postgres when
 * DATABASE_URL is set), tasks created on chain beforehand, then every result posted at once.
 * Runs alternate between the modes so that any drift of the machine hits both alike.
 */
import postgres from "postgres";
import { getAddress, parseAbiItem, parseEther, toEventSelector, type Address, type Hash } from "viem";
import { farTokenAbi } from "../abis";
import { loadOracleConfig } from "../oracle/config";
import { startOracle } from "../oracle/main";
import { createMemoryStream } from "../oracle/stream";
import { FAR, startDeployedChain } from "../test/helpers/chain";
import { benchArgs } from "./args";
import { nodeAddresses, oracleEnv, simulatorOn, users } from "../test/oracle/helpers";

const { quick, option } = benchArgs();
const TASKS = Number(option("--tasks") ?? (quick ? 60 : 400));
const REPEATS = Number(option("--repeats") ?? 3);
const BATCH_SIZE = 50;

const MODES = {
  // Never reached, so every settlement goes out alone.
  single: { ORACLE_BATCH_THRESHOLD: "1000000", ORACLE_BATCH_SIZE: String(BATCH_SIZE) },
  // The shipped default threshold: a backlog of 8 ready settlements goes out as batches of ≤ 50.
  batched: { ORACLE_BATCH_THRESHOLD: "8", ORACLE_BATCH_SIZE: String(BATCH_SIZE) },
} as const;
type Mode = keyof typeof MODES;

const taskCompleted = parseAbiItem(
  "event TaskCompleted(bytes32 indexed taskId, address indexed user, address indexed node, uint256 actualCost, uint256 nodePayment, uint256 stakerPayment, uint256 treasuryPayment, uint256 refund, uint256 performanceScore)",
);

const TASK_COMPLETED_TOPIC = toEventSelector(taskCompleted);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type RunResult = { mode: Mode; seconds: number; settled: number; transactions: number; gas: bigint };

async function run(mode: Mode): Promise<RunResult> {
  const chain = await startDeployedChain();
  let oracle: Awaited<ReturnType<typeof startOracle>> | undefined;
  let schema: string | undefined;
  try {
    const { publicClient, manifest, walletFor } = chain;
    const token = getAddress(manifest.contracts.FARToken.address);
    const payment = getAddress(manifest.contracts.InferencePayment.address);
    // A staker, as in `npm run gas`: every settlement then pays the stakers' share too.
    const staker = walletFor(20);
    const mined = async (hash: Promise<Hash>) => publicClient.waitForTransactionReceipt({ hash: await hash });
    await mined(walletFor(0).writeContract({ address: token, abi: farTokenAbi, functionName: "transfer", args: [staker.account.address, 1_000n * FAR] }));
    await mined(staker.writeContract({ address: token, abi: farTokenAbi, functionName: "stake", args: [1_000n * FAR] }));

    const env = oracleEnv(chain, { ...MODES[mode], ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}) });
    schema = env.ORACLE_DB_SCHEMA;
    const config = loadOracleConfig(env);
    const stream = createMemoryStream();
    oracle = await startOracle(config, { stream });
    const simulator = simulatorOn(chain, {
      users: users(4),
      nodes: nodeAddresses(3),
      stream,
      models: config.ORACLE_MODELS,
    });
    await simulator.fundUsers(parseEther("10000"));
    await simulator.registerNodes();
    const tasks = await simulator.createTasks(TASKS);
    const fromBlock = (await publicClient.getBlockNumber()) + 1n;

    // Timed: from the first result posted to the last TaskCompleted on chain.
    const started = performance.now();
    await simulator.postResults(tasks, { failureRate: 0, duplicateRate: 0 });
    let settled = 0;
    const deadline = Date.now() + 300_000;
    while (settled < TASKS) {
      if (Date.now() > deadline) throw new Error(`${mode}: only ${settled} of ${TASKS} tasks settled in 300 s`);
      await sleep(50);
      const head = await publicClient.getBlockNumber();
      if (head < fromBlock) continue;
      settled = (await publicClient.getLogs({ address: payment, event: taskCompleted, fromBlock, toBlock: head })).length;
    }
    const seconds = (performance.now() - started) / 1000;

    // Gas from the chain, not the worker's records: every oracle transaction that settled tasks.
    const oracleAddress: Address = oracle.account.address;
    const head = await publicClient.getBlockNumber();
    let gas = 0n;
    let transactions = 0;
    let counted = 0;
    for (let number = fromBlock; number <= head; number++) {
      const block = await publicClient.getBlock({ blockNumber: number, includeTransactions: true });
      for (const tx of block.transactions) {
        if (tx.from.toLowerCase() !== oracleAddress.toLowerCase() || tx.to?.toLowerCase() !== payment.toLowerCase()) continue;
        const receipt = await publicClient.getTransactionReceipt({ hash: tx.hash });
        const completions = receipt.logs.filter((log) => log.address.toLowerCase() === payment.toLowerCase() && log.topics[0] === TASK_COMPLETED_TOPIC).length;
        if (completions === 0) continue;
        gas += receipt.gasUsed;
        transactions += 1;
        counted += completions;
      }
    }
    if (counted !== settled) throw new Error(`${mode}: ${counted} TaskCompleted in settlement receipts, ${settled} in the logs`);
    return { mode, seconds, settled, transactions, gas };
  } finally {
    await oracle?.stop().catch((error: unknown) => console.error("oracle stop:", error));
    await chain.anvil.stop();
    // On Postgres each run has a schema of its own: leave none behind.
    if (process.env.DATABASE_URL && schema) {
      const sql = postgres(process.env.DATABASE_URL, { max: 1, onnotice: () => {} });
      await sql.unsafe(`drop schema if exists "${schema}" cascade`).catch(() => undefined);
      await sql.end();
    }
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const spread = (values: number[], digits: number) => `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

console.log(
  `oracle bench: ${TASKS} tasks per run, ${REPEATS} runs per mode, store ${process.env.DATABASE_URL ? "Postgres" : "PGlite (memory)"}, ` +
    `in-process stream, anvil automine, ORACLE_POLL_MS=50, ORACLE_MAX_IN_FLIGHT=16, batch size ${BATCH_SIZE}`,
);
const results: RunResult[] = [];
for (let repeat = 1; repeat <= REPEATS; repeat++) {
  for (const mode of Object.keys(MODES) as Mode[]) {
    const result = await run(mode);
    results.push(result);
    console.log(
      `  run ${repeat} ${mode}: ${result.settled} settled in ${result.seconds.toFixed(2)} s (${(result.settled / result.seconds).toFixed(1)} tasks/s), ` +
        `${result.transactions} transactions, ${result.gas} gas (${(result.gas / BigInt(result.settled)).toString()} per task)`,
    );
  }
}

const summary = (Object.keys(MODES) as Mode[]).map((mode) => {
  const runs = results.filter((result) => result.mode === mode);
  const rates = runs.map((result) => result.settled / result.seconds);
  const gasPerTask = runs.map((result) => Number(result.gas) / result.settled);
  const perTx = runs.map((result) => result.settled / result.transactions);
  return { mode, rates, gasPerTask, perTx, seconds: runs.map((result) => result.seconds) };
});
const single = summary.find((row) => row.mode === "single")!;
console.log("");
console.log("| mode | tasks per run | tasks/s median (min–max) | seconds median | tasks per transaction median | gas per task median (min–max) | gas vs single |");
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const row of summary) {
  console.log(
    `| ${row.mode} | ${TASKS} | ${median(row.rates).toFixed(1)} (${spread(row.rates, 1)}) | ${median(row.seconds).toFixed(2)} | ${median(row.perTx).toFixed(1)} | ` +
      `${Math.round(median(row.gasPerTask))} (${spread(row.gasPerTask, 0)}) | ${(median(row.gasPerTask) / median(single.gasPerTask)).toFixed(3)} |`,
  );
}
