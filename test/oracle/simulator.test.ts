/**
 * The scheduler simulator on an anvil that mines on a clock, as under `npm start`: an
 * `anvil_reorg` that drops its createTask transactions neither stops it nor makes it report the
 * lost tasks, and a receipt that never comes (mining stopped) costs one timeout, not the run.
 */
import { nodeAddresses, userAccounts } from "../../common/chain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getAddress, parseEther, type Address, type Hex } from "viem";
import { inferencePaymentAbi } from "../../abis";
import { DEFAULT_MODELS } from "../../oracle/pricing";
import type { SimulatedTask } from "../../oracle/simulator";
import { createMemoryStream } from "../../oracle/stream";
import { reorg, startDeployedChain } from "../../harness/chain";
import type { Chain } from "../../harness/oracle";
import { simulatorOn } from "./helpers";
import { patience } from "../../harness/wait";

const RECEIPT_TIMEOUT_MS = 3_000;

describe("scheduler simulator, anvil mining every second", () => {
  let chain: Chain;
  let payment: Address;
  let simulator: ReturnType<typeof simulatorOn>;
  const memory = createMemoryStream();
  const published: Record<string, string>[] = [];

  beforeAll(async () => {
    chain = await startDeployedChain({ blockTime: 1 });
    payment = getAddress(chain.manifest.contracts.InferencePayment.address);
    simulator = simulatorOn(chain, {
      users: userAccounts(2),
      nodes: nodeAddresses(2),
      stream: { ...memory, publish: (fields) => (published.push(fields), memory.publish(fields)) },
      models: DEFAULT_MODELS,
      receiptTimeoutMs: RECEIPT_TIMEOUT_MS,
    });
    await simulator.fundUsers(parseEther("1000"));
  }, patience(60_000));
  afterAll(async () => {
    await chain?.anvil.stop();
  });

  /** The TaskCreated logs of these tasks on the canonical chain. */
  const createdLogs = async (tasks: readonly SimulatedTask[]) =>
    (await chain.publicClient.getContractEvents({ address: payment, abi: inferencePaymentAbi, eventName: "TaskCreated", fromBlock: 0n })).filter((log) =>
      tasks.some((task) => task.taskId === log.args.taskId),
    );
  const postedIds = () => new Set(published.map((fields) => fields.taskId as Hex));

  it("creates tasks and posts results after anvil_reorg dropped its transactions", async () => {
    const before = await simulator.createTasks(6);
    expect(before).toHaveLength(6);
    const logs = await createdLogs(before);
    expect(logs).toHaveLength(6);

    // Deep enough to take every block with one of these createTasks in it.
    const oldest = logs.reduce((lowest, log) => (log.blockNumber < lowest ? log.blockNumber : lowest), logs[0]!.blockNumber);
    const depth = Number((await chain.publicClient.getBlockNumber()) - oldest + 1n);
    await reorg(chain.publicClient, depth);
    for (const { transactionHash } of logs) {
      await expect(chain.publicClient.getTransaction({ hash: transactionHash }), transactionHash).rejects.toThrow(/could not be found/);
    }
    expect(await createdLogs(before)).toEqual([]);

    // The lost tasks get no result.
    const lost = await simulator.postResults(before, { recheck: true });
    expect(lost.size).toBe(0);
    expect(before.filter((task) => postedIds().has(task.taskId))).toEqual([]);

    // The account nonces the simulator counted on are gone with the blocks: within a few rounds
    // (each bounded by the receipt timeout) it signs from the chain's nonces again.
    const started = Date.now();
    let after: SimulatedTask[] = [];
    for (let round = 1; round <= 3 && after.length === 0; round++) after = await simulator.createTasks(4);
    expect(after.length).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(3 * (RECEIPT_TIMEOUT_MS + 5_000));
    expect(await createdLogs(after)).toHaveLength(after.length);
    const posted = await simulator.postResults(after, { recheck: true });
    expect([...posted.keys()].sort()).toEqual(after.map((task) => task.taskId).sort());

    // And the next round is whole again.
    const next = await simulator.createTasks(4);
    expect(next).toHaveLength(4);
  }, patience(90_000));

  it("gives up a receipt that does not come within the timeout, and carries on when blocks come again", async () => {
    const client = chain.testClient;
    await client.setIntervalMining({ interval: 0 });
    try {
      const started = Date.now();
      const stalled = await simulator.createTasks(3);
      expect(stalled).toEqual([]);
      expect(Date.now() - started).toBeLessThan(RECEIPT_TIMEOUT_MS + 5_000);
      // Dropped from the pool: they cannot land later, behind the simulator's back.
      expect(await client.getTxpoolStatus()).toEqual({ pending: 0, queued: 0 });
    } finally {
      await client.setIntervalMining({ interval: 1 });
    }
    const resumed = await simulator.createTasks(3);
    expect(resumed).toHaveLength(3);
    expect(await createdLogs(resumed)).toHaveLength(3);
  }, patience(60_000));
});
