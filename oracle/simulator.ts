/**
 * A stand-in for the GPU scheduler: funds users who deposit FAR and create tasks on chain,
 * asks the oracle (through the stream) to register the nodes, then posts task results at a
 * chosen rate, some of them twice and some of them failures. Deterministic for a given seed.
 *
 * Its transactions go through a viem wallet client whose accounts share a nonce manager. A
 * transaction not mined within `receiptTimeoutMs`, or lost to a reorg, is dropped from anvil's
 * pool and its account's nonce is read from the chain again: the simulator carries on instead
 * of waiting forever behind a nonce gap. Results are posted only for tasks whose TaskCreated
 * was mined (and, with `recheck`, is still on chain when the result goes out).
 */
import {
  createWalletClient,
  encodeFunctionData,
  parseEther,
  parseEventLogs,
  type Address,
  type Hash,
  type Hex,
  type LocalAccount,
  type PublicClient,
  type TransactionReceipt,
} from "viem";
import { createNonceManager, jsonRpc } from "viem/nonce";
import { farTokenAbi, inferencePaymentAbi } from "../abis";
import { anvilAccount, anvilTestClient, nodeAddresses, transportOf, userAccounts } from "../common/chain";
import { isLocalChain } from "../common/config";
import { BaseError, ConfigError } from "../common/errors";
import { seededRandom } from "../common/random";
import { readManifest } from "../contracts/deploy/manifest";
import type { SimulatorConfig } from "./config";
import type { Logger } from "../common/logger";
import type { TaskResultFields } from "./message";
import type { ModelTable } from "./pricing";
import type { ResultStream } from "./stream";
import { taskIdOf, taskSalt } from "../domain/tasks";

/** `taskId` is what the chain derives from `user` and `salt` (domain/tasks.ts), and what the scheduler reports. */
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
  /** How long a transaction may stay unmined before the simulator gives it up (default 20 s). */
  receiptTimeoutMs?: number;
  logger?: Logger;
};

class SimulatorError extends BaseError {
  override name = "SimulatorError";
}

/** Funding rounds before fundUsers gives up: each one re-reads the chain and sends what is still missing. */
const FUNDING_ATTEMPTS = 5;
/** Explicit, so that a transaction can be signed before the one it depends on (approve → deposit) is mined. */
const GAS = 300_000n;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Call = { to: Address; data: Hex };


