/**
 * `npx tsx bench/subscriptions.ts [--quick] [--subscribers 1000,5000] [--replicas 1,2]
 * [--grouping false,true] [--blocks N] [--block-ms N] [--settlements N] [--per-process N]`
 *
 * Subscriptions at scale on the production topology: a fresh anvil, the real `ponder start` on
 * Postgres whose embedded API writes the change feed to Redis, and API replicas
 * (`scripts/api.ts`) that tail that feed and fan it out. Per case (subscriber count × replicas ×
 * `API_FEED_GROUPING`): fresh replicas, N subscribers in a realistic mix of operations and
 * filters (half SSE, half WebSocket) spread over separate client processes, then a steady
 * settlement load for a fixed number of blocks. Measured: commit → delivery and mined → delivery
 * p50/p99, deliveries/s, bytes/s, replica memory per subscriber (RSS and heap after a GC) and
 * CPU; then every subscriber's events are checked against the indexer's tables (exactly the
 * events its filter matches, once each). Exits 1 on any missing, duplicate or unexpected delivery. Needs DATABASE_URL and REDIS_URL.
 */
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { Redis } from "ioredis";
import WebSocket from "ws";
import { encodeFunctionData, getAddress, maxUint256, toHex, type Address, type Hex } from "viem";
import { farTokenAbi, inferencePaymentAbi } from "../abis";
import { anvilAccount, nodeAddresses, userAccounts } from "../common/chain";
import { taskIdOf, taskSalt } from "../domain/tasks";
import { FAR, startDeployedChain } from "../harness/chain";
import { createTestDatabase } from "../harness/database";
import { openIndexedTables, startPonder } from "../harness/ponder";
import { freePort } from "../harness/ports";
import { waitUntil } from "../harness/wait";
import { seededRandom } from "../common/random";
import { benchArgs } from "./args";
import { hardFdLimit, spawnNode, startClientProcess, stopProcess } from "./subscriptions/processes";
import { cpuSeconds, percentile, watchCommits } from "./measure";
import { ACTIONS, type Collected, type Progress, type SubscriberSpec } from "./subscriptions/protocol";

const args = benchArgs({ subscribers: { type: "string" }, replicas: { type: "string" }, grouping: { type: "string" }, blocks: { type: "string" }, "block-ms": { type: "string" }, settlements: { type: "string" }, "per-process": { type: "string" } });
const { quick } = args;
const list = (value: string | undefined, fallback: string) => (value ?? fallback).split(",").map((item) => item.trim());
const subscriberCounts = list(args.subscribers, quick ? "200" : "1000,5000,10000,20000").map(Number);
const replicaCounts = list(args.replicas, quick ? "1" : "1,2").map(Number);
const groupings = list(args.grouping, quick ? "true" : "false,true");
const blocks = Number(args.blocks ?? (quick ? 10 : 30));
const blockMs = Number(args["block-ms"] ?? 1_000);
const settlementsPerBlock = Number(args.settlements ?? 4);
const perProcess = Number(args["per-process"] ?? 2_500);
const databaseUrl = process.env.DATABASE_URL;
const redisUrl = process.env.REDIS_URL;
if (!databaseUrl || !redisUrl) throw new Error("bench/subscriptions.ts needs DATABASE_URL (a server where it may CREATE DATABASE) and REDIS_URL");

const root = new URL("..", import.meta.url).pathname;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Steps that stop what the bench started, newest last: a case unwinds its own, the end or a signal all. */
const cleanup: (() => Promise<unknown>)[] = [];
async function unwind(depth = 0) {
  while (cleanup.length > depth) await cleanup.pop()!().catch((error: unknown) => console.error("cleanup:", error));
}
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void unwind().then(() => process.exit(1)));

// ---------------------------------------------------------------------------------------------
// The chain's cast: the scenario's accounts (harness/scenario.ts), so filters name real addresses.
// ---------------------------------------------------------------------------------------------

const admin = anvilAccount(0).address;
const oracle = anvilAccount(1).address;
const treasury = anvilAccount(2).address;
const users = userAccounts(12).map((account) => account.address);
const nodes = nodeAddresses(4);
const stakers = users.slice(0, 6);
const STREAMS = ["NODE_PAYMENT", "STAKER_SHARE", "TREASURY", "STAKING_REWARD"] as const;

// ---------------------------------------------------------------------------------------------
// The subscriber mix. Each operation selects `blockNumber action <entity> { id }` (the clients'
// regex, protocol.ts). Filters go as variables, so subscribers with the same filter send the
// same operation and variables: what a grouping server can execute once.
// ---------------------------------------------------------------------------------------------

