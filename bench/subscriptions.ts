/**
 * `npx tsx bench/subscriptions.ts [--quick] [--poll-ms N] [--events N] [--subscribers A,B]`
 *
 * Payout subscriptions over SSE from the embedded API (the real `ponder start`, PGlite) on a
 * fresh local anvil: memory per subscriber (the Ponder process's RSS before and after opening
 * N subscriptions) and delivery latency of each payout to every subscriber, measured from the
 * block appearing in the indexer's /status and from the transaction's receipt.
 *
 * The subscribers live in a worker thread so that their parsing never delays the main thread,
 * which sends the transactions and polls /status: both timestamps stay honest under load.
 */
import { readFile, readdir } from "node:fs/promises";
import { Agent, request, type ClientRequest, type IncomingMessage } from "node:http";
import { isMainThread, parentPort, Worker } from "node:worker_threads";
import type { Hash, Hex } from "viem";
import { benchArgs } from "./args";

const PAYOUTS = "subscription { payouts { cursor action blockNumber payout { id } } }";

// ---------------------------------------------------------------------------------------------
// Worker thread: N SSE connections, and for every payout block the times each one received it.
// ---------------------------------------------------------------------------------------------

type WorkerRequest =
  | { id: number; type: "open"; url: string; count: number; concurrency: number }
  | { id: number; type: "count"; block: number }
  | { id: number; type: "collect" }
  | { id: number; type: "close" };

type CollectResult = { blocks: [block: number, times: Float64Array][]; errors: string[]; ended: number; open: number };

