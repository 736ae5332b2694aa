/**
 * `npx tsx bench/history.ts [--events N] [--quick]`
 *
 * A fixed local chain history for the indexing benchmark: the contracts deployed on anvil, then
 * rounds of traffic until at least N logs of the events the indexer handles were emitted
 * (100,000 by default, 5,000 with --quick). Saved under bench/data/history-<N>/ as anvil's state
 * dump plus the deployment manifest, so every run indexes the very same chain; reused if present.
 *
 * One block per round, 300 s apart, so the history spans hours and days the way revenue buckets
 * expect: every user transfers and creates a task; the oracle settles the previous round's tasks
 * in one batch (and fails one); some users deposit, withdraw, stake, unstake and claim; now and
 * then the price moves, a node is rated, deactivated or re-registered. Automine is off and the
 * transactions are sent unsigned from anvil's unlocked accounts with fixed gas, so a round costs
 * one block and no signing or estimation.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { encodeFunctionData, getAddress, maxUint256, toHex, type Address, type Hex, type PublicClient } from "viem";
import { farTokenAbi, inferencePaymentAbi, mockPriceFeedAbi } from "../abis";
import { anvilAccount, anvilTestClient, USER_ACCOUNT_OFFSET, userAccounts } from "../common/chain";
import { writeManifest, type DeploymentManifest } from "../contracts/deploy/manifest";
import { FAR, startDeployedChain, TEST_STAKE_LOCK_SECONDS } from "../harness/chain";
import { benchArgs } from "./args";
import { handledTopics } from "./indexing/events";
import { taskIdOf, taskSalt } from "../domain/tasks";

const DATA_DIR = join(dirname(fileURLToPath(import.meta.url)), "data");
const USERS = 40;
const NODES = 4;
/** Nodes follow the 40 users, past the usual NODE_ACCOUNT_OFFSET: the history needs more users than fit below it. */
const NODE_OFFSET = USER_ACCOUNT_OFFSET + USERS;
const ROUND_SECONDS = 300;
/** Ponder backfills up to head − 30 on anvil; these empty blocks put every event in the backfill. */
const TRAILING_BLOCKS = 64;

export type History = {
  /** bench/data/history-<N>/, where the history is saved once and loaded by every run after. */
  dir: string;
  /** anvil's `--dump-state` file of the whole chain. */
  statePath: string;
  /** The deployment manifest's folder, as DEPLOYMENTS_DIR takes it. */
  deploymentsDir: string;
  manifest: DeploymentManifest;
  /** Logs of handled events from the indexed contracts, constructor events included. */
  events: number;
  byEvent: Record<string, number>;
  transactions: number;
  firstBlock: number;
  lastEventBlock: number;
  headBlock: number;
  buildSeconds: number;
};

type Meta = Omit<History, "dir" | "statePath" | "deploymentsDir" | "manifest">;

function historyDir(targetEvents: number) {
  return join(DATA_DIR, `history-${targetEvents}`);
}

/** The saved history for `targetEvents`, built first if there is none. */
export async function ensureHistory(targetEvents: number, log: (line: string) => void = () => {}): Promise<History> {
  const dir = historyDir(targetEvents);
  const statePath = join(dir, "state.json");
  const deploymentsDir = join(dir, "deployments");
  const metaPath = join(dir, "meta.json");
  if (!existsSync(metaPath)) {
    log(`building a history of ≥ ${targetEvents} events in ${dir}`);
    await rm(dir, { recursive: true, force: true });
    // Built beside and renamed, so an interrupted build is never mistaken for a finished one.
    const building = `${dir}.building`;
    await rm(building, { recursive: true, force: true });
    await mkdir(building, { recursive: true });
    const meta = await buildHistory(targetEvents, building, log);
    await writeFile(join(building, "meta.json"), `${JSON.stringify(meta, null, 2)}\n`);
    await rename(building, dir);
  }
  const meta = JSON.parse(await readFile(metaPath, "utf8")) as Meta;
  const manifest = JSON.parse(await readFile(join(deploymentsDir, "31337.json"), "utf8")) as DeploymentManifest;
  return { dir, statePath, deploymentsDir, manifest, ...meta };
}

