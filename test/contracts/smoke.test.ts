/**
 * End to end through viem on a fresh anvil: deposit → createTask → completeTask, checking
 * every balance the settlement touches and the arguments of every event it emits.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getAddress, parseEventLogs, type Hash } from "viem";
import { farTokenAbi, inferencePaymentAbi } from "../../abis";
import { FAR, startDeployedChain } from "../../harness/chain";
import { taskIdOf, taskSalt } from "../../domain/tasks";

describe("contracts smoke test", () => {
  let chain: Awaited<ReturnType<typeof startDeployedChain>>;
  beforeAll(async () => {
    chain = await startDeployedChain();
  });
  afterAll(async () => {
    await chain?.anvil.stop();
  });

  it("settles one task and emits every event with the right arguments", async () => {
    const { publicClient, manifest, walletFor } = chain;
    const token = getAddress(manifest.contracts.FARToken.address);
    const payment = getAddress(manifest.contracts.InferencePayment.address);
    const [admin, oracle, treasury, user, staker, node] = [0, 1, 2, 10, 11, 12].map((i) => walletFor(i));
    const send = async (hash: Promise<Hash>) => {
      const receipt = await publicClient.waitForTransactionReceipt({ hash: await hash });
      expect(receipt.status).toBe("success");
      return receipt;
    };
    const read = <const F extends string>(functionName: F, args: readonly unknown[], on: "token" | "payment" = "token") =>
      publicClient.readContract({
        address: on === "token" ? token : payment,
        abi: (on === "token" ? farTokenAbi : inferencePaymentAbi) as never,
        functionName: functionName as never,
        args: args as never,
      }) as Promise<never>;

    const userAddress = user!.account.address;
    const nodeAddress = node!.account.address;
    const stakerAddress = staker!.account.address;
    const treasuryAddress = treasury!.account.address;

    await send(admin!.writeContract({ address: token, abi: farTokenAbi, functionName: "transfer", args: [userAddress, 1_000n * FAR] }));
    await send(admin!.writeContract({ address: token, abi: farTokenAbi, functionName: "transfer", args: [stakerAddress, 500n * FAR] }));
    await send(staker!.writeContract({ address: token, abi: farTokenAbi, functionName: "stake", args: [500n * FAR] }));
    await send(oracle!.writeContract({ address: payment, abi: inferencePaymentAbi, functionName: "registerNode", args: [nodeAddress, nodeAddress] }));
    await send(user!.writeContract({ address: token, abi: farTokenAbi, functionName: "approve", args: [payment, 400n * FAR] }));

    const depositReceipt = await send(
      user!.writeContract({ address: payment, abi: inferencePaymentAbi, functionName: "deposit", args: [400n * FAR] }),
    );
    const [deposited] = parseEventLogs({ abi: inferencePaymentAbi, logs: depositReceipt.logs, eventName: "Deposited" });
    expect(deposited!.args).toEqual({ user: userAddress, amount: 400n * FAR, newBalance: 400n * FAR });

    const salt = taskSalt("smoke-task-1");
    const taskId = taskIdOf(userAddress, salt);
    // The id the contract derives is the one computed here, before sending.
    expect(await publicClient.readContract({ address: payment, abi: inferencePaymentAbi, functionName: "taskIdOf", args: [userAddress, salt] })).toBe(taskId);
    const createReceipt = await send(
      user!.writeContract({ address: payment, abi: inferencePaymentAbi, functionName: "createTask", args: [salt, 100n * FAR] }),
    );
    const [created] = parseEventLogs({ abi: inferencePaymentAbi, logs: createReceipt.logs, eventName: "TaskCreated" });
    expect(created!.args).toEqual({ taskId, user: userAddress, escrow: 100n * FAR, newBalance: 300n * FAR });

    const actualCost = 80n * FAR;
    const score = 90n;
    const completeReceipt = await send(
      oracle!.writeContract({
        address: payment,
        abi: inferencePaymentAbi,
        functionName: "completeTask",
        args: [taskId, nodeAddress, actualCost, score],
      }),
    );
    // 60% × (100 + (90−80)/2)% = 63% to the node, 20% to stakers, the rest to the treasury.
    const nodePayment = (actualCost * 60n * 105n) / 10_000n;
    const stakerPayment = (actualCost * 20n) / 100n;
    const treasuryPayment = actualCost - nodePayment - stakerPayment;
    const refund = 20n * FAR;

    const completed = parseEventLogs({ abi: inferencePaymentAbi, logs: completeReceipt.logs, eventName: "TaskCompleted" });
    expect(completed).toHaveLength(1);
    expect(completed[0]!.args).toEqual({
      taskId,
      user: userAddress,
      node: nodeAddress,
      actualCost,
      nodePayment,
      stakerPayment,
      treasuryPayment,
      refund,
      performanceScore: score,
    });
    const rating = parseEventLogs({ abi: inferencePaymentAbi, logs: completeReceipt.logs, eventName: "NodeRatingUpdated" });
    expect(rating.map((log) => log.args)).toEqual([{ node: nodeAddress, oldRating: 80n, newRating: 85n }]);
    const revenue = parseEventLogs({ abi: farTokenAbi, logs: completeReceipt.logs, eventName: "RevenueDistributed" });
    expect(revenue.map((log) => log.args)).toEqual([
      { from: payment, amount: stakerPayment, totalStaked: 500n * FAR, revenuePerToken: (stakerPayment * 10n ** 18n) / (500n * FAR) },
    ]);
    const transfers = parseEventLogs({ abi: farTokenAbi, logs: completeReceipt.logs, eventName: "Transfer" });
    expect(transfers.map((log) => log.args)).toEqual([
      { from: payment, to: nodeAddress, value: nodePayment },
      { from: payment, to: token, value: stakerPayment },
      { from: payment, to: treasuryAddress, value: treasuryPayment },
    ]);

    expect(await read("balanceOf", [nodeAddress])).toBe(nodePayment);
    expect(await read("balanceOf", [treasuryAddress])).toBe(treasuryPayment);
    expect(await read("userBalances", [userAddress], "payment")).toBe(300n * FAR + refund);
    expect(await read("totalEscrowed", [], "payment")).toBe(0n);
    expect(await read("balanceOf", [payment])).toBe(320n * FAR);
    const [, share] = (await read("claimable", [stakerAddress])) as unknown as [bigint, bigint];
    expect(share).toBe(stakerPayment);
    const nodeInfo = (await read("nodes", [nodeAddress], "payment")) as unknown as readonly unknown[];
    expect(nodeInfo).toEqual([nodeAddress, nodePayment, 1n, 85n, true, 0n]);
  });
});
