/**
 * Payout subscriptions over SSE from the embedded API (Ponder on PGlite): a subscriber sees
 * exactly the payouts table, in chain order; one that disconnects at random and resumes with its
 * cursor ends with the same, without duplicates; reorgs retract exactly what they removed. The
 * first also live on a chain like BSC (0.75 s blocks, finality from the chain's tags).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { createWalletClient, getAddress, http, type Hex } from "viem";
import { anvil } from "viem/chains";
import { farTokenAbi, inferencePaymentAbi } from "../../abis";
import { FAR, startDeployedChain } from "../../harness/chain";
import { data, subscribeSse } from "../../harness/graphql";
import { servedSubscriptions } from "../../harness/metrics";
import { waitUntil } from "../../harness/wait";
import { startPonder, type PonderProcess } from "../../harness/ponder";
import { createReorgDriver, payoutsIn } from "../helpers/reorg";
import { seededRandom } from "../../common/random";
import { runScenario, type ScenarioResult } from "../../harness/scenario";
import { netPayouts, PAYOUTS, payoutTable, resumingSubscriber, type PayoutEvent } from "./helpers";
import { taskIdOf, taskSalt } from "../../domain/tasks";
import { cleanupAfterAll } from "../helpers/cleanup";
import { LOCAL_CHAINS } from "../../common/config";

describe("payout subscriptions, embedded (SSE)", () => {
  let chain: Awaited<ReturnType<typeof startDeployedChain>>;
  let ponder: PonderProcess;
  let url: string;
  let scenario: ScenarioResult;
  const cleanup = cleanupAfterAll();

  beforeAll(async () => {
    chain = await startDeployedChain();
    cleanup.push(() => chain.anvil.stop());
    ponder = await startPonder({ rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir, env: { API_FEED_POLL_MS: "100" } });
    cleanup.push(() => ponder.kill());
    await ponder.waitForBlock(await chain.publicClient.getBlockNumber());
    url = `${ponder.baseUrl}/graphql`;
  });

  it("delivers every payout exactly once, in order, to a steady and to a resuming subscriber", async () => {
    scenario = await expectExactlyOnceDelivery({ chain, ponder, url, cleanup });
  });

  it("retracts exactly the payouts a reorg of depth 1 to 5 removes", async () => {
    const { publicClient } = chain;
    const driver = await createReorgDriver({ rpcUrl: chain.anvil.rpcUrl, publicClient, manifest: chain.manifest, user: scenario.users[0]!, node: scenario.nodes[0]!, label: "sub-reorg" });
    const watcher = subscribeSse<PayoutEvent>(url, PAYOUTS, { includeFinality: true });
    cleanup.push(() => watcher.close());
    await new Promise((resolve) => setTimeout(resolve, 500));

    for (const depth of [1, 2, 3, 4, 5]) {
      const { receipts, spare } = await driver.settleBlocks(depth);
      const removed = receipts.map((receipt) => receipt.transactionHash);
      const isRemoved = (event: PayoutEvent) => removed.includes(event.payout.transactionHash as Hex);
      const expected = payoutsIn(receipts);
      await waitUntil(() => watcher.received.filter((event) => event.action === "ADDED" && isRemoved(event)).length === expected, `the settlements of depth ${depth} to be delivered`);
      const delivered = watcher.received.filter((event) => event.action === "ADDED" && isRemoved(event)).map((event) => event.payout.id).sort();

      await ponder.waitForBlock(await driver.reorg(depth, spare));
      await waitUntil(() => watcher.received.filter((event) => event.action === "RETRACTED" && isRemoved(event)).length >= delivered.length, `retractions after a reorg of depth ${depth}`);
      const retracted = watcher.received.filter((event) => event.action === "RETRACTED").filter(isRemoved).map((event) => event.payout.id).sort();
      expect(retracted, `depth ${depth}`).toEqual(delivered);
    }
    const allRetracted = watcher.received.filter((event) => event.action === "RETRACTED");
    expect(allRetracted.every(isRemovedAnywhere(watcher.received))).toBe(true);
    // What the watcher holds after applying retractions is exactly the table from where it joined.
    await ponder.waitForBlock(await publicClient.getBlockNumber());
    const table = await payoutTable(url);
    const joined = table.indexOf(netPayouts(watcher.received)[0]!);
    await waitUntil(() => netPayouts(watcher.received).length >= table.length - joined, "the net stream to reach the table");
    expect(netPayouts(watcher.received)).toEqual(table.slice(joined));

    // Once blocks pass the finality depth, what was added and never retracted is announced final.
    // Ponder moves its finalized block (to the head − 30) only once the head is 2 × 30 blocks
    // past it, in steps of 30: 60 more blocks take it past every block mined so far, where 40
    // did only when the last step happened to fall late enough.
    await chain.testClient.mine({ blocks: 60 });
    await ponder.waitForBlock(await publicClient.getBlockNumber());
    const retractedIds = new Set(watcher.received.filter((event) => event.action === "RETRACTED").map((event) => event.payout.id));
    const survivors = watcher.received.filter((event) => event.action === "ADDED" && !retractedIds.has(event.payout.id)).map((event) => event.payout.id);
    const finalizedIds = () => watcher.received.filter((event) => event.action === "FINALIZED").map((event) => event.payout.id);
    // Payouts added before the watcher joined may be finalized while it listens: it sees those too.
    const addedIds = new Set(survivors);
    const finalizedOfOwn = () => finalizedIds().filter((id) => addedIds.has(id));
    await waitUntil(() => finalizedOfOwn().length >= survivors.length, "FINALIZED events for every surviving payout");
    expect(finalizedOfOwn()).toEqual(survivors);
    expect(finalizedIds().some((id) => retractedIds.has(id))).toBe(false);
    expect(new Set(finalizedIds()).size).toBe(finalizedIds().length);
    expect(watcher.errors).toEqual([]);
  });

  it("answers transactionIndexed as soon as a transaction's effects are indexed", async () => {
    const { publicClient, manifest } = chain;
    const token = getAddress(manifest.contracts.FARToken.address);
    const wallet = createWalletClient({ chain: anvil, transport: http(chain.anvil.rpcUrl) });
    const hash = await wallet.writeContract({ account: scenario.users[1]!, address: token, abi: farTokenAbi, functionName: "stake", args: [FAR] });
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    const waiting = subscribeSse<{ hash: string; indexed: boolean; blockNumber: number }>(url, `subscription ($hash: Bytes32!) { transactionIndexed(hash: $hash) { hash indexed blockNumber } }`, { hash });
    cleanup.push(() => waiting.close());
    await waiting.ended;
    expect(waiting.errors).toEqual([]);
    expect(waiting.received).toEqual([{ hash, indexed: true, blockNumber: Number(receipt.blockNumber) }]);
    const { transaction } = await data<{ transaction: { stakingChanges: { action: string }[] } }>(url, `query ($hash: Bytes32!) { transaction(hash: $hash) { stakingChanges { action } } }`, { hash });
    expect(transaction.stakingChanges).toEqual([{ action: "STAKE" }]);
  });

  it("streams task updates, staking changes and indexing progress", async () => {
    const { publicClient, manifest } = chain;
    const token = getAddress(manifest.contracts.FARToken.address);
    const payment = getAddress(manifest.contracts.InferencePayment.address);
    const wallet = createWalletClient({ chain: anvil, transport: http(chain.anvil.rpcUrl) });
    const user = scenario.users[2]!;
    // The transactions wait until both feed subscriptions are served (servedSubscriptions says why).
    const [tasks, staking] = await servedSubscriptions(ponder.baseUrl, 2, () => [
      subscribeSse<{ action: string; task: { id: string; status: string; user: { address: string } } }>(
        url,
        `subscription ($user: Address) { taskUpdated(user: $user) { cursor action task { id status user { address } } } }`,
        { user: user.toUpperCase().replace("0X", "0x") },
      ),
      subscribeSse<{ action: string; change: { action: string; amount: string } }>(
        url,
        `subscription ($address: Address) { stakingChanged(address: $address) { cursor action change { action amount } } }`,
        { address: user },
      ),
    ] as const);
    const progress = subscribeSse<{ latestBlock: { number: number } }>(url, `subscription { indexingStatus { latestBlock { number } } }`);
    cleanup.push(() => [tasks, staking, progress].forEach((handle) => handle.close()));

    const salt = taskSalt("subscribed-task");
    const id = taskIdOf(user, salt);
    await wallet.writeContract({ account: user, address: payment, abi: inferencePaymentAbi, functionName: "deposit", args: [5n * FAR] });
    await wallet.writeContract({ account: user, address: payment, abi: inferencePaymentAbi, functionName: "createTask", args: [salt, 5n * FAR] });
    await wallet.writeContract({ account: user, address: token, abi: farTokenAbi, functionName: "stake", args: [2n * FAR] });
    const head = Number(await publicClient.getBlockNumber());

    await waitUntil(() => tasks.received.length > 0 && staking.received.length > 0, "task and staking events").catch((error: Error) => {
      throw new Error(`${error.message}: received ${tasks.received.length} task and ${staking.received.length} staking events, errors ${JSON.stringify([...tasks.errors, ...staking.errors])}`);
    });
    expect(tasks.errors).toEqual([]);
    expect(tasks.received).toEqual([{ cursor: expect.any(String), action: "ADDED", task: { id, status: "CREATED", user: { address: user.toLowerCase() } } }]);
    expect(staking.received).toEqual([{ cursor: expect.any(String), action: "ADDED", change: { action: "STAKE", amount: String(2n * FAR) } }]);
    await waitUntil(() => progress.received.some((status) => status.latestBlock.number >= head), "indexing progress to reach the head");
    const numbers = progress.received.map((status) => status.latestBlock.number);
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
  });
});

/** A retraction must name a payout that was added earlier on the same stream. */
function isRemovedAnywhere(events: PayoutEvent[]) {
  return (retraction: PayoutEvent) => events.some((event) => event.action === "ADDED" && event.payout.id === retraction.payout.id);
}

