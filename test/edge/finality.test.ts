/**
 * Finality from the chain, on a chain that behaves like BSC (CHAIN=bsc-local: chain id 56, a
 * block every 0.75 s, finalized = head − 2): indexingStatus follows the chain's tags and never
 * runs ahead of the indexed block or the chain; a payout's FINALIZED notice comes once the chain
 * finalized its block, never before, and about one poll after (not 30 blocks later, as with
 * Ponder's fixed depth); a reorg of the unfinalized head retracts what it removed.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { createWalletClient, encodeFunctionData, getAddress, http, maxUint256, type Abi, type Address, type Hex } from "viem";
import { farTokenAbi, inferencePaymentAbi } from "../../abis";
import { anvilAccount, nodeAddresses, userAccounts } from "../../common/chain";
import { LOCAL_CHAINS } from "../../common/config";
import { taskIdOf, taskSalt } from "../../domain/tasks";
import { FAR, reorg, startDeployedChain } from "../../harness/chain";
import { data, subscribeSse } from "../../harness/graphql";
import { servedSubscriptions } from "../../harness/metrics";
import { startPonder, type PonderProcess } from "../../harness/ponder";
import { waitUntil } from "../../harness/wait";
import { cleanupAfterAll } from "../helpers/cleanup";
import { PAYOUTS, type PayoutEvent } from "../subscriptions/helpers";

const BLOCK_MS = LOCAL_CHAINS["bsc-local"].blockTime * 1000;
/** The chain's finalized tag trails its head by two slots (anvil: 2 × --slots-in-an-epoch). */
const FINALIZED_LAG_BLOCKS = 2 * LOCAL_CHAINS["bsc-local"].slotsInAnEpoch;
/**
 * One poll: a block for the indexer to see the head that finalizes (its polling is 200 ms here),
 * the feed's poll (100 ms), the finality tags' cache (500 ms), and room for a busy machine.
 */
const ONE_POLL_MS = BLOCK_MS + 200 + 100 + 500 + 1_000;

type Status = { latestBlock: { number: number }; safeBlock: { number: number }; finalizedBlock: { number: number }; finalitySource: string; finalizedLagBlocks: number | null; safeLagBlocks: number | null };