type Rows = { payouts: PayoutRow[]; tasks: TaskRow[]; staking: StakingRow[] };
type PayoutRow = { id: string; recipient: string; node: string | null; stream: string; block: number };
type TaskRow = { id: string; user: string; node: string | null; block: number };
type StakingRow = { id: string; staker: string; block: number };

/** Each subscription field, the rows it follows, and the selection every subscriber of it makes. */
const FIELDS = {
  payouts: { rows: "payouts", selection: "{ blockNumber action payout { id } }" },
  taskUpdated: { rows: "tasks", selection: "{ blockNumber action task { id } }" },
  stakingChanged: { rows: "staking", selection: "{ blockNumber action change { id } }" },
} as const;
const same = (a: string | null, b: unknown) => a !== null && a.toLowerCase() === String(b).toLowerCase();

type Kind = {
  name: string;
  /** Subscribers of this kind per 20. */
  per20: number;
  query: string;
  variables: (pick: <T>(items: readonly T[]) => T) => Record<string, unknown>;
  /** The events (entity id and block) the indexer's rows say such a subscriber must receive. */
  expected: (rows: Rows, variables: Record<string, unknown>) => { id: string; block: number }[];
};

/** Subscribers of `field(arg: $arg)`, each with one address from `pool`: they must receive the rows whose `column` holds it. */
function byAddress(per20: number, field: keyof typeof FIELDS, arg: string, pool: readonly string[], column = arg): Kind {
  const { rows, selection } = FIELDS[field];
  return {
    name: `${field}(${arg})`,
    per20,
    query: `subscription ($${arg}: Address) { ${field}(${arg}: $${arg}) ${selection} }`,
    variables: (pick) => ({ [arg]: pick(pool) }),
    expected: (all, v) => (all[rows] as ({ id: string; block: number } & Record<string, unknown>)[]).filter((row) => same(row[column] as string | null, v[arg])),
  };
}

const KINDS: Kind[] = [
  { name: "payouts", per20: 8, query: `subscription { payouts ${FIELDS.payouts.selection} }`, variables: () => ({}), expected: (rows) => rows.payouts },
  byAddress(4, "payouts", "recipient", [...nodes, treasury]),
  byAddress(1, "payouts", "node", nodes),
  {
    name: "payouts(streams)",
    per20: 1,
    query: `subscription ($streams: [RevenueStream!]) { payouts(streams: $streams) ${FIELDS.payouts.selection} }`,
    variables: (pick) => ({ streams: [pick(STREAMS)] }),
    expected: (rows, v) => rows.payouts.filter((row) => (v.streams as string[]).includes(row.stream)),
  },
  byAddress(1, "taskUpdated", "node", nodes),
  byAddress(2, "taskUpdated", "user", users),
  byAddress(3, "stakingChanged", "address", stakers, "staker"),
];
const KIND_BY_SLOT = KINDS.flatMap((kind) => Array.from({ length: kind.per20 }, () => kind));
if (KIND_BY_SLOT.length !== 20) throw new Error("the subscriber mix must fill 20 slots");

type Subscriber = SubscriberSpec & { kind: Kind; group: string };
/** What a client process needs of a subscriber (functions do not cross the IPC channel). */
const specOf = ({ kind: _kind, group: _group, ...spec }: Subscriber): SubscriberSpec => spec;