/**
 * While a random scenario runs, a steady subscriber and one that disconnects at random and
 * resumes with its cursor each receive exactly the payouts table, in chain order, once.
 */
async function expectExactlyOnceDelivery({ chain, ponder, url, cleanup }: { chain: Awaited<ReturnType<typeof startDeployedChain>>; ponder: PonderProcess; url: string; cleanup: (() => unknown)[] }) {
  const steady = subscribeSse<PayoutEvent>(url, PAYOUTS);
  cleanup.push(() => steady.close());
  const resuming = resumingSubscriber(url, seededRandom(3).next);
  await new Promise((resolve) => setTimeout(resolve, 500));

  const scenario = await runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient: chain.publicClient, manifest: chain.manifest, seed: 5, steps: 300 });
  await ponder.waitForBlock(await chain.publicClient.getBlockNumber());
  while (resuming.reconnects() < 20) await new Promise((resolve) => setTimeout(resolve, 50));
  const last = await resuming.finish();
  cleanup.push(() => last.close());

  const table = await payoutTable(url);
  expect(table.length).toBeGreaterThan(50);
  await waitUntil(() => netPayouts(steady.received).length >= table.length, "the steady subscriber to catch up", 30_000);
  await waitUntil(() => netPayouts(resuming.events).length >= table.length, "the resuming subscriber to catch up", 30_000);

  expect(steady.errors).toEqual([]);
  expect(steady.received.every((event) => event.action === "ADDED")).toBe(true);
  expect(steady.received.map((event) => event.payout.id)).toEqual(table);
  expect(resuming.errors).toEqual([]);
  expect(resuming.reconnects()).toBeGreaterThanOrEqual(20);
  expect(resuming.events.map((event) => event.payout.id)).toEqual(table);
  const cursors = resuming.events.map((event) => event.cursor);
  expect(new Set(cursors).size).toBe(cursors.length);
  return scenario;
}

/** The same on a chain that behaves like BSC: 0.75 s blocks, many transactions a block, finality from the chain's tags. */
describe("payout subscriptions, embedded (SSE), live on a BSC-like chain (0.75 s blocks)", () => {
  const cleanup = cleanupAfterAll();

  it("delivers every payout exactly once, in order, to a steady and to a resuming subscriber", async () => {
    const chain = await startDeployedChain({ chain: "bsc-local", blockTime: LOCAL_CHAINS["bsc-local"].blockTime });
    cleanup.push(() => chain.anvil.stop());
    const ponder = await startPonder({ chain: "bsc-local", rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir, env: { API_FEED_POLL_MS: "100" } });
    cleanup.push(() => ponder.kill());
    await ponder.waitForBlock(await chain.publicClient.getBlockNumber());
    await expectExactlyOnceDelivery({ chain, ponder, url: `${ponder.baseUrl}/graphql`, cleanup });
  });
});
