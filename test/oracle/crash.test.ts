/**
 * The worker as a real child process (`node --import tsx scripts/oracle.ts`), SIGKILLed at named crash
 * points and at random moments, restarted each time, against real Redis and Postgres. Every
 * task must end with exactly one TaskCompleted/TaskCancelled on chain, and every message that
 * can never be settled with exactly one dead letter.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { getAddress, keccak256, parseEther, toHex } from "viem";
import { inferencePaymentAbi } from "../../abis";
import { DEFAULT_MODELS } from "../../oracle/pricing";
import { createRedisStream } from "../../oracle/stream";
import { nodeAddresses, userAccounts } from "../../common/chain";
import { startDeployedChain } from "../../harness/chain";
import { waitUntil } from "../../harness/wait";
import { oracleEnv, type Chain } from "../../harness/oracle";
import { deleteStreamKeys, expectAllSettledOnce, readDeadLetters, simulatorOn, taskReport } from "./helpers";

const enabled = Boolean(process.env.REDIS_URL && process.env.DATABASE_URL);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!enabled)("oracle crash recovery (child process, Redis + Postgres)", () => {
  let chain: Chain;
  let env: Record<string, string>;
  let stream: ReturnType<typeof createRedisStream>;
  let simulator: ReturnType<typeof simulatorOn>;
  const children = new Set<ChildProcess>();

  function spawnWorker(extra: Record<string, string> = {}) {
    // Node with tsx's loader rather than the tsx CLI: the CLI is a parent process that would
    // take the SIGKILL and leave the worker itself running as an orphan.
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/oracle.ts"], {
      // Info logs on the piped stdout: "oracle started" tells the test the worker is about to read.
      env: { ...process.env, ...env, LOG_LEVEL: "info", ...extra },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    const ready = new Promise<void>((resolve) => {
      let stdout = "";
      child.stdout?.on("data", (chunk: Buffer) => {
        stdout = (stdout + chunk.toString()).slice(-4000);
        if (stdout.includes('"msg":"oracle started"')) resolve();
      });
    });
    children.add(child);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
      child.once("exit", (code, signal) => {
        children.delete(child);
        resolve({ code, signal, stderr });
      }),
    );
    return { child, exited, ready };
  }

  beforeAll(async () => {
    chain = await startDeployedChain();
    env = oracleEnv(chain, {
      REDIS_URL: process.env.REDIS_URL!,
      DATABASE_URL: process.env.DATABASE_URL!,
      ORACLE_BATCH_THRESHOLD: "20",
      ORACLE_BATCH_SIZE: "25",
    });
    stream = createRedisStream({ url: process.env.REDIS_URL!, stream: env.ORACLE_STREAM_KEY!, deadLetter: env.ORACLE_DEAD_LETTER_KEY!, group: "oracle" });
    const nodes = nodeAddresses(3);
    // Registered from outside the worker: its first nonce must fast-forward past these.
    const oracleWallet = chain.walletFor(1);
    for (const node of nodes) {
      const hash = await oracleWallet.writeContract({ address: getAddress(chain.manifest.contracts.InferencePayment.address), abi: inferencePaymentAbi, functionName: "registerNode", args: [node, node] });
      await chain.publicClient.waitForTransactionReceipt({ hash });
    }
    simulator = simulatorOn(chain, {
      users: userAccounts(8),
      nodes,
      stream,
      models: DEFAULT_MODELS,
      seed: 42,
    });
    await simulator.fundUsers(parseEther("100000"));
  });
  afterAll(async () => {
    for (const child of children) child.kill("SIGKILL");
    await stream?.close();
    if (env) {
      const redis = new Redis(process.env.REDIS_URL!);
      await deleteStreamKeys(redis, { stream: env.ORACLE_STREAM_KEY!, deadLetter: env.ORACLE_DEAD_LETTER_KEY! });
      redis.disconnect();
    }
    await chain?.anvil.stop();
  });

  async function finishWithCleanWorker(taskIds: `0x${string}`[]) {
    const worker = spawnWorker();
    try {
      const { wrong } = await expectAllSettledOnce(chain.publicClient, chain.manifest.contracts.InferencePayment.address, taskIds, 120_000);
      expect(wrong).toEqual([]);
    } finally {
      // Before its handlers exist (still loading modules) a SIGTERM would kill it outright.
      await Promise.race([worker.ready, worker.exited]);
      worker.child.kill("SIGTERM");
      const exit = await worker.exited;
      expect(exit.code, `${exit.signal} ${exit.stderr}`).toBe(0);
    }
  }

  it("survives a SIGKILL at each named crash point", async () => {
    const points = ["after-record-before-ack", "after-nonce-before-broadcast", "after-broadcast-before-save", "during-confirmation"];
    const all: `0x${string}`[] = [];
    for (const point of points) {
      const tasks = await simulator.createTasks(12);
      all.push(...tasks.map((task) => task.taskId));
      const worker = spawnWorker({ ORACLE_CRASH_AT: `${point}:2` });
      // One result at a time once the worker reads, so the point is reached on a later message,
      // mid-run, however slowly the machine starts the worker.
      await Promise.race([worker.ready, worker.exited]);
      let exited = false;
      void worker.exited.then(() => (exited = true));
      const unposted = [...tasks];
      while (!exited && unposted.length > 0) {
        await simulator.postResults(unposted.splice(0, 1), { duplicateRate: 0.3, failureRate: 0.2 });
        await sleep(250);
      }
      const exit = await Promise.race([worker.exited, sleep(30_000).then(() => undefined)]);
      // The rest wait in the stream for the next worker.
      await simulator.postResults(unposted, { duplicateRate: 0.3, failureRate: 0.2 });
      expect(exit?.signal, `${point}: ${exit?.stderr}`).toBe("SIGKILL");
    }
    await finishWithCleanWorker(all);
  });

  it("settles 500 tasks exactly once through 20+ random SIGKILLs", async () => {
    const tasks = await simulator.createTasks(500);
    const posting = simulator.postResults(tasks, { ratePerSecond: 120, duplicateRate: 0.2, failureRate: 0.1 });
    let kills = 0;
    let random = 12345;
    const next = () => ((random = (random * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    while (kills < 22) {
      const worker = spawnWorker();
      await sleep(1200 + next() * 2500);
      worker.child.kill("SIGKILL");
      const exit = await worker.exited;
      if (exit.signal === "SIGKILL") kills += 1;
      else throw new Error(`worker exited by itself: ${exit.code} ${exit.stderr}`);
    }
    await posting;
    await finishWithCleanWorker(tasks.map((task) => task.taskId));
    expect(kills).toBeGreaterThanOrEqual(20);
  });

  it("publishes each dead letter once through a SIGKILL between publishing and its ack or mark", async () => {
    const redis = new Redis(process.env.REDIS_URL!);
    const deadLetters = () => readDeadLetters(redis, env.ORACLE_DEAD_LETTER_KEY!);
    const report = (taskId: string) => taskReport(taskId, nodeAddresses(1)[0]!);
    // A malformed message is dead-lettered on intake, before its ack; a report for a task that
    // does not exist dies when prepared and is published from the store's outbox.
    const malformed: string[] = [];
    const missingTasks: string[] = [];
    const cases = [
      { point: "after-record-before-ack", post: async (i: number) => malformed.push(await stream.publish(report(`0x${i}`))) },
      {
        point: "after-dead-letter-before-mark",
        post: async (i: number) => {
          const taskId = keccak256(toHex(`never-created-${i}-${Date.now()}`));
          missingTasks.push(taskId);
          await stream.publish(report(taskId));
        },
      },
    ];
    try {
      for (const { point, post } of cases) {
        const before = (await deadLetters()).length;
        const worker = spawnWorker({ ORACLE_CRASH_AT: `${point}:2` });
        await Promise.race([worker.ready, worker.exited]);
        let exited = false;
        void worker.exited.then(() => (exited = true));
        let posted = 0;
        // One message at a time, so the second dead letter is published by a worker already running.
        for (; !exited && posted < 8; posted++) {
          await post(posted);
          await sleep(300);
        }
        const exit = await Promise.race([worker.exited, sleep(30_000).then(() => undefined)]);
        expect(exit?.signal, `${point}: ${exit?.stderr}`).toBe("SIGKILL");
        expect((await deadLetters()).length, `${point}: killed after publishing`).toBeGreaterThan(before);
        for (; posted < 8; posted++) await post(posted);
      }

      // The next worker takes over the unacknowledged entries and the unmarked dead jobs.
      const worker = spawnWorker();
      const all = await waitUntil(
        async () => {
          const letters = await deadLetters();
          const sources = new Set(letters.map((letter) => letter.sourceId));
          const payloads = letters.map((letter) => letter.payload ?? "");
          const complete =
            malformed.every((id) => sources.has(id)) && missingTasks.every((taskId) => payloads.some((payload) => payload.includes(taskId)));
          return complete && letters;
        },
        "every dead letter",
        60_000,
      );
      await Promise.race([worker.ready, worker.exited]);
      worker.child.kill("SIGTERM");
      const exit = await worker.exited;
      expect(exit.code, `${exit.signal} ${exit.stderr}`).toBe(0);

      const letters = await deadLetters();
      expect(letters.length).toBe(all.length);
      const perSource = new Map<string, number>();
      for (const letter of letters) perSource.set(letter.sourceId!, (perSource.get(letter.sourceId!) ?? 0) + 1);
      expect([...perSource].filter(([, count]) => count > 1)).toEqual([]);
      expect(malformed.map((id) => letters.find((letter) => letter.sourceId === id)?.code)).toEqual(malformed.map(() => "bad_task_id"));
      const missingLetters = letters.filter((letter) => letter.code === "task_not_found");
      expect(missingTasks.map((taskId) => missingLetters.filter((letter) => letter.payload!.includes(taskId)).length)).toEqual(
        missingTasks.map(() => 1),
      );
    } finally {
      redis.disconnect();
    }
  });
});
