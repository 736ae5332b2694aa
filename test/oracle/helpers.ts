/** Shared by the oracle suites: dead letters, reports, the simulator on a suite's chain, and on-chain counting (the worker's settings are in harness/oracle.ts). */
import type { Redis } from "ioredis";
import { getAbiItem, getAddress, type Address, type Hex, type LocalAccount, type PublicClient } from "viem";
import { inferencePaymentAbi } from "../../abis";
import { anvilAccount } from "../../common/chain";
import { createSimulator, type CreateSimulatorParameters } from "../../oracle/simulator";
import type { Chain } from "../../harness/oracle";
import { waitUntil } from "../../harness/wait";

/** The dead-letter stream's entries, oldest first, as their fields. */
export async function readDeadLetters(redis: Redis, key: string): Promise<Record<string, string>[]> {
  const entries = await redis.xrange(key, "-", "+");
  return entries.map(([, flat]) => Object.fromEntries(Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i]!, flat[2 * i + 1]!])));
}

/** Removes a suite's result stream, its dead letters and their sources' seen markers. */
export async function deleteStreamKeys(redis: Redis, keys: { stream: string; deadLetter: string }) {
  const markers = await redis.keys(`${keys.deadLetter}:seen:*`);
  await redis.del(keys.stream, keys.deadLetter, ...markers);
}

/** A well-formed completed report for `taskId` by `node`, as the scheduler posts it. */
export const taskReport = (taskId: string, node: string) => ({
  taskId,
  node,
  model: "llama-70b",
  tokensGenerated: "1000",
  status: "completed",
  uptime: "99",
  tokensPerSecond: "50",
  expectedTokensPerSecond: "50",
  accuracy: "0.9",
  reportedAt: String(Date.now()),
});

/** The scheduler simulator on a suite's chain, handing out the deployer's FAR. */
export function simulatorOn(chain: Chain, parameters: Omit<CreateSimulatorParameters, "publicClient" | "chainId" | "funder" | "token" | "payment">) {
  return createSimulator({
    publicClient: chain.publicClient,
    chainId: chain.manifest.chainId,
    funder: anvilAccount(0) as LocalAccount,
    token: chain.manifest.contracts.FARToken.address,
    payment: chain.manifest.contracts.InferencePayment.address,
    ...parameters,
  });
}

/** TaskCompleted + TaskCancelled per task id on the canonical chain: exactly once means 1 each. */
export async function settlementCounts(publicClient: PublicClient, contract: Address): Promise<Map<Hex, number>> {
  const address = getAddress(contract);
  const events = [getAbiItem({ abi: inferencePaymentAbi, name: "TaskCompleted" }), getAbiItem({ abi: inferencePaymentAbi, name: "TaskCancelled" })];
  const logs = await publicClient.getLogs({ address, events, fromBlock: 0n, toBlock: "latest" });
  const counts = new Map<Hex, number>();
  for (const log of logs) counts.set(log.args.taskId!, (counts.get(log.args.taskId!) ?? 0) + 1);
  return counts;
}

/** Waits until every task has exactly one settlement event, and checks none has more. */
export async function expectAllSettledOnce(publicClient: PublicClient, contract: Address, taskIds: readonly Hex[], timeoutMs: number) {
  const counts = await waitUntil(
    async () => {
      const counts = await settlementCounts(publicClient, contract);
      return taskIds.every((id) => counts.get(id) !== undefined) && counts;
    },
    `${taskIds.length} settlements`,
    timeoutMs,
  ).catch(async (error: Error) => {
    const counts = await settlementCounts(publicClient, contract);
    const missing = taskIds.filter((id) => !counts.has(id));
    throw new Error(`${error.message}; ${missing.length} missing, e.g. ${missing.slice(0, 3).join(", ")}`);
  });
  const wrong = taskIds.filter((id) => counts.get(id) !== 1);
  return { counts, wrong };
}
