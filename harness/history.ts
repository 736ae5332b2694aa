/**
 * Builds a long chain history fast: anvil's automine is turned off, each round's transactions
 * are sent unsigned from anvil's unlocked accounts with fixed gas, and one block is mined per
 * phase. A round is one transfer and one task per user, then one batch settling those tasks.
 */
import { encodeFunctionData, getAddress, maxUint256, type Address, type Hex, type PublicClient } from "viem";
import { farTokenAbi, inferencePaymentAbi } from "../abis";
import { anvilAccount, anvilTestClient, nodeAddresses, userAccounts } from "../common/chain";
import type { DeploymentManifest } from "../contracts/deploy/manifest";
import { FAR } from "./chain";
import { taskIdOf, taskSalt } from "../domain/tasks";

export type GenerateHistoryParameters = {
  publicClient: PublicClient;
  manifest: DeploymentManifest;
  /** Stop once at least this many logs were emitted by the indexed contracts. */
  targetEvents: number;
  users?: number;
  nodes?: number;
};

export async function generateHistory(parameters: GenerateHistoryParameters): Promise<{ events: number; blocks: bigint }> {
  const { publicClient, manifest } = parameters;
  const token = getAddress(manifest.contracts.FARToken.address);
  const payment = getAddress(manifest.contracts.InferencePayment.address);
  const admin = anvilAccount(0).address;
  const oracle = anvilAccount(1).address;
  const users = userAccounts(parameters.users ?? 40).map((account) => account.address);
  const nodes = nodeAddresses(parameters.nodes ?? 4);
  const testClient = anvilTestClient(publicClient);
  const send = (from: Address, to: Address, data: Hex, gas: bigint) => testClient.sendUnsignedTransaction({ from, to, data, gas });
  const mine = () => testClient.mine({ blocks: 1 });
  const call = <const F extends string>(abi: typeof farTokenAbi | typeof inferencePaymentAbi, functionName: F, args: readonly unknown[]) =>
    encodeFunctionData({ abi, functionName, args } as never);

  await testClient.setAutomine(false);
  try {
    for (const user of users) await send(admin, token, call(farTokenAbi, "transfer", [user, 1_000_000n * FAR]), 100_000n);
    for (const node of nodes) await send(oracle, payment, call(inferencePaymentAbi, "registerNode", [node, node]), 200_000n);
    await mine();
    for (const user of users) {
      await send(user, token, call(farTokenAbi, "approve", [payment, maxUint256]), 100_000n);
      await send(user, payment, call(inferencePaymentAbi, "deposit", [500_000n * FAR]), 150_000n);
      await send(user, token, call(farTokenAbi, "stake", [1_000n * FAR]), 250_000n);
    }
    await mine();

    let events = 0;
    let round = 0;
    let countedTo = BigInt(manifest.deployBlock) - 1n;
    // Counted a few blocks at a time: one getLogs over the whole history outgrows a response.
    const countNewEvents = async () => {
      const head = await publicClient.getBlockNumber();
      for (let from = countedTo + 1n; from <= head; from += 20n) {
        const to = from + 19n < head ? from + 19n : head;
        events += (await publicClient.getLogs({ address: [token, payment], fromBlock: from, toBlock: to })).length;
      }
      countedTo = head;
    };
    while (events < parameters.targetEvents) {
      const tasks: Hex[] = [];
      for (const [i, user] of users.entries()) {
        await send(user, token, call(farTokenAbi, "transfer", [users[(i + 1 + round) % users.length]!, FAR + BigInt(round)]), 100_000n);
        const salt = taskSalt(`history-${round}-${i}`);
        await send(user, payment, call(inferencePaymentAbi, "createTask", [salt, 10n * FAR]), 200_000n);
        tasks.push(taskIdOf(user, salt));
      }
      await mine();
      const node = nodes[round % nodes.length]!;
      const settlements = tasks.map((taskId, i) => ({ taskId, node, actualCost: 5n * FAR + BigInt(i), performanceScore: BigInt((round * 7 + i * 13) % 101) }));
      await send(oracle, payment, call(inferencePaymentAbi, "completeTasks", [settlements]), 15_000_000n);
      await mine();
      round += 1;
      await countNewEvents();
    }
    return { events, blocks: await publicClient.getBlockNumber() };
  } finally {
    await testClient.setAutomine(true);
  }
}
