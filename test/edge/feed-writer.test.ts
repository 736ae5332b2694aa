/**
 * The feed writer's fence and its wake-up. Two writer stores on one Redis log: a writer whose
 * lease expired while it computed a step appends nothing, and a token from an earlier holding
 * is refused even when the same store holds the lease again. Then the real indexer (on Postgres
 * and on PGlite) with the fallback poll set to 5 s: each commit reaches the feed log well within
 * a second, because the commit notice, not the poll, woke the writer.
 */
import { Redis } from "ioredis";
import postgres from "postgres";
import { createWalletClient, getAddress, http, type Address } from "viem";
import { anvil } from "viem/chains";
import { afterAll, describe, expect, it } from "vitest";
import { inferencePaymentAbi } from "../../abis";
import { commitChannel } from "../../api/feed/commits";
import { diffStep, initialState, locate, type FeedReaderState } from "../../api/feed/diff";
import { createRedisFeedLog, createRedisFeedWriterStore, type FeedWriterStore } from "../../api/feed/log";
import type { FeedEntry, FeedRow } from "../../api/feed/messages";
import { taskIdOf, taskSalt } from "../../domain/tasks";
import { FAR, startDeployedChain } from "../../harness/chain";
import { createTestDatabase } from "../../harness/database";
import { waitUntil, patience } from "../../harness/wait";
import { startPonder } from "../../harness/ponder";
import { runScenario } from "../../harness/scenario";

const { REDIS_URL: redisUrl, DATABASE_URL: databaseUrl } = process.env;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function dropKeys(prefix: string) {
  const redis = new Redis(redisUrl!);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
}

function payoutAt(block: number) {
  const row: FeedRow<"payout"> = {
    id: `p${block}`, stream: "NODE_PAYMENT", recipient: "0x0000000000000000000000000000000000000001", amount: BigInt(block) * FAR, usdValue: 1n, farUsdPrice: 1n,
    taskId: null, node: null, blockNumber: block, logIndex: 0, timestamp: block, transactionHash: "0x01", blockHash: "0x02",
  };
  return locate("payout", row);
}

/** The indexer's table as the fence test's writers see it: one payout per block up to `latest`. */
const stepTo = (state: FeedReaderState, latest: number) => diffStep(state, { latest, finalized: 0 }, Array.from({ length: latest }, (_, index) => payoutAt(index + 1)), 5_000);

describe.skipIf(!redisUrl)("the feed writer's lease is a fence", () => {
  const prefix = `far-test-fence-${process.pid}-${Date.now()}`;
  const leaseMs = 300;
  const stores: FeedWriterStore[] = [];
  const open = () => {
    const store = createRedisFeedWriterStore({ url: redisUrl!, prefix, leaseMs });
    stores.push(store);
    return store;
  };
  afterAll(async () => {
    for (const store of stores) await store.close();
    await dropKeys(prefix);
  });

  async function streamKeys(): Promise<string[]> {
    const log = createRedisFeedLog({ url: redisUrl!, prefix });
    const entries = (await log.range("0-0", 1_000)) ?? [];
    await log.close();
    return entries.map((entry) => entry.key);
  }

  it("refuses the append of a writer whose lease expired while it computed its step, and keeps the new holder's progress", async () => {
    const [a, b] = [open(), open()];
    const tokenA = await a.acquire();
    expect(tokenA).toBeDefined();
    expect(await b.acquire()).toBeUndefined();
    const first = stepTo(initialState({ latest: 0, finalized: 0, finalizedByDepth: 0 }, []), 2);
    expect(await a.append(tokenA!, first.changes, first.state)).toBe(true);

    // A computes its next step from what it knows, then stalls past its lease.
    const stale = stepTo(first.state, 3);
    await sleep(leaseMs * 2);
    const tokenB = await b.acquire();
    expect(tokenB).toBeDefined();
    expect(tokenB).not.toBe(tokenA);
    const progress = await b.progress();
    expect(progress).toEqual(first.state);
    const next = stepTo(progress!, 4);
    expect(await b.append(tokenB!, next.changes, next.state)).toBe(true);

    expect(await a.append(tokenA!, stale.changes, stale.state)).toBe(false);
    expect(await a.acquire()).toBeUndefined();
    expect(await streamKeys()).toEqual(["p1", "p2", "p3", "p4"]);
    expect(await b.progress()).toEqual(next.state);
  });

  it("refuses a token from an earlier holding after the same store acquired again", async () => {
    const [, b] = stores as [FeedWriterStore, FeedWriterStore];
    const earlier = await b.acquire();
    expect(earlier).toBeDefined();
    await sleep(leaseMs * 2);
    const later = await b.acquire();
    expect(later).toBeDefined();
    expect(later).not.toBe(earlier);
    const before = await b.progress();
    const step = stepTo(before!, 5);
    expect(await b.append(earlier!, step.changes, step.state)).toBe(false);
    expect(await streamKeys()).toEqual(["p1", "p2", "p3", "p4"]);
    expect(await b.progress()).toEqual(before);
    expect(await b.append(later!, step.changes, step.state)).toBe(true);
    expect(await streamKeys()).toEqual(["p1", "p2", "p3", "p4", "p5"]);
  });
});

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