describe("finality from the chain, on a BSC-like chain (0.75 s blocks)", () => {
  let chain: Awaited<ReturnType<typeof startDeployedChain>>;
  let ponder: PonderProcess;
  let url: string;
  const cleanup = cleanupAfterAll();
  const user = userAccounts(1)[0]!.address;
  const node = nodeAddresses(1)[0]!;
  const oracle = anvilAccount(1).address;
  let payment: Address;
  let counter = 0;

  /** Sends as an unlocked anvil account and waits for the block that holds it. */
  async function send(account: Address, address: Address, abi: Abi, functionName: string, args: readonly unknown[]) {
    const wallet = createWalletClient({ chain: chain.publicClient.chain!, transport: http(chain.anvil.rpcUrl) });
    const hash = await wallet.writeContract({ account, address, abi, functionName, args } as never);
    const receipt = await chain.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 100 });
    expect(receipt.status, functionName).toBe("success");
    return receipt;
  }

  /** Creates a task and settles it: its payouts are in the settlement's block. */
  async function settleOne() {
    const salt = taskSalt(`finality-${counter++}`);
    await send(user, payment, inferencePaymentAbi, "createTask", [salt, 10n * FAR]);
    return send(oracle, payment, inferencePaymentAbi, "completeTask", [taskIdOf(user, salt), node, 7n * FAR, 90n]);
  }

  const chainFinalized = async () => Number((await chain.publicClient.getBlock({ blockTag: "finalized" })).number);

  beforeAll(async () => {
    chain = await startDeployedChain({ chain: "bsc-local", blockTime: LOCAL_CHAINS["bsc-local"].blockTime });
    cleanup.push(() => chain.anvil.stop());
    expect(await chain.publicClient.getChainId()).toBe(56);
    payment = getAddress(chain.manifest.contracts.InferencePayment.address);
    const token = getAddress(chain.manifest.contracts.FARToken.address);
    await send(anvilAccount(0).address, token, farTokenAbi, "transfer", [user, 1_000n * FAR]);
    await send(user, token, farTokenAbi, "approve", [payment, maxUint256]);
    await send(user, payment, inferencePaymentAbi, "deposit", [500n * FAR]);
    await send(oracle, payment, inferencePaymentAbi, "registerNode", [node, node]);
    ponder = await startPonder({ chain: "bsc-local", rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir, env: { API_FEED_POLL_MS: "100" } });
    cleanup.push(() => ponder.kill());
    await ponder.waitForBlock(await chain.publicClient.getBlockNumber());
    url = `${ponder.baseUrl}/graphql`;
  });

  it("indexingStatus follows the chain's tags: never ahead of the indexed block nor of the chain", async () => {
    for (let sample = 0; sample < 10; sample++) {
      const finalizedBefore = await chainFinalized();
      // The API answers from the tags it last read, refreshed at most every 500 ms without waiting
      // on the RPC (common/finality.ts): it reaches what the chain said before within a refresh or
      // two, however busy the machine; Ponder's fixed depth would stay 30 blocks (22 s) behind.
      await waitUntil(
        async () => {
          const { indexingStatus: status } = await data<{ indexingStatus: Status }>(
            url,
            `{ indexingStatus { latestBlock { number } safeBlock { number } finalizedBlock { number } finalitySource safeLagBlocks finalizedLagBlocks } }`,
          );
          const finalizedOnChain = await chainFinalized();
          expect(status.finalitySource).toBe("CHAIN");
          expect(status.finalizedBlock.number).toBeLessThanOrEqual(status.latestBlock.number);
          expect(status.safeBlock.number).toBeLessThanOrEqual(status.latestBlock.number);
          expect(status.finalizedBlock.number).toBeLessThanOrEqual(finalizedOnChain);
          expect(status.safeBlock.number).toBeGreaterThanOrEqual(status.finalizedBlock.number);
          expect(status.safeLagBlocks).toBeLessThanOrEqual(status.finalizedLagBlocks!);
          // The chain's tag, capped at the indexed block.
          return status.finalizedBlock.number >= Math.min(status.latestBlock.number, finalizedBefore);
        },
        "indexingStatus to reach the chain's finalized block",
        5_000,
        200,
      );
    }
    const metrics = await (await fetch(`${ponder.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^far_indexing_finalized_block\{chain="bsc-local"\} \d+$/m);
    expect(metrics).toMatch(/^far_indexing_safe_lag_blocks\{chain="bsc-local"\} \d+$/m);
    expect(metrics).toMatch(/^far_indexing_chain_finality\{chain="bsc-local"\} 1$/m);
  });

  it("announces a payout FINALIZED once the chain finalized its block, never before, within the tag's lag plus one poll", async () => {
    // When the chain's finalized tag first covered each block, seen by polling it.
    const finalizedAt = new Map<number, number>();
    let tracking = true;
    const tracker = (async () => {
      while (tracking) {
        const number = await chainFinalized().catch(() => undefined);
        const now = Date.now();
        if (number !== undefined) for (let block = number; block >= 0 && !finalizedAt.has(block); block--) finalizedAt.set(block, now);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    cleanup.push(async () => {
      tracking = false;
      await tracker;
    });
    await waitUntil(() => finalizedAt.size > 0, "the chain's finalized tag to be read");

    await ponder.waitForBlock(await chain.publicClient.getBlockNumber());
    // Each payout's first event saying it is final: a FINALIZED notice, or its ADDED itself when
    // the indexer committed its block after the chain finalized it (an indexer running behind).
    const arrivals: { event: PayoutEvent; at: number; finalizedOnChain: Promise<number> }[] = [];
    const addedAt = new Map<string, number>();
    const watcher = await servedSubscriptions(ponder.baseUrl, 1, () =>
      subscribeSse<PayoutEvent>(url, PAYOUTS, { includeFinality: true }, (event) => {
        if (event.action === "ADDED") addedAt.set(event.payout.id, Date.now());
        if (event.finalized) arrivals.push({ event, at: Date.now(), finalizedOnChain: chainFinalized() });
      }),
    );
    cleanup.push(() => watcher.close());

    const receipts = [];
    for (let i = 0; i < 6; i++) receipts.push(await settleOne());
    const settled = new Set(receipts.map((receipt) => receipt.transactionHash as Hex));
    const ours = () => arrivals.filter(({ event }) => settled.has(event.payout.transactionHash as Hex));
    const added = () => watcher.received.filter((event) => event.action === "ADDED" && settled.has(event.payout.transactionHash as Hex));
    await waitUntil(() => added().length > 0 && ours().length === added().length, "every settled payout to be announced final", 60_000);

    const delays: number[] = [];
    for (const { event, at, finalizedOnChain } of ours()) {
      // Never before: the chain's finalized tag, read right after the notice, covers its block.
      expect(event.blockNumber).toBeLessThanOrEqual(await finalizedOnChain);
      expect(event.finalized).toBe(true);
      const covered = finalizedAt.get(event.blockNumber);
      expect(covered, `block ${event.blockNumber} seen finalized by the chain`).toBeDefined();
      // From when both the chain finalized the block and the indexer's ADDED was out.
      if (event.action === "FINALIZED") delays.push(at - Math.max(covered!, addedAt.get(event.payout.id)!));
    }
    console.log(
      `${ours().length} payouts final: ${delays.length} by a FINALIZED notice, after the chain's tag covered the block by ${delays.map((ms) => `${ms} ms`).join(", ")} (one poll ≤ ${ONE_POLL_MS} ms); the rest final on arrival`,
    );
    for (const delay of delays) expect(delay).toBeLessThanOrEqual(ONE_POLL_MS);
    expect(watcher.errors).toEqual([]);
  });

  /**
   * The chain is held still (no interval mining) so the race is set up on purpose: the indexer
   * delivered a settlement, is frozen (SIGSTOP) before it can see the reorg that replaces the
   * settlement's block, and the chain then finalizes the replacement. Resumed, the indexer still
   * holds the old block at a height the chain's tag calls final: its payouts must be retracted,
   * never announced FINALIZED (the feed checks the indexed block's hash against the chain's).
   */
  it("retracts the payouts of a reorged unfinalized head, and never announces them FINALIZED, even once the chain finalized the replacement first", async () => {
    const watcher = await servedSubscriptions(ponder.baseUrl, 1, () => subscribeSse<PayoutEvent>(url, PAYOUTS, { includeFinality: true }));
    cleanup.push(() => watcher.close());
    const spareSalt = taskSalt(`finality-spare-${counter++}`);
    await send(user, payment, inferencePaymentAbi, "createTask", [spareSalt, 10n * FAR]);
    const replacement = { from: oracle, to: payment, data: encodeCompletion(taskIdOf(user, spareSalt)), gas: "0x7a120" as Hex };

    await chain.testClient.setIntervalMining({ interval: 0 });
    const pid = ponder.child.pid!;
    cleanup.push(async () => {
      process.kill(pid, "SIGCONT");
      await chain.testClient.setIntervalMining({ interval: 1 });
    });
    const salt = taskSalt(`finality-${counter++}`);
    const wallet = createWalletClient({ chain: chain.publicClient.chain!, transport: http(chain.anvil.rpcUrl) });
    await wallet.writeContract({ account: user, address: payment, abi: inferencePaymentAbi, functionName: "createTask", args: [salt, 10n * FAR] });
    await chain.testClient.mine({ blocks: 1 });
    const hash = await wallet.writeContract({ account: oracle, address: payment, abi: inferencePaymentAbi, functionName: "completeTask", args: [taskIdOf(user, salt), node, 7n * FAR, 90n] });
    await chain.testClient.mine({ blocks: 1 });
    const receipt = await chain.publicClient.getTransactionReceipt({ hash });
    expect(receipt.status).toBe("success");
    const block = Number(receipt.blockNumber);
    const isOurs = (event: PayoutEvent) => event.payout.transactionHash === hash;
    await waitUntil(() => watcher.received.some((event) => event.action === "ADDED" && isOurs(event)), "the settlement to be delivered", 30_000);
    const delivered = watcher.received.filter((event) => event.action === "ADDED" && isOurs(event));
    expect(await chainFinalized()).toBeLessThan(block);

    process.kill(pid, "SIGSTOP");
    await reorg(chain.publicClient, 1, [[replacement, 0]]);
    expect(await chain.publicClient.getTransactionReceipt({ hash }).catch(() => undefined), "the settlement reorged out").toBeUndefined();
    // The chain finalizes the replacement block while the indexer still holds the old one.
    await chain.testClient.mine({ blocks: 2 * FINALIZED_LAG_BLOCKS });
    expect(await chainFinalized()).toBeGreaterThanOrEqual(block);
    process.kill(pid, "SIGCONT");

    await waitUntil(() => watcher.received.filter((event) => event.action === "RETRACTED" && isOurs(event)).length === delivered.length, "the reorged payouts to be retracted", 30_000).catch((error: Error) => {
      throw new Error(`${error.message}; the settlement's events: ${JSON.stringify(watcher.received.filter(isOurs).map((event) => [event.action, event.blockNumber, event.finalized]))}`);
    });
    // The replacement's payouts do become final: finality goes on past the replaced height.
    await chain.testClient.mine({ blocks: 1 });
    const replacementReceipt = (await chain.publicClient.getBlock({ blockNumber: BigInt(block), includeTransactions: true })).transactions;
    await waitUntil(() => watcher.received.some((event) => event.finalized && event.blockNumber === block && !isOurs(event)), "the replacement's payouts to be final", 30_000).catch(async (error: Error) => {
      const status = await data(url, `{ indexingStatus { latestBlock { number } finalizedBlock { number } finalitySource } payouts(first: 6) { edges { node { blockNumber transactionHash finalized } } } }`);
      throw new Error(`${error.message}; block ${block}: ${JSON.stringify(replacementReceipt.map((tx) => [tx.hash, tx.from]))}; events there: ${JSON.stringify(watcher.received.filter((event) => event.blockNumber >= block - 1).map((event) => [event.action, event.blockNumber, event.finalized, event.payout.transactionHash]))}; status ${JSON.stringify(status)}; receipt ${JSON.stringify((await chain.publicClient.getTransactionReceipt({ hash: replacementReceipt[0]!.hash })).status)}`);
    });
    expect(watcher.received.filter((event) => event.finalized && isOurs(event))).toEqual([]);
    expect(watcher.errors).toEqual([]);
  });
});

function encodeCompletion(taskId: Hex): Hex {
  return encodeFunctionData({ abi: inferencePaymentAbi, functionName: "completeTask", args: [taskId, nodeAddresses(1)[0]!, 3n * FAR, 90n] });
}
