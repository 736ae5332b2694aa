/**
 * Fault scenarios against real Redis and Postgres with the worker in process: bad messages,
 * an outside transaction on the oracle key, a stuck transaction under a fee spike (automine
 * off), a mempool drop, a reorg, anvil not answering for 10 s, and two replicas racing for the
 * key. After each, every task has exactly one TaskCompleted/TaskCancelled on chain.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { getAddress, keccak256, parseEther, parseGwei, toHex, type Hex } from "viem";
import { inferencePaymentAbi } from "../../abis";
import { anvilAccount, nodeAddresses, userAccounts } from "../../common/chain";
import { loadOracleConfig } from "../../oracle/config";
import { startOracle } from "../../oracle/start-oracle";
import type { TaskResultFields } from "../../oracle/message";
import { createRedisStream } from "../../oracle/stream";
import { reorg, startDeployedChain } from "../../harness/chain";
import { waitUntil } from "../../harness/wait";
import { oracleEnv, type Chain } from "../../harness/oracle";
import { deleteStreamKeys, expectAllSettledOnce, readDeadLetters, settlementCounts, simulatorOn } from "./helpers";

const enabled = Boolean(process.env.REDIS_URL && process.env.DATABASE_URL);

describe.skipIf(!enabled)("oracle faults (Redis + Postgres)", () => {
  let chain: Chain;
  let env: Record<string, string>;
  let oracle: Awaited<ReturnType<typeof startOracle>>;
  let simulator: ReturnType<typeof simulatorOn>;
  let stream: ReturnType<typeof createRedisStream>;
  let redis: Redis;
  const contract = () => chain.manifest.contracts.InferencePayment.address;
  const [nodeA, nodeB] = nodeAddresses(2) as [Hex, Hex];

  const fieldsFor = (taskId: Hex, overrides: Partial<TaskResultFields> = {}): Record<string, string> => ({
    taskId,
    node: nodeA,
    model: "llama-70b",
    tokensGenerated: "100000",
    status: "completed",
    uptime: "99.5",
    tokensPerSecond: "48",
    expectedTokensPerSecond: "50",
    accuracy: "0.97",
    reportedAt: String(Date.now()),
    ...overrides,
  });
  const settledOnce = async (taskIds: Hex[], timeoutMs = 60_000) => {
    const { wrong } = await expectAllSettledOnce(chain.publicClient, contract(), taskIds, timeoutMs);
    expect(wrong).toEqual([]);
  };
  const jobTx = async (taskId: Hex) => {
    const rows = await oracle.sql.query<{ hash: string; tx_state: string; attempt_count: number; mined_hash: string | null }>(
      `select a.hash, t.state as tx_state, (select count(*)::int from "${env.ORACLE_DB_SCHEMA}".attempts x where x.tx_id = t.id) as attempt_count, t.mined_hash
         from "${env.ORACLE_DB_SCHEMA}".jobs j join "${env.ORACLE_DB_SCHEMA}".txs t on t.idempotency_key = j.call_key
         join "${env.ORACLE_DB_SCHEMA}".attempts a on a.tx_id = t.id where j.key = $1 order by a.id`,
      [taskId],
    );
    return rows;
  };
  /** Once the task is settled exactly once on chain: its transaction's attempts, after the oracle recorded the mined one. */
  const confirmedAttempts = async (taskId: Hex) => {
    await settledOnce([taskId]);
    return waitUntil(async () => {
      const rows = await jobTx(taskId);
      return rows[0]?.mined_hash ? rows : undefined;
    }, "the confirmation", 20_000);
  };

  beforeAll(async () => {
    chain = await startDeployedChain();
    env = oracleEnv(chain, { REDIS_URL: process.env.REDIS_URL!, DATABASE_URL: process.env.DATABASE_URL!, ORACLE_BATCH_THRESHOLD: "10" });
    const config = loadOracleConfig(env);
    oracle = await startOracle(config);
    redis = new Redis(process.env.REDIS_URL!);
    stream = createRedisStream({ url: process.env.REDIS_URL!, stream: env.ORACLE_STREAM_KEY!, deadLetter: env.ORACLE_DEAD_LETTER_KEY!, group: env.ORACLE_GROUP ?? "oracle" });
    simulator = simulatorOn(chain, {
      users: userAccounts(4),
      nodes: [nodeA, nodeB],
      stream,
      models: config.ORACLE_MODELS,
      seed: 7,
    });
    await simulator.fundUsers(parseEther("100000"));
    await simulator.registerNodes();
  });
  afterAll(async () => {
    await oracle?.stop();
    await stream?.close();
    if (env) await deleteStreamKeys(redis, { stream: env.ORACLE_STREAM_KEY!, deadLetter: env.ORACLE_DEAD_LETTER_KEY! });
    redis?.disconnect();
    await chain?.anvil.stop();
  });

  it("dead-letters 20 kinds of bad message with a reason; the good ones around them settle", async () => {
    const tasks = await simulator.createTasks(9);
    const [settledElsewhere, cancelledElsewhere, conflicting, unregistered, ...good] = tasks.map((task) => task.taskId) as [Hex, Hex, Hex, Hex, ...Hex[]];
    // Someone else (the oracle key from outside the worker) settles and fails two tasks first:
    // this also moves the key's nonce under the worker, which must fast-forward past it.
    const oracleWallet = chain.walletFor(1);
    for (const call of [
      { functionName: "completeTask", args: [settledElsewhere, getAddress(nodeB), 1n, 80n] },
      { functionName: "failTask", args: [cancelledElsewhere, getAddress(nodeB)] },
    ] as const) {
      const hash = await oracleWallet.writeContract({ address: getAddress(contract()), abi: inferencePaymentAbi, ...call } as never);
      await chain.publicClient.waitForTransactionReceipt({ hash });
    }
    const unknownTask = keccak256(toHex("never created"));
    const bad: [string, Record<string, string>][] = [
      ["missing_field", (({ taskId: _, ...rest }) => rest)(fieldsFor(good[0]!))],
      ["missing_field", (({ node: _, ...rest }) => rest)(fieldsFor(good[0]!))],
      ["bad_task_id", fieldsFor("0x1234" as Hex)],
      ["bad_task_id", fieldsFor(`0x${"zz".repeat(32)}` as Hex)],
      ["bad_address", fieldsFor(good[0]!, { node: "0xnot-an-address" })],
      ["unknown_model", fieldsFor(good[0]!, { model: "gpt-17" })],
      ["bad_integer", fieldsFor(good[0]!, { tokensGenerated: "12.5" })],
      ["negative_number", fieldsFor(good[0]!, { tokensGenerated: "-5" })],
      ["bad_status", fieldsFor(good[0]!, { status: "done" })],
      ["uptime_out_of_range", fieldsFor(good[0]!, { uptime: "150" })],
      ["negative_number", fieldsFor(good[0]!, { uptime: "-1" })],
      ["accuracy_out_of_range", fieldsFor(good[0]!, { accuracy: "1.5" })],
      ["bad_number", fieldsFor(good[0]!, { tokensPerSecond: "fast" })],
      ["expectedTokensPerSecond_out_of_range", fieldsFor(good[0]!, { expectedTokensPerSecond: "0" })],
      ["bad_timestamp", fieldsFor(good[0]!, { reportedAt: String(Date.now() + 86_400_000) })],
      ["unknown_op", { op: "mintMoney", node: nodeA }],
      ["task_not_found", fieldsFor(unknownTask)],
      ["node_not_registered", fieldsFor(unregistered, { node: anvilAccount(50).address })],
      ["task_already_settled", fieldsFor(settledElsewhere)],
      ["task_cancelled", fieldsFor(cancelledElsewhere)],
    ];
    await stream.publish(fieldsFor(conflicting));
    for (const [, fields] of bad) await stream.publish(fields);
    await stream.publish(fieldsFor(conflicting, { tokensGenerated: "999" }));
    for (const taskId of good) await stream.publish(fieldsFor(taskId));

    await settledOnce([conflicting, ...good]);
    const expected = [...bad.map(([code]) => code), "conflicting_duplicate"];
    const dead = await waitUntil(
      async () => {
        const entries = await readDeadLetters(redis, env.ORACLE_DEAD_LETTER_KEY!);
        return entries.length >= expected.length && entries;
      },
      "dead letters",
      30_000,
    );
    expect(dead.map((entry) => entry.code).sort()).toEqual(expected.sort());
    for (const entry of dead) expect(entry.reason!.length).toBeGreaterThan(5);
    expect(new Set(expected).size).toBeGreaterThanOrEqual(15);
    const counts = await settlementCounts(chain.publicClient, contract());
    expect(counts.get(settledElsewhere)).toBe(1);
    expect(counts.get(cancelledElsewhere)).toBe(1);
  });

  it("replaces a transaction stuck under a fee spike (automine off) with higher fees at the same nonce", async () => {
    const [task] = await simulator.createTasks(1);
    await chain.testClient.setAutomine(false);
    try {
      await chain.testClient.setNextBlockBaseFeePerGas({ baseFeePerGas: parseGwei("1") });
      await chain.testClient.mine({ blocks: 1 });
      await stream.publish(fieldsFor(task!.taskId));
      await waitUntil(async () => (await jobTx(task!.taskId)).length > 0, "the first attempt", 20_000);
      const spike = parseGwei("40");
      await waitUntil(
        async () => {
          await chain.testClient.setNextBlockBaseFeePerGas({ baseFeePerGas: spike });
          await chain.testClient.mine({ blocks: 1 });
          return (await settlementCounts(chain.publicClient, contract())).get(task!.taskId) === 1;
        },
        "the bumped attempt to be mined",
        60_000,
      );
    } finally {
      await chain.testClient.setAutomine(true);
    }
    const attempts = await confirmedAttempts(task!.taskId);
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    expect(attempts[0]!.mined_hash).not.toBe(attempts[0]!.hash);
    const receipt = await chain.publicClient.getTransactionReceipt({ hash: attempts.at(-1)!.mined_hash as Hex });
    expect(receipt.effectiveGasPrice).toBeGreaterThanOrEqual(parseGwei("40"));
  });

  it("re-sends the same bytes after the mempool drops the transaction", async () => {
    const [task] = await simulator.createTasks(1);
    await chain.testClient.setAutomine(false);
    let first: string;
    try {
      await stream.publish(fieldsFor(task!.taskId));
      first = (await waitUntil(async () => (await jobTx(task!.taskId))[0]?.hash, "the first attempt", 20_000))!;
      await waitUntil(async () => (await jobTx(task!.taskId))[0]?.tx_state === "pending", "the broadcast", 10_000);
      await chain.testClient.dropTransaction({ hash: first as Hex });
      expect(await chain.publicClient.getTransaction({ hash: first as Hex }).catch(() => undefined)).toBeUndefined();
    } finally {
      await chain.testClient.setAutomine(true);
    }
    const attempts = await confirmedAttempts(task!.taskId);
    expect(attempts[0]!.mined_hash).toBe(first!);
  });

  it("settles again a settlement reorged out with anvil_reorg", async () => {
    const [task] = await simulator.createTasks(1);
    await chain.testClient.mine({ blocks: 3 });
    await stream.publish(fieldsFor(task!.taskId));
    const [row] = await confirmedAttempts(task!.taskId);
    const receipt = await chain.publicClient.getTransactionReceipt({ hash: row!.mined_hash as Hex });
    const head = await chain.publicClient.getBlockNumber();
    await reorg(chain.publicClient, Number(head - receipt.blockNumber + 1n));
    expect((await settlementCounts(chain.publicClient, contract())).get(task!.taskId)).toBeUndefined();
    await settledOnce([task!.taskId], 30_000);
    expect(await chain.publicClient.getBlock({ blockNumber: receipt.blockNumber }).then((b) => b.hash)).not.toBe(receipt.blockHash);
  });

  it("rides out anvil not answering for 10 s", async () => {
    const tasks = await simulator.createTasks(30);
    const posting = simulator.postResults(tasks.slice(0, 15), { duplicateRate: 0.3 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    chain.anvil.process.kill("SIGSTOP");
    try {
      await posting;
      await simulator.postResults(tasks.slice(15), { duplicateRate: 0.3, failureRate: 0.2 });
      await new Promise((resolve) => setTimeout(resolve, 10_000));
    } finally {
      chain.anvil.process.kill("SIGCONT");
    }
    await settledOnce(tasks.map((task) => task.taskId), 90_000);
  });

  it("two replicas racing for the same key settle each task once", async () => {
    const replica = await startOracle(loadOracleConfig({ ...env, ORACLE_CONSUMER: "replica-b" }));
    try {
      const tasks = await simulator.createTasks(40);
      const posted = simulator.postResults(tasks, { duplicateRate: 0.5, ratePerSecond: 80 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      // The holder leaves mid-run (graceful: releases the lease); the other must take over.
      await oracle.stop();
      await posted;
      await settledOnce(tasks.map((task) => task.taskId), 90_000);
      const nonces = await replica.sql.query<{ n: number; distinct_n: number }>(
        `select count(*)::int as n, count(distinct nonce)::int as distinct_n from "${env.ORACLE_DB_SCHEMA}".txs where nonce is not null`,
      );
      expect(nonces[0]!.n).toBe(nonces[0]!.distinct_n);
    } finally {
      await replica.stop();
      oracle = await startOracle(loadOracleConfig(env));
    }
  });
});
