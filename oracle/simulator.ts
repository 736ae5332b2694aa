/**
 * A stand-in for the GPU scheduler: funds users who deposit FAR and create tasks on chain,
 * asks the oracle (through the stream) to register the nodes, then posts task results at a
 * chosen rate, some of them twice and some of them failures. Deterministic for a given seed.
 */
import {
  encodeFunctionData,
  parseEther,
  toHex,
  type Address,
  type Hash,
  type Hex,
  type LocalAccount,
  type PublicClient,
} from "viem";
import { farTokenAbi, inferencePaymentAbi } from "../abis";
import { anvilAccount } from "../common/chain";
import { ConfigError } from "../common/errors";
import { readManifest } from "../contracts/deploy/manifest";
import type { SimulatorConfig } from "./config";
import type { Logger } from "./logger";
import type { TaskResultFields } from "./message";
import type { ModelTable } from "./pricing";
import type { ResultStream } from "./stream";
import { taskIdOf, taskSalt } from "../common/task";

/** `taskId` is what the chain derives from `user` and `salt` (common/task.ts), and what the scheduler reports. */
export type SimulatedTask = { taskId: Hex; salt: Hex; user: Address; escrow: bigint };

export type CreateSimulatorParameters = {
  publicClient: PublicClient;
  chainId: number;
  /** Holds FAR to hand out (the deployer on anvil). */
  funder: LocalAccount;
  users: LocalAccount[];
  nodes: Address[];
  token: Address;
  payment: Address;
  stream: ResultStream;
  models: ModelTable;
  seed?: number;
};

/** mulberry32: small, seedable, good enough to pick sizes and outcomes. */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createSimulator(parameters: CreateSimulatorParameters) {
  const { publicClient, stream, models, nodes } = parameters;
  const next = random(parameters.seed ?? 1);
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
  const firstNonce = new Map<Address, Promise<number>>();
  const sent = new Map<Address, number>();
  let taskCounter = 0;
  const runId = `${Date.now()}-${Math.floor(next() * 1e9)}`;

  /** Signs with explicit nonces so one account can have many transactions in flight. */
  async function send(account: LocalAccount, to: Address, data: Hex, gas = 300_000n): Promise<Hash> {
    // The offset is taken synchronously, so concurrent sends from one account never share a nonce.
    const offset = sent.get(account.address) ?? 0;
    sent.set(account.address, offset + 1);
    if (!firstNonce.has(account.address)) {
      firstNonce.set(account.address, publicClient.getTransactionCount({ address: account.address, blockTag: "pending" }));
    }
    const nonce = (await firstNonce.get(account.address)!) + offset;
    const fees = await publicClient.estimateFeesPerGas();
    const raw = await account.signTransaction({
      type: "eip1559",
      chainId: parameters.chainId,
      nonce,
      to,
      data,
      gas,
      maxFeePerGas: fees.maxFeePerGas * 2n,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    });
    return publicClient.sendRawTransaction({ serializedTransaction: raw });
  }

  async function confirmAll(hashes: Hash[]) {
    for (const hash of hashes) {
      const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 100 });
      if (receipt.status !== "success") throw new Error(`simulator transaction ${hash} reverted`);
    }
  }

  function result(task: SimulatedTask, status: "completed" | "failed"): TaskResultFields {
    const model = pick(Object.keys(models));
    const expected = models[model]!.tokensPerSecond;
    return {
      taskId: task.taskId,
      node: pick(nodes),
      model,
      tokensGenerated: String(10_000 + Math.floor(next() * 3_000_000)),
      status,
      uptime: (90 + next() * 10).toFixed(2),
      tokensPerSecond: (expected * (0.7 + next() * 0.6)).toFixed(2),
      expectedTokensPerSecond: String(expected),
      accuracy: (0.85 + next() * 0.15).toFixed(3),
      reportedAt: String(Date.now()),
    };
  }

  return {
    /** Gives each user FAR and deposits it into the payment contract. */
    async fundUsers(perUser: bigint) {
      const { funder, token, payment, users } = parameters;
      await confirmAll(
        await Promise.all(
          users.map((user) => send(funder, token, encodeFunctionData({ abi: farTokenAbi, functionName: "transfer", args: [user.address, perUser] }))),
        ),
      );
      const hashes: Hash[] = [];
      for (const user of users) {
        hashes.push(await send(user, token, encodeFunctionData({ abi: farTokenAbi, functionName: "approve", args: [payment, perUser] })));
        hashes.push(await send(user, payment, encodeFunctionData({ abi: inferencePaymentAbi, functionName: "deposit", args: [perUser] })));
      }
      await confirmAll(hashes);
    },

    /** Asks the oracle to register every node, and waits until the chain shows them active. */
    async registerNodes(timeoutMs = 60_000) {
      for (const node of nodes) await stream.publish({ op: "registerNode", opId: `sim:${node}`, node, owner: node });
      const deadline = Date.now() + timeoutMs;
      for (const node of nodes) {
        for (;;) {
          const [, , , , active] = await publicClient.readContract({ address: parameters.payment, abi: inferencePaymentAbi, functionName: "nodes", args: [node] });
          if (active) break;
          if (Date.now() > deadline) throw new Error(`node ${node} was not registered within ${timeoutMs} ms`);
          await sleep(200);
        }
      }
    },

    /** Creates `count` tasks on chain, spread over the users, escrowing 1..10 FAR each. */
    async createTasks(count: number): Promise<SimulatedTask[]> {
      const tasks: SimulatedTask[] = [];
      const hashes: Hash[] = [];
      const byUser = new Map<LocalAccount, SimulatedTask[]>();
      for (let i = 0; i < count; i++) {
        const user = parameters.users[i % parameters.users.length]!;
        const salt = taskSalt(`sim:${runId}:${taskCounter++}`);
        const task = { taskId: taskIdOf(user.address, salt), salt, user: user.address, escrow: parseEther(String(1 + Math.floor(next() * 10))) };
        tasks.push(task);
        byUser.set(user, [...(byUser.get(user) ?? []), task]);
      }
      await Promise.all(
        [...byUser].map(async ([user, own]) => {
          for (const task of own) {
            hashes.push(await send(user, parameters.payment, encodeFunctionData({ abi: inferencePaymentAbi, functionName: "createTask", args: [task.salt, task.escrow] })));
          }
        }),
      );
      await confirmAll(hashes);
      return tasks;
    },

    /**
     * Posts one result per task at `ratePerSecond` (0: as fast as possible); a share of them
     * report failure and a share is posted twice. Returns the fields posted per task.
     */
    async postResults(tasks: readonly SimulatedTask[], options: { ratePerSecond?: number; failureRate?: number; duplicateRate?: number } = {}) {
      const posted = new Map<Hex, TaskResultFields>();
      const interval = options.ratePerSecond ? 1000 / options.ratePerSecond : 0;
      for (const task of tasks) {
        const fields = result(task, next() < (options.failureRate ?? 0) ? "failed" : "completed");
        posted.set(task.taskId, fields);
        await stream.publish(fields);
        if (next() < (options.duplicateRate ?? 0)) await stream.publish(fields);
        if (interval) await sleep(interval);
      }
      return posted;
    },
  };
}