export function createSimulator(parameters: CreateSimulatorParameters) {
  const { publicClient, stream, models, nodes, chainId, payment, logger } = parameters;
  const receiptTimeoutMs = parameters.receiptTimeoutMs ?? 20_000;
  const random = seededRandom(parameters.seed ?? 1);
  const { next } = random;
  const pick = <T>(items: readonly T[]) => random.pick(items)!;
  let taskCounter = 0;
  const runId = `${Date.now()}-${Math.floor(next() * 1e9)}`;

  // The simulator's own nonce manager: another simulator in this process (tests, benches) may
  // sign for the same anvil addresses on another chain with the same id.
  const nonceManager = createNonceManager({ source: jsonRpc() });
  const withNonces = (account: LocalAccount): LocalAccount => ({ ...account, nonceManager });
  const funder = withNonces(parameters.funder);
  const users = new Map(parameters.users.map((user) => [user.address, withNonces(user)]));
  const wallet = createWalletClient({ chain: publicClient.chain, transport: transportOf(publicClient) });
  const testClient = anvilTestClient(publicClient);

  /** Sends `call` from `account`; undefined when the node refused it (the nonce is read from the chain again). */
  async function send(account: LocalAccount, call: Call): Promise<Hash | undefined> {
    try {
      return await wallet.sendTransaction({ account, chain: publicClient.chain, ...call, gas: GAS });
    } catch (error) {
      logger?.warn({ msg: "simulator transaction refused; nonce re-read from the chain", from: account.address, error: String(error) });
      nonceManager.reset({ address: account.address, chainId });
      return undefined;
    }
  }

  /**
   * The receipt of `hash` itself, or undefined when it was not mined within the timeout or its
   * nonce went to another transaction (a reorg dropped it and the nonce was used again). Either
   * way it is removed from anvil's pool, so that it cannot land later behind the simulator's
   * back, and the accounts' next nonces are read from the chain.
   */
  async function mined(account: LocalAccount, hash: Hash): Promise<TransactionReceipt | undefined> {
    const receipt = await publicClient.waitForTransactionReceipt({ hash, timeout: receiptTimeoutMs, pollingInterval: 100 }).catch(() => undefined);
    if (receipt?.transactionHash === hash) return receipt;
    logger?.warn({ msg: "simulator transaction not mined in time or lost; dropped, nonces re-read from the chain", hash, from: account.address });
    await testClient.dropTransaction({ hash }).catch(() => undefined);
    // Most likely a reorg, which takes back the nonces of every account with a transaction in
    // the lost blocks, not only this one's: all of them count from the chain again.
    for (const address of [funder.address, ...users.keys()]) nonceManager.reset({ address, chainId });
    return undefined;
  }

  async function submit(account: LocalAccount, call: Call) {
    const hash = await send(account, call);
    return hash && mined(account, hash);
  }

  /** Whether the chain (its latest block) holds `task`, in any state. */
  async function onChain(task: SimulatedTask) {
    const [, , , , status] = await publicClient.readContract({ address: payment, abi: inferencePaymentAbi, functionName: "tasks", args: [task.taskId] });
    return status !== 0;
  }

  const createdIn = (receipt: TransactionReceipt, task: SimulatedTask) =>
    receipt.status === "success" &&
    parseEventLogs({ abi: inferencePaymentAbi, logs: receipt.logs, eventName: "TaskCreated" }).some((event) => event.args.taskId === task.taskId);

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
    /**
     * Gives each user `perUser` FAR more in the payment contract: transfer, approve, deposit.
     * Each attempt reads what is still missing from the chain, so a transaction lost on the way
     * (or one that landed after all) neither stops funding nor funds twice.
     */
    async fundUsers(perUser: bigint) {
      const { token } = parameters;
      const read = {
        deposited: (user: Address) => publicClient.readContract({ address: payment, abi: inferencePaymentAbi, functionName: "userBalances", args: [user] }),
        balance: (user: Address) => publicClient.readContract({ address: token, abi: farTokenAbi, functionName: "balanceOf", args: [user] }),
        allowance: (user: Address) => publicClient.readContract({ address: token, abi: farTokenAbi, functionName: "allowance", args: [user, payment] }),
      };
      await Promise.all(
        [...users.values()].map(async (user) => {
          const target = (await read.deposited(user.address)) + perUser;
          for (let attempt = 1; ; attempt++) {
            const missing = target - (await read.deposited(user.address));
            if (missing <= 0n) return;
            if (attempt > FUNDING_ATTEMPTS) throw new SimulatorError(`could not fund ${user.address} in ${FUNDING_ATTEMPTS} attempts`, { details: `${missing} wei still missing` });
            const balance = await read.balance(user.address);
            if (balance < missing) await submit(funder, { to: token, data: encodeFunctionData({ abi: farTokenAbi, functionName: "transfer", args: [user.address, missing - balance] }) });
            // Approve and deposit go out back to back: the explicit gas needs no estimate against the unmined approval.
            const approval = (await read.allowance(user.address)) < missing ? await send(user, { to: token, data: encodeFunctionData({ abi: farTokenAbi, functionName: "approve", args: [payment, missing] }) }) : undefined;
            const deposit = await send(user, { to: payment, data: encodeFunctionData({ abi: inferencePaymentAbi, functionName: "deposit", args: [missing] }) });
            await Promise.all([approval && mined(user, approval), deposit && mined(user, deposit)]);
          }
        }),
      );
    },

    /** Asks the oracle to register every node, and waits until the chain shows them active. */
    async registerNodes(timeoutMs = 60_000) {
      for (const node of nodes) await stream.publish({ op: "registerNode", opId: `sim:${node}`, node, owner: node });
      const deadline = Date.now() + timeoutMs;
      for (const node of nodes) {
        for (;;) {
          const [, , , , active] = await publicClient.readContract({ address: payment, abi: inferencePaymentAbi, functionName: "nodes", args: [node] });
          if (active) break;
          if (Date.now() > deadline) throw new SimulatorError(`node ${node} was not registered within ${timeoutMs} ms`);
          await sleep(200);
        }
      }
    },

    /**
     * Creates up to `count` tasks on chain, spread over the users, escrowing 1..10 FAR each.
     * Returns the tasks whose TaskCreated was mined; one whose createTask was lost (not mined
     * in time, refused, reorged away) is left out, so no result is ever posted for it.
     */
    async createTasks(count: number): Promise<SimulatedTask[]> {
      const byUser = new Map<LocalAccount, SimulatedTask[]>();
      for (let i = 0; i < count; i++) {
        const user = users.get(parameters.users[i % parameters.users.length]!.address)!;
        const salt = taskSalt(`sim:${runId}:${taskCounter++}`);
        const task = { taskId: taskIdOf(user.address, salt), salt, user: user.address, escrow: parseEther(String(1 + Math.floor(next() * 10))) };
        byUser.set(user, [...(byUser.get(user) ?? []), task]);
      }
      const created = await Promise.all(
        [...byUser].map(async ([user, own]) => {
          // Sent one after another, so each account's nonces go out in order; mined together.
          const hashes: (Hash | undefined)[] = [];
          for (const task of own) {
            hashes.push(await send(user, { to: payment, data: encodeFunctionData({ abi: inferencePaymentAbi, functionName: "createTask", args: [task.salt, task.escrow] }) }));
          }
          const receipts = await Promise.all(hashes.map((hash) => hash && mined(user, hash)));
          return Promise.all(own.map(async (task, i) => ((receipts[i] ? createdIn(receipts[i], task) : await onChain(task)) ? [task] : [])));
        }),
      );
      return created.flat(2);
    },

    /**
     * Posts one result per task at `ratePerSecond` (0: as fast as possible); a share of them
     * report failure and a share is posted twice. Returns the fields posted per task.
     * `recheck`: each task is read on chain just before its result, and one a reorg took away
     * since createTasks is skipped (that read needs the chain: without it, results go out even
     * while the RPC is away, as a scheduler's would).
     */
    async postResults(tasks: readonly SimulatedTask[], options: { ratePerSecond?: number; failureRate?: number; duplicateRate?: number; recheck?: boolean } = {}) {
      const posted = new Map<Hex, TaskResultFields>();
      const interval = options.ratePerSecond ? 1000 / options.ratePerSecond : 0;
      for (const task of tasks) {
        if (options.recheck && !(await onChain(task))) {
          logger?.warn({ msg: "task no longer on chain; no result posted", taskId: task.taskId });
          continue;
        }
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
  logger: Logger;
  signal?: AbortSignal;
};

/**
 * The scheduler simulator's whole life on a local anvil: fund users from the deployer, have the
 * oracle register the nodes, then create tasks and post their results in rounds until
 * `SIMULATOR_ROUNDS` is reached (0: until aborted).
 */
export async function runSimulator({ config, publicClient, stream, logger, signal }: RunSimulatorParameters) {
  if (!isLocalChain(config.CHAIN)) throw new ConfigError("The simulator funds users from the deployer: it runs on a local anvil only");
  const chainId = await publicClient.getChainId();
  const manifest = readManifest(config.DEPLOYMENTS_DIR, chainId);
  const users = userAccounts(config.SIMULATOR_USERS);
  const nodes = nodeAddresses(config.SIMULATOR_NODES);
  const testClient = anvilTestClient(publicClient);
  for (const user of users) await testClient.setBalance({ address: user.address, value: parseEther("100") });
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
    logger,
  });
  await simulator.fundUsers(parseEther("100000"));
  logger.info({ msg: "users funded; registering nodes through the oracle", users: users.length, nodes: nodes.length });
  await simulator.registerNodes();
  for (let round = 1; !signal?.aborted && (config.SIMULATOR_ROUNDS === 0 || round <= config.SIMULATOR_ROUNDS); round++) {
    // A failed round (the RPC away for a moment) is not the end of the traffic.
    const posted = await simulator
      .createTasks(config.SIMULATOR_TASKS)
      .then((tasks) =>
        simulator.postResults(tasks, {
          ratePerSecond: config.SIMULATOR_RATE,
          failureRate: config.SIMULATOR_FAILURE_RATE,
          duplicateRate: config.SIMULATOR_DUPLICATE_RATE,
          // npm start's chain mines on a clock and may be reorged under it (anvil_reorg).
          recheck: true,
        }),
      )
      .catch((error: unknown) => (logger.warn({ msg: "round failed", round, error: String(error) }), new Map()));
    logger.info({ msg: "round posted", round, posted: posted.size });
    // A round that got nothing onto the chain (RPC down, every send refused) waits before the next.
    if (posted.size === 0) await sleep(1000);
  }
}
