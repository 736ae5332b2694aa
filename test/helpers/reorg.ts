/**
 * The reorg both the indexer's and the subscriptions' reorg tests stage: settle `depth` fresh
 * tasks, one per block, then replace those blocks with one that settles a different task at a
 * different cost.
 */
import { createWalletClient, encodeFunctionData, getAddress, http, parseEventLogs, toHex, type Address, type Hex, type PublicClient, type TransactionReceipt } from "viem";
import { inferencePaymentAbi } from "../../abis";
import { anvilAccount, anvilTestClient } from "../../common/chain";
import type { DeploymentManifest } from "../../contracts/deploy/manifest";
import { FAR, reorg } from "../../harness/chain";
import { taskIdOf, taskSalt } from "../../domain/tasks";

export type ReorgDriverParameters = { rpcUrl: string; publicClient: PublicClient; manifest: DeploymentManifest; user: Address; node: Address; label: string };

export async function createReorgDriver({ rpcUrl, publicClient, manifest, user, node, label }: ReorgDriverParameters) {
  const payment = getAddress(manifest.contracts.InferencePayment.address);
  const wallet = createWalletClient({ chain: publicClient.chain!, transport: http(rpcUrl) });
  const oracle = anvilAccount(1).address;
  // The node may be registered already; either way it is active afterwards.
  await wallet.writeContract({ account: oracle, address: payment, abi: inferencePaymentAbi, functionName: "registerNode", args: [node, node] }).catch(() => undefined);
  const completeCall = (taskId: Hex, cost: bigint) =>
    encodeFunctionData({ abi: inferencePaymentAbi, functionName: "completeTask", args: [taskId, node, cost, 90n] });
  let counter = 0;

  return {
    /** Settles `depth` tasks in as many blocks; returns their receipts and a task kept open for the replacement. */
    async settleBlocks(depth: number): Promise<{ receipts: TransactionReceipt[]; spare: Hex }> {
      const tasks: Hex[] = [];
      for (let i = 0; i <= depth; i++) {
        const salt = taskSalt(`${label}-${counter++}`);
        await wallet.writeContract({ account: user, address: payment, abi: inferencePaymentAbi, functionName: "deposit", args: [10n * FAR] });
        await wallet.writeContract({ account: user, address: payment, abi: inferencePaymentAbi, functionName: "createTask", args: [salt, 10n * FAR] });
        tasks.push(taskIdOf(user, salt));
      }
      const hashes: Hex[] = [];
      for (const taskId of tasks.slice(0, depth)) hashes.push(await wallet.sendTransaction({ account: oracle, to: payment, data: completeCall(taskId, 7n * FAR) }));
      // Anvil may answer a send before it mined it: wait for every receipt.
      const receipts = await Promise.all(hashes.map((hash) => publicClient.waitForTransactionReceipt({ hash })));
      return { receipts, spare: tasks[depth]! };
    },

    /** Replaces the last `depth` blocks with a block settling `spare`, then mines one more; returns the new head. */
    async reorg(depth: number, spare: Hex): Promise<bigint> {
      await reorg(publicClient, depth, [[{ from: oracle, to: payment, data: completeCall(spare, 3n * FAR), gas: toHex(500_000) }, 0]]);
      await anvilTestClient(publicClient).mine({ blocks: 1 });
      return publicClient.getBlockNumber();
    },
  };
}

/** How many payout rows these settlement receipts must produce: one per non-zero share. */
export function payoutsIn(receipts: TransactionReceipt[]): number {
  let count = 0;
  for (const { logs } of receipts) {
    for (const { args } of parseEventLogs({ abi: inferencePaymentAbi, logs, eventName: "TaskCompleted" })) {
      count += [args.nodePayment, args.stakerPayment, args.treasuryPayment].filter((amount) => amount > 0n).length;
    }
  }
  return count;
}
