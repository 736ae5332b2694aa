/**
 * `npm run gas`: gas per task for `completeTask` one at a time versus `completeTasks` in
 * batches, measured on a fresh anvil with a staker present (so every path pays the stakers).
 */
import { getAddress, type Hash } from "viem";
import { farTokenAbi, inferencePaymentAbi } from "../abis";
import { anvilAccount } from "../common/chain";
import { FAR, startDeployedChain } from "../test/helpers/chain";
import { taskIdOf, taskSalt } from "../common/task";

const BATCH_SIZES = [1, 10, 50, 100];
const chain = await startDeployedChain();
try {
  const { publicClient, manifest, walletFor } = chain;
  const token = getAddress(manifest.contracts.FARToken.address);
  const payment = getAddress(manifest.contracts.InferencePayment.address);
  const [admin, oracle, user, staker] = [0, 1, 10, 11].map(walletFor);
  const node = anvilAccount(12).address;
  const gasOf = async (hash: Promise<Hash>) => (await publicClient.waitForTransactionReceipt({ hash: await hash })).gasUsed;

  await gasOf(admin!.writeContract({ address: token, abi: farTokenAbi, functionName: "transfer", args: [user!.account.address, 1_000_000n * FAR] }));
  await gasOf(admin!.writeContract({ address: token, abi: farTokenAbi, functionName: "transfer", args: [staker!.account.address, 1_000n * FAR] }));
  await gasOf(staker!.writeContract({ address: token, abi: farTokenAbi, functionName: "stake", args: [1_000n * FAR] }));
  await gasOf(oracle!.writeContract({ address: payment, abi: inferencePaymentAbi, functionName: "registerNode", args: [node, node] }));
  await gasOf(user!.writeContract({ address: token, abi: farTokenAbi, functionName: "approve", args: [payment, 1_000_000n * FAR] }));
  await gasOf(user!.writeContract({ address: payment, abi: inferencePaymentAbi, functionName: "deposit", args: [1_000_000n * FAR] }));

  let counter = 0;
  const createTasks = async (count: number) => {
    const salts = Array.from({ length: count }, () => taskSalt(`gas-task-${counter++}`));
    for (const salt of salts) {
      await gasOf(user!.writeContract({ address: payment, abi: inferencePaymentAbi, functionName: "createTask", args: [salt, 10n * FAR] }));
    }
    return salts.map((salt) => taskIdOf(user!.account.address, salt));
  };

  const rows: { mode: string; tasks: number; gas: bigint; perTask: bigint }[] = [];
  const singles = await createTasks(10);
  let singleTotal = 0n;
  for (const id of singles) {
    singleTotal += await gasOf(
      oracle!.writeContract({ address: payment, abi: inferencePaymentAbi, functionName: "completeTask", args: [id, node, 8n * FAR, 85n] }),
    );
  }
  rows.push({ mode: "completeTask (single)", tasks: singles.length, gas: singleTotal, perTask: singleTotal / BigInt(singles.length) });

  for (const size of BATCH_SIZES) {
    const ids = await createTasks(size);
    const gas = await gasOf(
      oracle!.writeContract({
        address: payment,
        abi: inferencePaymentAbi,
        functionName: "completeTasks",
        args: [ids.map((taskId) => ({ taskId, node, actualCost: 8n * FAR, performanceScore: 85n }))],
      }),
    );
    rows.push({ mode: `completeTasks (batch of ${size})`, tasks: size, gas, perTask: gas / BigInt(size) });
  }

  const single = rows[0]!.perTask;
  console.log("| mode | tasks | total gas | gas per task | vs single |");
  console.log("|---|---:|---:|---:|---:|");
  for (const row of rows) {
    const ratio = Number((row.perTask * 1000n) / single) / 1000;
    console.log(`| ${row.mode} | ${row.tasks} | ${row.gas} | ${row.perTask} | ${ratio.toFixed(3)} |`);
  }
} finally {
  await chain.anvil.stop();
}
