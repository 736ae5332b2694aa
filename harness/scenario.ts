/**
 * A seeded random workload on the deployed contracts: many accounts transfer, deposit, create
 * tasks, stake, unstake, claim and burn; the oracle settles tasks (singly and in batches), fails
 * them, registers, deactivates and rates nodes; time jumps across hour and day boundaries.
 * Actions the contracts would refuse are skipped at gas estimation, so nothing reverts on chain.
 */
import {
  createWalletClient,
  getAddress,
  http,
  maxUint256,
  type Address,
  type Hex,
  type PublicClient,
} from "viem";
import { farTokenAbi, inferencePaymentAbi, mockPriceFeedAbi } from "../abis";
import { anvilAccount, anvilTestClient, nodeAddresses, userAccounts } from "../common/chain";
import { seededRandom } from "../common/random";
import type { DeploymentManifest } from "../contracts/deploy/manifest";
import { FAR, TEST_STAKE_LOCK_SECONDS } from "./chain";
import { waitUntil } from "./wait";
import { taskIdOf, taskSalt } from "../domain/tasks";

export type RunScenarioParameters = {
  rpcUrl: string;
  publicClient: PublicClient;
  manifest: DeploymentManifest;
  seed: number;
  steps: number;
  /** Offsets the task ids, so two runs on one chain never collide. */
  label?: string;
  userCount?: number;
  nodeCount?: number;
};

export type ScenarioResult = { sent: number; skipped: number; users: Address[]; nodes: Address[]; taskIds: Hex[] };