function runSubscriberWorker() {
  const port = parentPort!;
  // One socket per subscription, as separate browsers would have; no pooling limit.
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  const requests: ClientRequest[] = [];
  const received = new Map<number, number[]>();
  const errors: string[] = [];
  let ended = 0;
  let open = 0;
  let closing = false;

  const record = (block: number, at: number) => {
    let times = received.get(block);
    if (!times) received.set(block, (times = []));
    times.push(at);
  };

  function openOne(url: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const body = JSON.stringify({ query: PAYOUTS });
      const req = request(url, {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", accept: "text/event-stream", "content-length": Buffer.byteLength(body) },
      });
      requests.push(req);
      req.on("error", (error) => {
        if (!closing) errors.push(String(error));
        reject(error);
      });
      req.on("response", (response: IncomingMessage) => {
        if (response.statusCode !== 200) {
          reject(new Error(`HTTP ${response.statusCode}`));
          response.resume();
          return;
        }
        open += 1;
        response.setEncoding("utf8");
        let buffer = "";
        response.on("data", (chunk: string) => {
          // One clock reading per chunk: every frame in it arrived at the same moment.
          const at = Date.now();
          buffer += chunk;
          let boundary: number;
          while ((boundary = buffer.indexOf("\n\n")) >= 0) {
            const frame = buffer.slice(0, boundary);
            buffer = buffer.slice(boundary + 2);
            if (frame.startsWith("event: complete")) continue;
            if (!frame.startsWith("event: next")) continue;
            if (frame.includes('"errors"')) {
              errors.push(frame.slice(0, 300));
              continue;
            }
            const block = /"blockNumber":(\d+)/.exec(frame)?.[1];
            if (block && frame.includes('"action":"ADDED"')) record(Number(block), at);
          }
        });
        response.on("end", () => {
          open -= 1;
          ended += 1;
        });
        response.on("error", () => undefined);
        resolve();
      });
      req.end(body);
    });
  }

  async function openMany(url: string, count: number, concurrency: number) {
    let next = 0;
    let failed = 0;
    const lane = async () => {
      while (next < count) {
        next += 1;
        await openOne(url).catch((error: unknown) => {
          failed += 1;
          if (errors.length < 20) errors.push(`open: ${String(error)}`);
        });
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
    return { open, failed };
  }

  port.on("message", async (message: WorkerRequest) => {
    const reply = (value: unknown, transfer: ArrayBuffer[] = []) => port.postMessage({ id: message.id, value }, transfer);
    switch (message.type) {
      case "open":
        return reply(await openMany(message.url, message.count, message.concurrency));
      case "count":
        return reply(received.get(message.block)?.length ?? 0);
      case "collect": {
        const blocks = [...received].map(([block, times]) => [block, Float64Array.from(times)] as [number, Float64Array]);
        const result: CollectResult = { blocks, errors: errors.slice(0, 20), ended, open };
        return reply(result, blocks.map(([, times]) => times.buffer as ArrayBuffer));
      }
      case "close": {
        closing = true;
        for (const req of requests.splice(0)) req.destroy();
        received.clear();
        agent.destroy();
        return reply(true);
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Main thread.
// ---------------------------------------------------------------------------------------------

async function main() {
  // Loaded here, not at the top: the worker thread runs this same file and needs none of it.
  const { getAddress, parseEventLogs } = await import("viem");
  const { farTokenAbi, inferencePaymentAbi } = await import("../abis");
  const { anvilAccount } = await import("../common/chain");
  const { taskIdOf, taskSalt } = await import("../common/task");
  const { FAR, startDeployedChain } = await import("../test/helpers/chain");
  const { query } = await import("../test/helpers/graphql");
  const { startPonder } = await import("../test/helpers/ponder");

  const { quick, option } = benchArgs();
  const subscriberCounts = (option("--subscribers") ?? (quick ? "100,500" : "1000,5000")).split(",").map(Number);
  const pollMs = Number(option("--poll-ms") ?? 250);
  const events = Number(option("--events") ?? (quick ? 8 : 20));

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const percentile = (sorted: Float64Array, p: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!);
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

  /** Kilobytes resident for a process, from /proc (VmRSS). */
  async function rssKb(pid: number): Promise<number> {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  }

  /**
   * The node process that runs Ponder: the child itself when its bin is a node script (the
   * `#!/usr/bin/env node` shebang execs node), else the descendant that is node.
   */
  async function ponderNodePid(rootPid: number): Promise<number> {
    const queue = [rootPid];
    while (queue.length > 0) {
      const pid = queue.shift()!;
      const comm = (await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "")).trim();
      if (comm === "node" || comm.startsWith("node")) return pid;
      for (const task of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
        const children = await readFile(`/proc/${pid}/task/${task}/children`, "utf8").catch(() => "");
        queue.push(...children.split(" ").filter(Boolean).map(Number));
      }
    }
    throw new Error(`no node process under ${rootPid}`);
  }

  /** CPU seconds a process has used (user + system), from /proc/<pid>/stat in clock ticks of 10 ms. */
  async function cpuSeconds(pid: number): Promise<number> {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  }

  /** Several samples a little apart: RSS moves with every GC, the median is steadier than one read. */
  async function sampleRss(pid: number, samples = 5, gapMs = 500) {
    const values: number[] = [];
    for (let i = 0; i < samples; i++) {
      values.push(await rssKb(pid));
      if (i < samples - 1) await sleep(gapMs);
    }
    return median(values);
  }

  function startWorker() {
    const worker = new Worker(new URL(import.meta.url));
    let nextId = 0;
    const waiting = new Map<number, (value: unknown) => void>();
    worker.on("message", ({ id, value }: { id: number; value: unknown }) => waiting.get(id)?.(value));
    worker.on("error", (error) => console.error("subscriber worker failed:", error));
    const call = <T>(message: Omit<WorkerRequest, "id"> & Record<string, unknown>) =>
      new Promise<T>((resolve) => {
        const id = nextId++;
        waiting.set(id, (value) => {
          waiting.delete(id);
          resolve(value as T);
        });
        worker.postMessage({ ...message, id });
      });
    return { call, terminate: () => worker.terminate() };
  }

  type CaseResult = {
    subscribers: number;
    opened: number;
    openSeconds: number;
    rssBeforeKb: number;
    rssAfterKb: number;
    rssAfterEventsKb: number;
    payoutEvents: number;
    pairs: number;
    missing: number;
    fromCommit: Float64Array;
    fromReceipt: Float64Array;
    receiptToCommit: Float64Array;
    statusMinusCommit: Float64Array;
    pollRoundTrip: Float64Array;
    ponderCores: number;
    deliveriesPerSecond: number;
    settlementsPerSecond: number;
    earlierThanCommit: number;
    errors: string[];
  };

  async function runCase(subscribers: number): Promise<CaseResult> {
    const cleanup: (() => Promise<unknown>)[] = [];
    try {
      const chain = await startDeployedChain();
      cleanup.push(() => chain.anvil.stop());
      const { publicClient, manifest, walletFor } = chain;
      const token = getAddress(manifest.contracts.FARToken.address);
      const payment = getAddress(manifest.contracts.InferencePayment.address);
      const [admin, oracle, user, staker] = [0, 1, 10, 11].map(walletFor) as [ReturnType<typeof walletFor>, ReturnType<typeof walletFor>, ReturnType<typeof walletFor>, ReturnType<typeof walletFor>];
      const node = anvilAccount(12).address;
      const mined = async (hash: Promise<Hash>) => publicClient.waitForTransactionReceipt({ hash: await hash });

      // Everything but the settlements happens before Ponder starts: it backfills this at once.
      await mined(admin.writeContract({ address: token, abi: farTokenAbi, functionName: "transfer", args: [user.account.address, 1_000_000n * FAR] }));
      await mined(admin.writeContract({ address: token, abi: farTokenAbi, functionName: "transfer", args: [staker.account.address, 1_000n * FAR] }));
      // A staker makes every settlement pay all three streams (node, stakers, treasury).
      await mined(staker.writeContract({ address: token, abi: farTokenAbi, functionName: "stake", args: [1_000n * FAR] }));
      await mined(oracle.writeContract({ address: payment, abi: inferencePaymentAbi, functionName: "registerNode", args: [node, node] }));
      await mined(user.writeContract({ address: token, abi: farTokenAbi, functionName: "approve", args: [payment, 1_000_000n * FAR] }));
      await mined(user.writeContract({ address: payment, abi: inferencePaymentAbi, functionName: "deposit", args: [1_000_000n * FAR] }));
      const taskIds: Hex[] = [];
      for (let i = 0; i <= events; i++) {
        const salt = taskSalt(`bench-subscriptions-${subscribers}-${i}`);
        await mined(user.writeContract({ address: payment, abi: inferencePaymentAbi, functionName: "createTask", args: [salt, 10n * FAR] }));
        taskIds.push(taskIdOf(user.account.address, salt));
      }

      const ponder = await startPonder({ rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir, env: { API_FEED_POLL_MS: String(pollMs) } });
      // SIGTERM first, so Ponder stops its esbuild child too; SIGKILL if it takes too long.
      cleanup.push(() => Promise.race([ponder.stop(), sleep(10_000)]).then(() => ponder.kill()));
      await ponder.waitForBlock(await publicClient.getBlockNumber());
      const url = `${ponder.baseUrl}/graphql`;
      const pid = await ponderNodePid(ponder.child.pid!);

      /**
       * Polls `read` every 10 ms and notes, for each block number, the start of the first poll
       * that showed it. The server answers polls in between sending events, so a poll's round
       * trip grows with the subscribers; its start is the closest bound on the commit we have.
       */
      const watchProgress = (read: () => Promise<number | undefined>) => {
        const seenAt = new Map<number, number>();
        const roundTrips: number[] = [];
        let polling = true;
        let highest = 0;
        const loop = (async () => {
          while (polling) {
            const asked = Date.now();
            const block = await read().catch(() => undefined);
            roundTrips.push(Date.now() - asked);
            if (block !== undefined && block > highest) {
              for (let b = highest + 1; b <= block; b++) seenAt.set(b, asked);
              highest = block;
            }
            await sleep(10);
          }
        })();
        cleanup.push(async () => {
          polling = false;
          await loop;
        });
        return { seenAt, roundTrips };
      };
      // Committed: the indexer's checkpoint row, read through the API exactly as the feed reads it.
      const committed = watchProgress(async () => (await query<{ indexingStatus: { latestBlock: { number: number } } }>(url, "{ indexingStatus { latestBlock { number } } }")).indexingStatus.latestBlock.number);
      // Ponder's own /status, for comparison: it is updated apart from the commit.
      const status = watchProgress(() => ponder.status());

      const worker = startWorker();
      cleanup.push(() => worker.terminate());

      // Warm the API (schema, Yoga, the subscribe path) so the baseline is not charged to subscribers.
      await query(url, "{ __typename }");
      await worker.call({ type: "open", url, count: 10, concurrency: 10 });
      await worker.call({ type: "close" });
      await worker.terminate();
      await sleep(2_000);
      const rssBeforeKb = await sampleRss(pid);

      const worker2 = startWorker();
      cleanup.push(() => worker2.terminate());
      const openStarted = Date.now();
      const { open: opened, failed } = await worker2.call<{ open: number; failed: number }>({ type: "open", url, count: subscribers, concurrency: Math.min(200, subscribers) });
      const openSeconds = (Date.now() - openStarted) / 1000;
      if (failed > 0) console.error(`${failed} of ${subscribers} subscriptions failed to open`);

      let task = 0;
      const settle = async () => {
        const hash = await oracle.writeContract({ address: payment, abi: inferencePaymentAbi, functionName: "completeTask", args: [taskIds[task++]!, node, 7n * FAR, 90n] });
        // Automine mines right after eth_sendTransaction returns: poll tightly for the receipt.
        let receipt = await publicClient.getTransactionReceipt({ hash }).catch(() => undefined);
        while (!receipt) {
          await sleep(2);
          receipt = await publicClient.getTransactionReceipt({ hash }).catch(() => undefined);
        }
        const at = Date.now();
        let payouts = 0;
        for (const { args: done } of parseEventLogs({ abi: inferencePaymentAbi, logs: receipt.logs, eventName: "TaskCompleted" })) {
          payouts += [done.nodePayment, done.stakerPayment, done.treasuryPayment].filter((amount) => amount > 0n).length;
        }
        return { block: Number(receipt.blockNumber), receiptAt: at, payouts };
      };
      const deliveredAll = async (block: number, expected: number, timeoutMs: number) => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const count = await worker2.call<number>({ type: "count", block });
          if (count >= expected) return true;
          if (Date.now() > deadline) return false;
          await sleep(50);
        }
      };

      // A first payout that every subscriber must receive: proves each one is live on the feed.
      const warm = await settle();
      if (!(await deliveredAll(warm.block, opened * warm.payouts, 120_000))) console.error("not every subscriber received the warm-up payout");
      await sleep(2_000);
      const rssAfterKb = await sampleRss(pid);

      const roundTripsFrom = committed.roundTrips.length;
      const cpuBefore = await cpuSeconds(pid);
      const wallBefore = Date.now();
      const measured: { block: number; receiptAt: number; payouts: number }[] = [];
      for (let i = 0; i < events; i++) {
        // Irregular gaps, longer than the feed's poll, so each payout meets the poll at a random phase.
        await sleep(600 + Math.random() * 600);
        measured.push(await settle());
      }
      for (const event of measured) await deliveredAll(event.block, opened * event.payouts, 60_000);
      // Under load a watcher's poll can come back after the deliveries did: let both see the last
      // block (a watcher marks every block up to what it saw) before reading their times.
      const lastBlock = Math.max(...measured.map((event) => event.block));
      for (const deadline = Date.now() + 30_000; !(committed.seenAt.has(lastBlock) && status.seenAt.has(lastBlock)) && Date.now() < deadline; ) await sleep(50);
      const ponderCores = (await cpuSeconds(pid) - cpuBefore) / ((Date.now() - wallBefore) / 1000);
      const rssAfterEventsKb = await rssKb(pid);

      const collected = await worker2.call<CollectResult>({ type: "collect" });
      const byBlock = new Map(collected.blocks);
      const fromCommit: number[] = [];
      const fromReceipt: number[] = [];
      const receiptToCommit: number[] = [];
      let missing = 0;
      const statusMinusCommit: number[] = [];
      let earlierThanCommit = 0;
      let payoutEvents = 0;
      let lastDelivery = 0;
      for (const event of measured) {
        const times = byBlock.get(event.block) ?? new Float64Array();
        const commitAt = committed.seenAt.get(event.block);
        const statusAt = status.seenAt.get(event.block);
        if (commitAt === undefined || statusAt === undefined) throw new Error(`block ${event.block} never showed as indexed`);
        receiptToCommit.push(commitAt - event.receiptAt);
        statusMinusCommit.push(statusAt - commitAt);
        payoutEvents += event.payouts;
        missing += opened * event.payouts - times.length;
        for (const at of times) {
          lastDelivery = Math.max(lastDelivery, at);
          if (at < commitAt) earlierThanCommit += 1;
          fromCommit.push(at - commitAt);
          fromReceipt.push(at - event.receiptAt);
        }
      }
      await worker2.call({ type: "close" });
      const sorted = (values: number[]) => Float64Array.from(values).sort();
      return {
        subscribers,
        opened,
        openSeconds,
        rssBeforeKb,
        rssAfterKb,
        rssAfterEventsKb,
        payoutEvents,
        pairs: fromCommit.length,
        missing,
        fromCommit: sorted(fromCommit),
        fromReceipt: sorted(fromReceipt),
        receiptToCommit: sorted(receiptToCommit),
        statusMinusCommit: sorted(statusMinusCommit),
        pollRoundTrip: sorted(committed.roundTrips.slice(roundTripsFrom)),
        ponderCores,
        deliveriesPerSecond: fromCommit.length / ((lastDelivery - measured[0]!.receiptAt) / 1000),
        settlementsPerSecond: measured.length / ((measured.at(-1)!.receiptAt - measured[0]!.receiptAt) / 1000),
        earlierThanCommit,
        errors: collected.errors,
      };
    } finally {
      for (const step of cleanup.reverse()) await step().catch((error: unknown) => console.error("cleanup:", error));
    }
  }

  console.log(`subscriptions bench: subscribers ${subscriberCounts.join(", ")}; ${events} settlements each; API_FEED_POLL_MS=${pollMs}; Ponder RPC poll 200 ms`);
  const results: CaseResult[] = [];
  for (const count of subscriberCounts) {
    const result = await runCase(count);
    results.push(result);
    console.log(
      `  ${count}: opened ${result.opened} in ${result.openSeconds.toFixed(1)} s, ${result.pairs} deliveries, ${result.missing} missing, ` +
        `Ponder used ${result.ponderCores.toFixed(2)} cores while delivering, ${Math.round(result.deliveriesPerSecond)} deliveries/s from first receipt to last delivery ` +
        `(settlements sent at ${result.settlementsPerSecond.toFixed(2)}/s), ` +
        `${result.earlierThanCommit} received before the checkpoint poll saw the block, ` +
        `/status behind the checkpoint p50 ${Math.round(percentile(result.statusMinusCommit, 50))} ms, ` +
        `checkpoint poll round trip p50/p99 ${Math.round(percentile(result.pollRoundTrip, 50))}/${Math.round(percentile(result.pollRoundTrip, 99))} ms, errors: ${result.errors.length ? result.errors.join(" | ") : "none"}`,
    );
  }

  const ms = (value: number) => Math.round(value).toString();
  const mib = (kb: number) => (kb / 1024).toFixed(1);
  console.log("");
  console.log("| subscribers | payout events | deliveries | Ponder RSS before (MiB) | after opening (MiB) | per subscriber (KiB) | commit → client p50 / p99 (ms) | receipt → client p50 / p99 (ms) | receipt → commit p50 / max (ms) |");
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of results) {
    const perSubscriber = (r.rssAfterKb - r.rssBeforeKb) / r.opened;
    console.log(
      `| ${r.opened} | ${r.payoutEvents} | ${r.pairs} | ${mib(r.rssBeforeKb)} | ${mib(r.rssAfterKb)} | ${perSubscriber.toFixed(1)} | ` +
        `${ms(percentile(r.fromCommit, 50))} / ${ms(percentile(r.fromCommit, 99))} | ${ms(percentile(r.fromReceipt, 50))} / ${ms(percentile(r.fromReceipt, 99))} | ` +
        `${ms(percentile(r.receiptToCommit, 50))} / ${ms(r.receiptToCommit[r.receiptToCommit.length - 1] ?? NaN)} |`,
    );
  }
  console.log("");
  for (const r of results) console.log(`RSS after all payouts with ${r.opened} subscribers: ${mib(r.rssAfterEventsKb)} MiB`);
}

if (isMainThread) {
  await main();
} else {
  runSubscriberWorker();
}