/**
 * The writer's fallback poll in these tests: long enough that an entry arriving within a third
 * of it (on a busy machine too) was woken by the commit notice, not found by a poll — eight
 * entries all that early by polling alone would be a 1-in-6,500 chance.
 */
const FALLBACK_POLL_MS = 30_000;
const WOKEN_BY_NOTICE_MS = FALLBACK_POLL_MS / 3;

/**
 * The indexer with a long fallback poll; tasks created one block at a time. For each: from the
 * block's receipt to its entry in the feed log and, where the test can hear the notices
 * (Postgres), from the commit notice to the entry.
 */
async function commitLatencies(database: "postgres" | "pglite") {
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    const chain = await startDeployedChain();
    cleanup.push(() => chain.anvil.stop());
    const scenario = await runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient: chain.publicClient, manifest: chain.manifest, seed: 5, steps: 20 });
    const testDatabase = database === "postgres" ? await createTestDatabase(databaseUrl!) : undefined;
    if (testDatabase) cleanup.push(() => testDatabase.drop());
    const ponder = await startPonder({ rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir, databaseUrl: testDatabase?.url, env: { API_FEED_POLL_MS: String(FALLBACK_POLL_MS), API_LOG_LEVEL: "warn" } });
    cleanup.push(() => ponder.kill());
    cleanup.push(() => dropKeys(`far-test-${ponder.schema}`));
    await ponder.waitForBlock(await chain.publicClient.getBlockNumber(), 480_000);

    const notices: number[] = [];
    if (testDatabase) {
      const sql = postgres(testDatabase.url, { max: 1, onnotice: () => {} });
      cleanup.push(() => sql.end());
      // The writer installs the trigger at its first poll once Ponder's table exists.
      await waitUntil(async () => (await sql`SELECT 1 FROM pg_trigger WHERE tgname = 'far_feed_commit'`).length > 0, "the commit trigger", 2 * FALLBACK_POLL_MS);
      await sql.listen(commitChannel(ponder.schema), () => notices.push(performance.now()));
    }
    const log = createRedisFeedLog({ url: redisUrl!, prefix: `far-test-${ponder.schema}` });
    cleanup.push(() => log.close());
    const arrivals: { at: number; entries: FeedEntry[] }[] = [];
    log.tail((entries) => arrivals.push({ at: performance.now(), entries }));
    await sleep(500);

    const user = getAddress(scenario.users[0]!) as Address;
    const payment = getAddress(chain.manifest.contracts.InferencePayment.address);
    const wallet = createWalletClient({ chain: anvil, transport: http(chain.anvil.rpcUrl) });
    const mined = async (hash: `0x${string}`) => (await chain.publicClient.waitForTransactionReceipt({ hash })).blockNumber;
    await mined(await wallet.writeContract({ account: user, address: payment, abi: inferencePaymentAbi, functionName: "deposit", args: [100n * FAR] }));
    await sleep(1_000);

    const fromReceipt: number[] = [];
    const fromNotice: number[] = [];
    for (let index = 0; index < 8; index += 1) {
      const salt = taskSalt(`feed-writer-${database}-${index}`);
      const block = await mined(await wallet.writeContract({ account: user, address: payment, abi: inferencePaymentAbi, functionName: "createTask", args: [salt, FAR] }));
      const receiptAt = performance.now();
      const key = taskIdOf(user, salt).toLowerCase();
      let arrival: (typeof arrivals)[number] | undefined;
      await waitUntil(() => {
        arrival = arrivals.find(({ entries }) => entries.some((entry) => entry.blockNumber === Number(block) && entry.key.toLowerCase().startsWith(key)));
        return arrival !== undefined;
      }, `the task of block ${block} in the feed`, 2 * FALLBACK_POLL_MS);
      fromReceipt.push(arrival!.at - receiptAt);
      const notice = notices.filter((at) => at <= arrival!.at).at(-1);
      if (testDatabase) fromNotice.push(arrival!.at - notice!);
      await sleep(300);
    }
    return { fromReceipt, fromNotice };
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  }
}

describe.skipIf(!redisUrl || !databaseUrl)("commit notices wake the feed writer on Postgres", () => {
  it("appends each commit well before the fallback poll", async () => {
    const { fromReceipt, fromNotice } = await commitLatencies("postgres");
    console.log(`postgres: receipt→entry ms ${fromReceipt.map(Math.round).join(" ")} (median ${Math.round(median(fromReceipt))}); notice→entry ms ${fromNotice.map(Math.round).join(" ")} (median ${Math.round(median(fromNotice))})`);
    expect(Math.max(...fromNotice)).toBeLessThan(WOKEN_BY_NOTICE_MS);
    expect(Math.max(...fromReceipt)).toBeLessThan(WOKEN_BY_NOTICE_MS);
  }, patience(900_000));
});

describe.skipIf(!redisUrl)("commit notices wake the feed writer on PGlite", () => {
  it("appends each commit well before the fallback poll", async () => {
    const { fromReceipt } = await commitLatencies("pglite");
    console.log(`pglite: receipt→entry ms ${fromReceipt.map(Math.round).join(" ")} (median ${Math.round(median(fromReceipt))})`);
    expect(Math.max(...fromReceipt)).toBeLessThan(WOKEN_BY_NOTICE_MS);
  }, patience(900_000));
});