export async function runScenario(parameters: RunScenarioParameters): Promise<ScenarioResult> {
  const { publicClient, manifest } = parameters;
  const random = seededRandom(parameters.seed);
  const token = getAddress(manifest.contracts.FARToken.address);
  const payment = getAddress(manifest.contracts.InferencePayment.address);
  const feed = getAddress(manifest.contracts.PriceFeed.address);
  const transport = http(parameters.rpcUrl);
  const testClient = anvilTestClient(publicClient);
  // Anvil's accounts are unlocked: sending as them needs no signing in the test process.
  const wallet = createWalletClient({ chain: publicClient.chain!, transport });
  const admin = anvilAccount(0).address;
  const oracle = anvilAccount(1).address;
  const users = userAccounts(parameters.userCount ?? 12).map((account) => account.address);
  const nodes = nodeAddresses(parameters.nodeCount ?? 4);
  const openTasks: { id: Hex; user: Address; escrow: bigint }[] = [];
  const taskIds: Hex[] = [];
  let sent = 0;
  let skipped = 0;
  let taskCounter = 0;

  type Call = { account: Address; address: Address; abi: typeof farTokenAbi | typeof inferencePaymentAbi | typeof mockPriceFeedAbi; functionName: string; args: readonly unknown[] };
  const send = async (call: Call): Promise<boolean> => {
    try {
      // Anvil mines a reverting transaction sent without a gas limit; estimating first skips it.
      const gas = await publicClient.estimateContractGas(call as never);
      await wallet.writeContract({ ...(call as object), gas, chain: publicClient.chain } as never);
      sent += 1;
      return true;
    } catch {
      skipped += 1;
      return false;
    }
  };
  const read = (address: Address, abi: Call["abi"], functionName: string, args: readonly unknown[]) =>
    publicClient.readContract({ address, abi: abi as never, functionName: functionName as never, args: args as never }) as Promise<unknown>;
  const tokenBalance = async (owner: Address) => (await read(token, farTokenAbi, "balanceOf", [owner])) as bigint;
  const depositBalance = async (owner: Address) => (await read(payment, inferencePaymentAbi, "userBalances", [owner])) as bigint;
  const staked = async (owner: Address) => (await read(token, farTokenAbi, "stakingBalance", [owner])) as bigint;
  const warp = async (seconds: number) => {
    await testClient.increaseTime({ seconds });
    await testClient.mine({ blocks: 1 });
  };
  const settlement = (task: { id: Hex; escrow: bigint }, node: Address) => ({
    taskId: task.id,
    node,
    actualCost: random.amount(task.escrow),
    performanceScore: BigInt(random.int(101)),
  });
  const takeOpenTask = () => {
    if (openTasks.length === 0) return undefined;
    return openTasks.splice(random.int(openTasks.length), 1)[0];
  };

  for (const user of users) {
    await send({ account: admin, address: token, abi: farTokenAbi, functionName: "transfer", args: [user, 1_000_000n * FAR] });
    await send({ account: user, address: token, abi: farTokenAbi, functionName: "approve", args: [payment, maxUint256] });
  }
  for (const node of nodes.slice(0, 2)) {
    await send({ account: oracle, address: payment, abi: inferencePaymentAbi, functionName: "registerNode", args: [node, node] });
  }

  const actions: [weight: number, run: () => Promise<unknown>][] = [
    [6, async () => { const from = random.pick(users)!; const to = random.pick([...users, ...nodes])!; return send({ account: from, address: token, abi: farTokenAbi, functionName: "transfer", args: [to, random.amount((await tokenBalance(from)) / 10n)] }); }],
    [8, async () => { const user = random.pick(users)!; return send({ account: user, address: payment, abi: inferencePaymentAbi, functionName: "deposit", args: [random.amount((await tokenBalance(user)) / 20n)] }); }],
    [2, async () => { const user = random.pick(users)!; return send({ account: user, address: payment, abi: inferencePaymentAbi, functionName: "withdraw", args: [random.amount(await depositBalance(user))] }); }],
    [14, async () => {
      const user = random.pick(users)!;
      const escrow = random.amount((await depositBalance(user)) / 4n);
      const salt = taskSalt(`${parameters.label ?? "scenario"}-${parameters.seed}-${taskCounter++}`);
      const id = taskIdOf(user, salt);
      if (await send({ account: user, address: payment, abi: inferencePaymentAbi, functionName: "createTask", args: [salt, escrow] })) {
        openTasks.push({ id, user, escrow });
        taskIds.push(id);
      }
    }],
    [8, async () => {
      const task = takeOpenTask();
      if (!task) return;
      const ok = await send({ account: oracle, address: payment, abi: inferencePaymentAbi, functionName: "completeTask", args: Object.values(settlement(task, random.pick(nodes)!)) });
      if (!ok) openTasks.push(task);
    }],
    [4, async () => {
      const batch = Array.from({ length: 1 + random.int(6) }, takeOpenTask).filter((task) => task !== undefined);
      if (batch.length === 0) return;
      const node = random.pick(nodes)!;
      const ok = await send({ account: oracle, address: payment, abi: inferencePaymentAbi, functionName: "completeTasks", args: [batch.map((task) => settlement(task, node))] });
      if (!ok) openTasks.push(...batch);
    }],
    [2, async () => {
      const task = takeOpenTask();
      if (!task) return;
      if (!(await send({ account: oracle, address: payment, abi: inferencePaymentAbi, functionName: "failTask", args: [task.id, random.pick(nodes)!] }))) openTasks.push(task);
    }],
    [1, async () => {
      const task = takeOpenTask();
      if (!task) return;
      await warp(3601);
      if (!(await send({ account: task.user, address: payment, abi: inferencePaymentAbi, functionName: "cancelTask", args: [task.id] }))) openTasks.push(task);
    }],
    [6, async () => { const user = random.pick(users)!; return send({ account: user, address: token, abi: farTokenAbi, functionName: "stake", args: [random.amount((await tokenBalance(user)) / 10n)] }); }],
    [3, async () => {
      const user = random.pick(users)!;
      if (random.next() < 0.5) await warp(TEST_STAKE_LOCK_SECONDS + 1);
      return send({ account: user, address: token, abi: farTokenAbi, functionName: "unstake", args: [random.amount(await staked(user))] });
    }],
    [3, async () => send({ account: random.pick(users)!, address: token, abi: farTokenAbi, functionName: "claimRewards", args: [] })],
    [1, async () => { const user = random.pick(users)!; return send({ account: user, address: token, abi: farTokenAbi, functionName: "burn", args: [random.amount((await tokenBalance(user)) / 100n)] }); }],
    [1, async () => send({ account: oracle, address: payment, abi: inferencePaymentAbi, functionName: "registerNode", args: [random.pick(nodes)!, random.pick([...nodes, ...users])!] })],
    [1, async () => send({ account: oracle, address: payment, abi: inferencePaymentAbi, functionName: "deactivateNode", args: [random.pick(nodes)!] })],
    [2, async () => send({ account: oracle, address: payment, abi: inferencePaymentAbi, functionName: "updateNodeRating", args: [random.pick(nodes)!, BigInt(random.int(101))] })],
    [1, async () => send({ account: admin, address: token, abi: farTokenAbi, functionName: "setRewardRate", args: [BigInt(random.int(2000))] })],
    [2, async () => send({ account: admin, address: feed, abi: mockPriceFeedAbi, functionName: "updateAnswer", args: [BigInt(10_000_000 + random.int(90_000_000))] })],
    [3, async () => warp(random.int(4 * 3600))],
  ];
  const totalWeight = actions.reduce((sum, [weight]) => sum + weight, 0);
  for (let step = 0; step < parameters.steps; step++) {
    let roll = random.int(totalWeight);
    const action = actions.find(([weight]) => (roll -= weight) < 0)!;
    await action[1]();
  }
  // What the scenario sent is on chain when it returns: a transaction still in the pool (seen
  // after a long history) would land later, under a suite that already compares the chain.
  let pool = { pending: 0, queued: 0 };
  await waitUntil(
    async () => {
      pool = await testClient.getTxpoolStatus();
      return pool.pending === 0 && pool.queued === 0;
    },
    "anvil's transaction pool to empty",
    60_000,
    200,
  ).catch((error: Error) => {
    throw new Error(`${error.message}: it still holds ${pool.pending} pending and ${pool.queued} queued transactions`);
  });
  return { sent, skipped, users, nodes, taskIds };
}