export type RunSimulatorParameters = {
  config: SimulatorConfig;
  publicClient: PublicClient;
  stream: ResultStream;
  log: Logger;
  signal?: AbortSignal;
};

/**
 * The scheduler simulator's whole life on a local anvil: fund users from the deployer, have the
 * oracle register the nodes, then create tasks and post their results in rounds until
 * `SIMULATOR_ROUNDS` is reached (0: until aborted).
 */
export async function runSimulator({ config, publicClient, stream, log, signal }: RunSimulatorParameters) {
  if (config.CHAIN !== "anvil") throw new ConfigError("The simulator funds users from the deployer: it runs on a local anvil only");
  const chainId = await publicClient.getChainId();
  const manifest = readManifest(config.DEPLOYMENTS_DIR, chainId);
  const users = Array.from({ length: config.SIMULATOR_USERS }, (_, i) => anvilAccount(10 + i) as LocalAccount);
  const nodes = Array.from({ length: config.SIMULATOR_NODES }, (_, i) => anvilAccount(40 + i).address);
  for (const user of users) {
    await publicClient.request({ method: "anvil_setBalance" as never, params: [user.address, toHex(parseEther("100"))] as never });
  }
  const simulator = createSimulator({
    publicClient,
    chainId,
    funder: anvilAccount(0) as LocalAccount,
    users,
    nodes,
    token: manifest.contracts.FARToken.address,
    payment: manifest.contracts.InferencePayment.address,
    stream,
    models: config.ORACLE_MODELS,
    seed: config.SIMULATOR_SEED,
  });
  await simulator.fundUsers(parseEther("100000"));
  log.info({ msg: "users funded; registering nodes through the oracle", users: users.length, nodes: nodes.length });
  await simulator.registerNodes();
  for (let round = 1; !signal?.aborted && (config.SIMULATOR_ROUNDS === 0 || round <= config.SIMULATOR_ROUNDS); round++) {
    const tasks = await simulator.createTasks(config.SIMULATOR_TASKS);
    await simulator.postResults(tasks, {
      ratePerSecond: config.SIMULATOR_RATE,
      failureRate: config.SIMULATOR_FAILURE_RATE,
      duplicateRate: config.SIMULATOR_DUPLICATE_RATE,
    });
    log.info({ msg: "round posted", round, tasks: tasks.length });
  }
}