function subscribers(count: number, replicaUrls: string[]): Subscriber[] {
  const random = seededRandom(12);
  const pick = <T>(items: readonly T[]) => items[random.int(items.length)]!;
  return Array.from({ length: count }, (_, index) => {
    const kind = KIND_BY_SLOT[index % 20]!;
    const variables = kind.variables(pick);
    return {
      index,
      // Alternates within a kind too (20 is even: index parity alone would tie a kind to one transport).
      transport: (index + Math.floor(index / 20)) % 2 === 0 ? "sse" : "ws",
      url: replicaUrls[index % replicaUrls.length]!,
      query: kind.query,
      variables,
      kind,
      group: `${kind.name} ${JSON.stringify(variables)}`,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Processes: /proc readings, replicas and client processes under a raised file-descriptor limit.
// ---------------------------------------------------------------------------------------------

type Memory = { rssKb: number; heapKb: number };

/**
 * A replica's memory after a full garbage collection, asked through its inspector (it runs with
 * `--inspect` on a port of its own): without the collection, RSS and heap would count whatever
 * garbage the last fan-out left, which at a few thousand subscribers is more than the subscribers.
 */
async function memoryAfterGc(inspectPort: number): Promise<Memory> {
  const [target] = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const socket = new WebSocket(target!.webSocketDebuggerUrl);
  await once(socket, "open");
  let nextId = 0;
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<{ result?: { value?: string } }>((resolve) => {
      const id = ++nextId;
      const onMessage = (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { id?: number; result: { result?: { value?: string } } };
        if (message.id !== id) return;
        socket.off("message", onMessage);
        resolve(message.result);
      };
      socket.on("message", onMessage);
      socket.send(JSON.stringify({ id, method, params }));
    });
  try {
    await call("HeapProfiler.collectGarbage");
    const answer = await call("Runtime.evaluate", { expression: "JSON.stringify(process.memoryUsage())", returnByValue: true });
    const usage = JSON.parse(answer.result!.value!) as { rss: number; heapUsed: number };
    return { rssKb: usage.rss / 1024, heapKb: usage.heapUsed / 1024 };
  } finally {
    socket.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The run.
// ---------------------------------------------------------------------------------------------

type Case = { subscribers: number; replicas: number; grouping: string };
type CaseResult = Case & {
  opened: number;
  openSeconds: number;
  /** Per replica, each after a full GC: before opening, once all were open (before any event), after every subscriber received the warm-up block. */
  memoryBefore: Memory[];
  memoryIdle: Memory[];
  memoryAfter: Memory[];
  replicaCpuPercent: number[];
  ponderCpuPercent: number;
  clientCpuPercent: number;
  windowBlocks: [number, number];
  expected: number;
  delivered: number;
  missing: number;
  duplicate: number;
  unexpected: number;
  subscribersWithProblems: number;
  fromCommit: Float64Array;
  fromMined: Float64Array;
  minedToCommit: Float64Array;
  earlierThanCommit: number;
  deliveriesPerSecond: number;
  bytesPerSecond: number;
  errors: Record<string, number>;
  endedBy: Record<string, number>;
  problems: string[];
  /** Per kind of subscription: subscribers, distinct operation+variables, deliveries expected. */
  mix: string;
  skipped?: string;
};

async function main() {
  const fdHard = await hardFdLimit();
  const groupingRead = (await readFile(`${root}api/config.ts`, "utf8")).includes("API_FEED_GROUPING");
  const cases: Case[] = subscriberCounts.flatMap((count) => replicaCounts.flatMap((replicas) => groupings.map((grouping) => ({ subscribers: count, replicas, grouping }))));
  console.log(
    `subscriptions bench: ${cases.length} case(s) (subscribers ${subscriberCounts.join(", ")} × replicas ${replicaCounts.join(", ")} × API_FEED_GROUPING ${groupings.join(", ")}` +
      `${groupingRead ? "" : "; this API does not read API_FEED_GROUPING yet: every case runs today's design"}); ` +
      `load ${blocks} blocks ${blockMs} ms apart, ${settlementsPerBlock} settlements per block (every 5th a failTask), a stake every 3rd block; ` +
      `≤ ${perProcess} subscribers per client process; fd hard limit ${fdHard}; Postgres + Redis, Ponder RPC poll 200 ms, ${new Date().toISOString()}`,
  );

  const results: CaseResult[] = [];
  /** False once the run is over: processes that exit then are being stopped, not failing. */
  let watching = true;
  try {
    const chain = await startDeployedChain();
    cleanup.push(() => chain.anvil.stop());
    // The chain outlives every case: if it dies, say how, since every later request fails with it.
    chain.anvil.process.once("exit", (code, signal) => {
      if (watching) console.error(`anvil exited (code ${code}, signal ${signal})`);
    });
    const token = getAddress(chain.manifest.contracts.FARToken.address);
    const payment = getAddress(chain.manifest.contracts.InferencePayment.address);
    const { publicClient, testClient } = chain;
    // Unsigned from anvil's accounts, fixed gas, blocks mined by hand: many transactions per block, no estimation.
    const send = (from: Address, to: Address, data: Hex, gas: bigint) => testClient.sendUnsignedTransaction({ from, to, data, gas });
    const mine = async () => {
      await testClient.mine({ blocks: 1 });
      const head = Number(await publicClient.getBlockNumber());
      const receipts = (await publicClient.request({ method: "eth_getBlockReceipts", params: [toHex(head)] })) ?? [];
      if (receipts.some((receipt) => receipt.status !== "0x1")) throw new Error(`a bench transaction reverted in block ${head}`);
      return head;
    };
    await testClient.setAutomine(false);
    for (const account of users) await send(admin, token, encodeFunctionData({ abi: farTokenAbi, functionName: "transfer", args: [account, 1_000_000n * FAR] }), 100_000n);
    for (const node of nodes) await send(oracle, payment, encodeFunctionData({ abi: inferencePaymentAbi, functionName: "registerNode", args: [node, node] }), 200_000n);
    await mine();
    for (const account of users) {
      await send(account, token, encodeFunctionData({ abi: farTokenAbi, functionName: "approve", args: [payment, maxUint256] }), 100_000n);
      await send(account, payment, encodeFunctionData({ abi: inferencePaymentAbi, functionName: "deposit", args: [500_000n * FAR] }), 150_000n);
    }
    // Stakers before the load, so every settlement pays all three streams.
    for (const account of stakers) await send(account, token, encodeFunctionData({ abi: farTokenAbi, functionName: "stake", args: [1_000n * FAR] }), 250_000n);
    await mine();

    const database = await createTestDatabase(databaseUrl!, "bench_sub");
    cleanup.push(() => database.drop());
    const schema = `bench_sub_${process.pid}`;
    const prefix = `far-bench-${schema}`;
    cleanup.push(async () => {
      const redis = new Redis(redisUrl!);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    });
    const ponder = await startPonder({ rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir, databaseUrl: database.url, schema, env: { REDIS_URL: redisUrl!, API_FEED_PREFIX: prefix } });
    cleanup.push(() => Promise.race([ponder.stop(), sleep(10_000)]).then(() => ponder.kill()));
    await ponder.waitForBlock(await chain.publicClient.getBlockNumber());
    const ponderPid = ponder.child.pid!;

    const tables = await openIndexedTables({ databaseUrl: database.url, schema, pgliteDir: "" });
    cleanup.push(() => tables.close());
    // Commit times (bench/measure.ts), on a connection of their own, apart from the API under test.
    const watcher = await openIndexedTables({ databaseUrl: database.url, schema, pgliteDir: "" });
    const { committedAt, waitCommitted, stop: stopWatching } = watchCommits(watcher.query);
    cleanup.push(async () => {
      await stopWatching();
      await watcher.close();
    });

    const rowsIn = async (from: number, to: number): Promise<Rows> => {
      const payouts = await tables.query(`SELECT id, recipient, node, stream, block_number FROM payout WHERE block_number BETWEEN ${from} AND ${to}`);
      const tasks = await tables.query(`SELECT id, "user", node, updated_block FROM task WHERE updated_block BETWEEN ${from} AND ${to}`);
      const staking = await tables.query(`SELECT id, staker, block_number FROM staking_event WHERE block_number BETWEEN ${from} AND ${to}`);
      return {
        payouts: payouts.map((row) => ({ id: String(row.id), recipient: String(row.recipient), node: row.node === null ? null : String(row.node), stream: String(row.stream), block: Number(row.block_number) })),
        tasks: tasks.map((row) => ({ id: String(row.id), user: String(row.user), node: row.node === null ? null : String(row.node), block: Number(row.updated_block) })),
        staking: staking.map((row) => ({ id: String(row.id), staker: String(row.staker), block: Number(row.block_number) })),
      };
    };

    let taskCounter = 0;
    /** Tasks for one case, created before its subscribers open: the window then holds settlements only, whose feed events do not depend on how the reader splits blocks. */
    const createTasks = async (count: number) => {
      const ids: Hex[] = [];
      for (let i = 0; i < count; i++) {
        const user = users[taskCounter % users.length]!;
        const salt = taskSalt(`bench-subscriptions-${taskCounter++}`);
        await send(user, payment, encodeFunctionData({ abi: inferencePaymentAbi, functionName: "createTask", args: [salt, 10n * FAR] }), 200_000n);
        ids.push(taskIdOf(user, salt));
        if (ids.length % 50 === 0) await mine();
      }
      await waitCommitted(await mine());
      return ids;
    };
    let settled = 0;
    /** One block of load: settlements (every 5th a failure), now and then a stake; returns the block and when it was mined. */
    const loadBlock = async (tasks: Hex[], settlements: number, stake: boolean) => {
      for (let i = 0; i < settlements; i++) {
        const taskId = tasks.shift()!;
        const node = nodes[settled % nodes.length]!;
        const data =
          settled % 5 === 4
            ? encodeFunctionData({ abi: inferencePaymentAbi, functionName: "failTask", args: [taskId, node] })
            : encodeFunctionData({ abi: inferencePaymentAbi, functionName: "completeTask", args: [taskId, node, 7n * FAR + BigInt(settled % 1000), BigInt(settled % 101)] });
        settled += 1;
        await send(oracle, payment, data, 400_000n);
      }
      if (stake) await send(stakers[settled % stakers.length]!, token, encodeFunctionData({ abi: farTokenAbi, functionName: "stake", args: [FAR] }), 250_000n);
      const block = await mine();
      return { block, minedAt: Date.now() };
    };

    for (const run of cases) {
      const result = await runCase(run);
      results.push(result);
      console.log(caseLine(result));
    }

    async function runCase(run: Case): Promise<CaseResult> {
      const depth = cleanup.length;
      try {
        const perReplica = Math.ceil(run.subscribers / run.replicas);
        // Each subscriber is one socket on its replica; the replica also holds Postgres, Redis and its own files.
        const replicaFds = perReplica + 1_000;
        if (replicaFds > fdHard) return skipped(run, `needs ${replicaFds} file descriptors per replica, the hard limit is ${fdHard}`);
        const tasks = await createTasks(settlementsPerBlock * blocks + 1);

        const replicas: { pid: number; url: string; inspectPort: number }[] = [];
        for (let r = 0; r < run.replicas; r++) {
          const port = await freePort();
          const inspectPort = await freePort();
          const child = spawnNode([`--inspect=127.0.0.1:${inspectPort}`, "scripts/api.ts"], replicaFds, {
            ...process.env,
            DATABASE_URL: database.url,
            DATABASE_SCHEMA: schema,
            API_PORT: String(port),
            API_HOST: "127.0.0.1",
            API_LOG_LEVEL: "warn",
            REDIS_URL: redisUrl,
            API_FEED_PREFIX: prefix,
            API_FEED_GROUPING: run.grouping,
          }, false);
          cleanup.push(() => stopProcess(child));
          const url = `http://127.0.0.1:${port}`;
          await waitUntil(
            async () => {
              if (child.exitCode !== null) throw new Error(`replica on port ${port} exited`);
              return fetch(`${url}/health`).then((response) => response.ok, () => false);
            },
            `the replica on port ${port} to start`,
            60_000,
            200,
          );
          replicas.push({ pid: child.pid!, url: `${url}/graphql`, inspectPort });
        }
        const all = subscribers(run.subscribers, replicas.map((replica) => replica.url));

        // Warm each replica (schema, Yoga, both transports, every operation) so its baseline is not charged to subscribers.
        const warmer = await startClientProcess(1_000);
        cleanup.push(() => stopProcess(warmer.child));
        await warmer.call({ type: "open", subscribers: subscribers(40 * run.replicas, replicas.map((replica) => replica.url)).map(specOf), concurrency: 20 }, "opened");
        await warmer.call({ type: "close" }, "closed");
        const memoryBefore = await Promise.all(replicas.map((replica) => memoryAfterGc(replica.inspectPort)));

        const processCount = Math.max(1, Math.ceil(run.subscribers / perProcess));
        const clients = await Promise.all(Array.from({ length: processCount }, () => startClientProcess(Math.min(fdHard, perProcess + 1_000))));
        for (const client of clients) cleanup.push(() => stopProcess(client.child));
        const openStarted = Date.now();
        const openedReplies = await Promise.all(
          clients.map((client, p) => client.call<{ open: number; failed: number }>({ type: "open", subscribers: all.filter((s) => s.index % processCount === p).map(specOf), concurrency: 100 }, "opened")),
        );
        const openSeconds = (Date.now() - openStarted) / 1000;
        const opened = openedReplies.reduce((sum, reply) => sum + reply.open, 0);
        // Idle subscribers: open, no event yet (a WebSocket's subscribe follows its ack, so give the server a moment).
        await sleep(2_000);
        const memoryIdle = await Promise.all(replicas.map((replica) => memoryAfterGc(replica.inspectPort)));
        const progress = async () => {
          const replies = await Promise.all(clients.map((client) => client.call<Progress>({ type: "progress" }, "progress")));
          return replies.reduce((sum, reply) => ({ windowDeliveries: sum.windowDeliveries + reply.windowDeliveries, bytes: sum.bytes + reply.bytes }));
        };
        const setWindow = (fromBlock: number) => Promise.all(clients.map((client) => client.call({ type: "window", fromBlock }, "window")));
        const expectedCount = (rows: Rows) => {
          const byGroup = new Map<string, number>();
          let total = 0;
          for (const subscriber of all) {
            let count = byGroup.get(subscriber.group);
            if (count === undefined) byGroup.set(subscriber.group, (count = subscriber.kind.expected(rows, subscriber.variables).length));
            total += count;
          }
          return total;
        };
        /** Waits until the clients hold `expected` deliveries of the window, or until they stop coming for `quietMs`. */
        const drain = async (expected: number, quietMs: number) => {
          let last = -1;
          let lastChange = Date.now();
          for (;;) {
            const { windowDeliveries } = await progress();
            if (windowDeliveries >= expected) return true;
            if (windowDeliveries !== last) [last, lastChange] = [windowDeliveries, Date.now()];
            if (Date.now() - lastChange > quietMs) return false;
            await sleep(100);
          }
        };

        // A first settled block that every subscriber it concerns must receive: proves they are live on the feed.
        const warm = await loadBlock(tasks, 1, false);
        await setWindow(warm.block);
        await waitCommitted(warm.block);
        if (!(await drain(expectedCount(await rowsIn(warm.block, warm.block)), 60_000))) console.error(`  ${run.subscribers}: not every subscriber received the warm-up block`);
        const memoryAfter = await Promise.all(replicas.map((replica) => memoryAfterGc(replica.inspectPort)));

        // The load window.
        const clientPids = clients.map((client) => client.child.pid!);
        const cpu = async () => ({ at: Date.now(), replicas: await Promise.all(replicas.map((replica) => cpuSeconds(replica.pid))), ponder: await cpuSeconds(ponderPid), clients: (await Promise.all(clientPids.map(cpuSeconds))).reduce((a, b) => a + b, 0) });
        await setWindow(warm.block + 1);
        const bytesBefore = (await progress()).bytes;
        const cpuBefore = await cpu();
        const minedAt = new Map<number, number>();
        const started = Date.now();
        for (let k = 0; k < blocks; k++) {
          await sleep(Math.max(0, started + k * blockMs - Date.now()));
          const { block, minedAt: at } = await loadBlock(tasks, settlementsPerBlock, k % 3 === 2);
          minedAt.set(block, at);
        }
        const first = warm.block + 1;
        const last = Math.max(...minedAt.keys());
        if (minedAt.size !== last - first + 1) throw new Error("another block was mined inside the load window");
        await waitCommitted(last);
        const rows = await rowsIn(first, last);
        const expectedTotal = expectedCount(rows);
        await drain(expectedTotal, 15_000);
        const cpuAfter = await cpu();
        const bytesAfter = (await progress()).bytes;

        const collected = await Promise.all(clients.map((client) => client.call<Collected>({ type: "collect" }, "collected")));
        const checked = check(all, rows, collected, first, last, committedAt, minedAt);
        const seconds = (cpuAfter.at - cpuBefore.at) / 1000;
        const percent = (after: number, before: number) => (100 * (after - before)) / seconds;
        const sum = (records: Record<string, number>[]) => records.reduce<Record<string, number>>((total, record) => {
          for (const [key, value] of Object.entries(record)) total[key] = (total[key] ?? 0) + value;
          return total;
        }, {});
        return {
          ...run,
          opened,
          openSeconds,
          memoryBefore,
          memoryIdle,
          memoryAfter,
          replicaCpuPercent: cpuAfter.replicas.map((value, i) => percent(value, cpuBefore.replicas[i]!)),
          ponderCpuPercent: percent(cpuAfter.ponder, cpuBefore.ponder),
          clientCpuPercent: percent(cpuAfter.clients, cpuBefore.clients),
          windowBlocks: [first, last],
          expected: expectedTotal,
          ...checked,
          deliveriesPerSecond: checked.delivered / ((checked.lastDelivery - started) / 1000),
          bytesPerSecond: (bytesAfter - bytesBefore) / ((checked.lastDelivery - started) / 1000),
          errors: sum(collected.map((c) => c.errors)),
          endedBy: sum(collected.map((c) => c.endedBy)),
        };
      } finally {
        await unwind(depth);
      }
    }
  } finally {
    watching = false;
    await unwind();
    // Also when a case failed: the cases before it were measured.
    printTables(results);
  }

  const failed = results.filter((r) => !r.skipped && (r.missing > 0 || r.duplicate > 0 || r.unexpected > 0 || r.opened < r.subscribers));
  if (failed.length > 0) {
    console.error(`subscriptions bench: deliveries wrong in ${failed.length} case(s): ${failed.map(caseName).join("; ")}`);
    process.exitCode = 1;
  }
}

function skipped(run: Case, reason: string): CaseResult {
  const none = new Float64Array();
  return { ...run, opened: 0, openSeconds: 0, memoryBefore: [], memoryIdle: [], memoryAfter: [], replicaCpuPercent: [], ponderCpuPercent: NaN, clientCpuPercent: NaN, windowBlocks: [0, 0], expected: 0, delivered: 0, missing: 0, duplicate: 0, unexpected: 0, subscribersWithProblems: 0, fromCommit: none, fromMined: none, minedToCommit: none, earlierThanCommit: 0, deliveriesPerSecond: NaN, bytesPerSecond: NaN, errors: {}, endedBy: {}, problems: [], mix: "", skipped: reason };
}

/**
 * Every subscriber against the rows of the window: each event its filter matches received
 * exactly once as ADDED (nothing else: no reorg happens), and the latency of each delivery.
 */
function check(all: Subscriber[], rows: Rows, collected: Collected[], first: number, last: number, committedAt: Map<number, number>, minedAt: Map<number, number>) {
  const received = new Map<number, Map<string, number>>();
  const fromCommit: number[] = [];
  const fromMined: number[] = [];
  let earlierThanCommit = 0;
  let lastDelivery = 0;
  let unexpectedActions = 0;
  for (const part of collected) {
    for (let i = 0; i < part.subscriber.length; i++) {
      const block = part.block[i]!;
      if (block < first || block > last) continue;
      if (ACTIONS[part.action[i]!] !== "ADDED") unexpectedActions += 1;
      const key = `${part.keys[part.key[i]!]}@${block}`;
      let keys = received.get(part.subscriber[i]!);
      if (!keys) received.set(part.subscriber[i]!, (keys = new Map()));
      keys.set(key, (keys.get(key) ?? 0) + 1);
      const at = part.receivedAt[i]!;
      lastDelivery = Math.max(lastDelivery, at);
      const commit = committedAt.get(block)!;
      if (at < commit) earlierThanCommit += 1;
      fromCommit.push(at - commit);
      fromMined.push(at - minedAt.get(block)!);
    }
  }
  const expectedByGroup = new Map<string, Set<string>>();
  let missing = 0;
  let duplicate = 0;
  let unexpected = unexpectedActions;
  let delivered = 0;
  let subscribersWithProblems = 0;
  const problems: string[] = [];
  for (const subscriber of all) {
    let expected = expectedByGroup.get(subscriber.group);
    if (!expected) expectedByGroup.set(subscriber.group, (expected = new Set(subscriber.kind.expected(rows, subscriber.variables).map((event) => `${event.id}@${event.block}`))));
    const got = received.get(subscriber.index) ?? new Map<string, number>();
    let subscriberMissing = 0;
    let subscriberDuplicate = 0;
    let subscriberUnexpected = 0;
    for (const key of expected) if (!got.has(key)) subscriberMissing += 1;
    for (const [key, times] of got) {
      delivered += times;
      if (times > 1) subscriberDuplicate += times - 1;
      if (!expected.has(key)) subscriberUnexpected += times;
    }
    missing += subscriberMissing;
    duplicate += subscriberDuplicate;
    unexpected += subscriberUnexpected;
    if (subscriberMissing + subscriberDuplicate + subscriberUnexpected > 0) {
      subscribersWithProblems += 1;
      if (problems.length < 5) problems.push(`#${subscriber.index} ${subscriber.transport} ${subscriber.group}: ${subscriberMissing} missing, ${subscriberDuplicate} duplicate, ${subscriberUnexpected} unexpected of ${expected.size}`);
    }
  }
  const byKind = new Map<string, { subscribers: number; groups: Set<string>; expected: number }>();
  for (const subscriber of all) {
    const entry = byKind.get(subscriber.kind.name) ?? { subscribers: 0, groups: new Set<string>(), expected: 0 };
    byKind.set(subscriber.kind.name, entry);
    entry.subscribers += 1;
    entry.groups.add(subscriber.group);
    entry.expected += expectedByGroup.get(subscriber.group)!.size;
  }
  const mix = [...byKind].map(([name, entry]) => `${name} ${entry.subscribers} in ${entry.groups.size} groups, ${entry.expected} expected`).join("; ");
  const sorted = (values: number[]) => Float64Array.from(values).sort();
  const minedToCommit = sorted([...minedAt].map(([block, at]) => committedAt.get(block)! - at));
  return { delivered, missing, duplicate, unexpected, subscribersWithProblems, problems, mix, fromCommit: sorted(fromCommit), fromMined: sorted(fromMined), minedToCommit, earlierThanCommit, lastDelivery };
}

const caseName = (r: Case) => `${r.subscribers} subscribers, ${r.replicas} replica(s), API_FEED_GROUPING=${r.grouping}`;
const ms = (value: number) => (Number.isNaN(value) ? "–" : Math.round(value).toString());
const mib = (kb: number) => (kb / 1024).toFixed(1);
const memory = (samples: Memory[], field: keyof Memory) => samples.map((sample) => mib(sample[field])).join("+");
const codes = (record: Record<string, number>) => (Object.keys(record).length === 0 ? "none" : Object.entries(record).map(([code, count]) => `${code} ×${count}`).join(", "));

function caseLine(r: CaseResult): string {
  if (r.skipped) return `  ${caseName(r)}: skipped (${r.skipped})`;
  return (
    `  ${caseName(r)}: opened ${r.opened} in ${r.openSeconds.toFixed(1)} s; window blocks ${r.windowBlocks[0]}–${r.windowBlocks[1]}; ` +
    `${r.delivered} of ${r.expected} expected deliveries, ${r.missing} missing, ${r.duplicate} duplicate, ${r.unexpected} unexpected (${r.subscribersWithProblems} subscribers affected); ` +
    `commit → client p50/p99 ${ms(percentile(r.fromCommit, 50))}/${ms(percentile(r.fromCommit, 99))} ms, mined → client ${ms(percentile(r.fromMined, 50))}/${ms(percentile(r.fromMined, 99))} ms, ` +
    `mined → commit p50/max ${ms(percentile(r.minedToCommit, 50))}/${ms(r.minedToCommit.at(-1) ?? NaN)} ms, ${r.earlierThanCommit} received before the checkpoint poll saw the block; ` +
    `${Math.round(r.deliveriesPerSecond)} deliveries/s, ${(r.bytesPerSecond / 1024).toFixed(0)} KiB/s; ` +
    `replica RSS ${memory(r.memoryBefore, "rssKb")} before → ${memory(r.memoryIdle, "rssKb")} idle → ${memory(r.memoryAfter, "rssKb")} MiB after the warm-up block, ` +
    `heap ${memory(r.memoryBefore, "heapKb")} → ${memory(r.memoryIdle, "heapKb")} → ${memory(r.memoryAfter, "heapKb")} MiB (after GC); CPU replicas ${r.replicaCpuPercent.map((p) => p.toFixed(0)).join("+")} %, Ponder ${r.ponderCpuPercent.toFixed(0)} %, clients ${r.clientCpuPercent.toFixed(0)} %; ` +
    `errors: ${codes(r.errors)}; ended: ${codes(r.endedBy)}\n    mix: ${r.mix}` +
    (r.problems.length > 0 ? `\n    ${r.problems.join("\n    ")}` : "")
  );
}

function printTables(results: CaseResult[]) {
  console.log("");
  console.log("| subscribers | replicas | API_FEED_GROUPING | expected deliveries | missing / duplicate / unexpected | commit → client p50 / p99 (ms) | mined → client p50 / p99 (ms) | deliveries/s | KiB/s | per subscriber idle: RSS / heap (KiB) | after an event: RSS / heap (KiB) | replica CPU % | errors |");
  console.log("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
  for (const r of results) {
    if (r.skipped) {
      console.log(`| ${r.subscribers} | ${r.replicas} | ${r.grouping} | skipped: ${r.skipped} | | | | | | | | | |`);
      continue;
    }
    const total = (samples: Memory[], field: keyof Memory) => samples.reduce((sum, sample) => sum + sample[field], 0);
    const perSubscriber = (samples: Memory[], field: keyof Memory) => ((total(samples, field) - total(r.memoryBefore, field)) / r.opened).toFixed(1);
    console.log(
      `| ${r.subscribers} | ${r.replicas} | ${r.grouping} | ${r.expected} | ${r.missing} / ${r.duplicate} / ${r.unexpected} | ${ms(percentile(r.fromCommit, 50))} / ${ms(percentile(r.fromCommit, 99))} | ` +
        `${ms(percentile(r.fromMined, 50))} / ${ms(percentile(r.fromMined, 99))} | ${Math.round(r.deliveriesPerSecond)} | ${(r.bytesPerSecond / 1024).toFixed(0)} | ${perSubscriber(r.memoryIdle, "rssKb")} / ${perSubscriber(r.memoryIdle, "heapKb")} | ${perSubscriber(r.memoryAfter, "rssKb")} / ${perSubscriber(r.memoryAfter, "heapKb")} | ` +
        `${r.replicaCpuPercent.map((p) => p.toFixed(0)).join(" + ")} | ${codes(r.errors)} |`,
    );
  }
}

await main();