async function buildHistory(targetEvents: number, dir: string, log: (line: string) => void): Promise<Meta> {
  const started = performance.now();
  const statePath = join(dir, "state.json");
  // anvil writes the dump when it exits; a block gas limit well above a round's fixed gas keeps
  // every round's transactions in its one block.
  const chain = await startDeployedChain({
    dumpState: statePath,
    accounts: NODE_OFFSET + NODES,
    extraArgs: ["--gas-limit", "300000000"],
  });
  try {
    await writeManifest(join(dir, "deployments"), chain.manifest);
    const counts = await generate(chain.publicClient, chain.manifest, targetEvents, log);
    return { ...counts, buildSeconds: (performance.now() - started) / 1000 };
  } finally {
    await chain.anvil.stop();
  }
}

async function generate(publicClient: PublicClient, manifest: DeploymentManifest, targetEvents: number, log: (line: string) => void) {
  const token = getAddress(manifest.contracts.FARToken.address);
  const payment = getAddress(manifest.contracts.InferencePayment.address);
  const feed = getAddress(manifest.contracts.PriceFeed.address);
  const admin = anvilAccount(0).address;
  const oracle = anvilAccount(1).address;
  const users = userAccounts(USERS).map((account) => account.address);
  const nodes = Array.from({ length: NODES }, (_, i) => anvilAccount(NODE_OFFSET + i).address);
  const watched = new Set([token, payment, feed]);
  const testClient = anvilTestClient(publicClient);

  let transactions = 0;
  const send = async (from: Address, to: Address, data: Hex, gas: bigint) => {
    await testClient.sendUnsignedTransaction({ from, to, data, gas });
    transactions += 1;
  };
  const topics = handledTopics();
  const byEvent: Record<string, number> = {};
  let events = 0;
  let lastEventBlock = 0;
  const firstBlock = Math.min(manifest.deployBlock, manifest.contracts.PriceFeed.deployBlock);
  let countedTo = BigInt(firstBlock) - 1n;
  const sentAfter = await publicClient.getBlockNumber();
  let mined = 0;
  // Counts the new blocks' handled logs, and that every transaction sent was mined and succeeded.
  const mine = async () => {
    await testClient.mine({ blocks: 1 });
    const head = await publicClient.getBlockNumber();
    for (let number = countedTo + 1n; number <= head; number++) {
      const receipts = (await publicClient.request({ method: "eth_getBlockReceipts", params: [toHex(number)] })) ?? [];
      for (const receipt of receipts) {
        if (number > sentAfter) {
          if (receipt.status !== "0x1") throw new Error(`a history transaction reverted in block ${number}`);
          mined += 1;
        }
        for (const entry of receipt.logs) {
          const name = entry.topics[0] ? topics.get(entry.topics[0]) : undefined;
          if (!name || !watched.has(getAddress(entry.address))) continue;
          byEvent[name] = (byEvent[name] ?? 0) + 1;
          events += 1;
          lastEventBlock = Number(number);
        }
      }
    }
    countedTo = head;
  };
  const settle = (taskIds: Hex[], round: number) =>
    taskIds.map((taskId, i) => ({
      taskId,
      node: nodes[round % 3]!,
      actualCost: 5n * FAR + BigInt(i),
      performanceScore: BigInt((round * 7 + i * 13) % 101),
    }));

  await testClient.setAutomine(false);
  try {
    // The deploy's own blocks (constructor events) count too.
    await mine();
    for (const user of users) await send(admin, token, encodeFunctionData({ abi: farTokenAbi, functionName: "transfer", args: [user, 1_000_000n * FAR] }), 100_000n);
    for (const node of nodes) await send(oracle, payment, encodeFunctionData({ abi: inferencePaymentAbi, functionName: "registerNode", args: [node, node] }), 200_000n);
    await mine();
    await Promise.all(
      users.map(async (user) => {
        await send(user, token, encodeFunctionData({ abi: farTokenAbi, functionName: "approve", args: [payment, maxUint256] }), 100_000n);
        await send(user, payment, encodeFunctionData({ abi: inferencePaymentAbi, functionName: "deposit", args: [500_000n * FAR] }), 150_000n);
        await send(user, token, encodeFunctionData({ abi: farTokenAbi, functionName: "stake", args: [1_000n * FAR] }), 250_000n);
      }),
    );
    await mine();
    // Past the initial stakes' lock once (a day, the token's minimum), so the unstaking half can
    // unstake from the first round on and even a quick history has every kind of event.
    await testClient.increaseTime({ seconds: TEST_STAKE_LOCK_SECONDS });
    await mine();
    await testClient.setBlockTimestampInterval({ interval: ROUND_SECONDS });

    let openTasks: Hex[] = [];
    for (let round = 0; events < targetEvents; round++) {
      const created: Hex[] = [];
      const oracleWork = async () => {
        if (openTasks.length === 0) return;
        // One task of the previous round fails (blaming its node); the batch settles the rest.
        const [failed, ...rest] = openTasks;
        await send(oracle, payment, encodeFunctionData({ abi: inferencePaymentAbi, functionName: "failTask", args: [failed!, nodes[round % 3]!] }), 200_000n);
        await send(oracle, payment, encodeFunctionData({ abi: inferencePaymentAbi, functionName: "completeTasks", args: [settle(rest, round)] }), 10_000_000n);
        if (round % 10 === 5) {
          await send(oracle, payment, encodeFunctionData({ abi: inferencePaymentAbi, functionName: "updateNodeRating", args: [nodes[0]!, BigInt(40 + (round % 60))] }), 100_000n);
        }
        // Node 3 takes no settlements, so it can come and go without failing a batch.
        if (round % 50 === 20) await send(oracle, payment, encodeFunctionData({ abi: inferencePaymentAbi, functionName: "deactivateNode", args: [nodes[3]!] }), 100_000n);
        if (round % 50 === 21) await send(oracle, payment, encodeFunctionData({ abi: inferencePaymentAbi, functionName: "registerNode", args: [nodes[3]!, nodes[3]!] }), 200_000n);
      };
      const userWork = users.map(async (user, i) => {
        await send(user, token, encodeFunctionData({ abi: farTokenAbi, functionName: "transfer", args: [users[(i + 1 + round) % USERS]!, FAR + BigInt(round)] }), 100_000n);
        const salt = taskSalt(`bench-history-${round}-${i}`);
        await send(user, payment, encodeFunctionData({ abi: inferencePaymentAbi, functionName: "createTask", args: [salt, 10n * FAR] }), 200_000n);
        created[i] = taskIdOf(user, salt);
        // The first half of the users keep staking (which renews their lock); the second half
        // staked once at the start and unstake a little once that lock has run out.
        if (i === round % (USERS / 2)) {
          await send(user, token, encodeFunctionData({ abi: farTokenAbi, functionName: "stake", args: [10n * FAR] }), 250_000n);
        }
        if (i === USERS / 2 + (round % (USERS / 2))) {
          await send(user, token, encodeFunctionData({ abi: farTokenAbi, functionName: "unstake", args: [FAR] }), 250_000n);
        }
        if (i === (round * 3) % USERS && round > 0) {
          await send(user, token, encodeFunctionData({ abi: farTokenAbi, functionName: "claimRewards" }), 250_000n);
        }
        if (i === (round * 7) % USERS) {
          await send(user, payment, encodeFunctionData({ abi: inferencePaymentAbi, functionName: "deposit", args: [20n * FAR] }), 150_000n);
        }
        if (i === (round * 11 + 5) % USERS) {
          await send(user, payment, encodeFunctionData({ abi: inferencePaymentAbi, functionName: "withdraw", args: [FAR] }), 150_000n);
        }
      });
      const priceWork = async () => {
        if (round % 10 === 0) {
          await send(admin, feed, encodeFunctionData({ abi: mockPriceFeedAbi, functionName: "updateAnswer", args: [25_000_000n + BigInt((round * 37) % 1000) * 10_000n] }), 100_000n);
        }
      };
      await Promise.all([oracleWork(), priceWork(), ...userWork]);
      await mine();
      openTasks = created;
      if (round % 50 === 0) log(`  round ${round}: ${events} events, block ${countedTo}`);
    }
    await testClient.mine({ blocks: TRAILING_BLOCKS });
    await mine();
    if (mined !== transactions) throw new Error(`${transactions - mined} of the ${transactions} history transactions were not mined`);
    return { events, byEvent, transactions, firstBlock, lastEventBlock, headBlock: Number(countedTo) };
  } finally {
    await testClient.setAutomine(true);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { quick, events } = benchArgs({ events: { type: "string" } });
  const target = Number(events ?? (quick ? 5_000 : 100_000));
  const history = await ensureHistory(target, console.log);
  console.log(
    `history: ${history.events} events, ${history.transactions} transactions, blocks ${history.firstBlock}–${history.headBlock} ` +
      `(last event in ${history.lastEventBlock}), built in ${history.buildSeconds.toFixed(1)} s, in ${history.dir}`,
  );
  console.log(JSON.stringify(history.byEvent, null, 2));
}
