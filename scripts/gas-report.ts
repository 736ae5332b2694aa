/**
 * `npm run gas`: gas per task for `completeTask` and `failTask` one at a time versus
 * `completeTasks` and `failTasks` in batches, measured on a fresh anvil with a staker present
 * (so every settlement pays the stakers).
 */
import { getAddress, type Hash } from "viem";
import { farTokenAbi, inferencePaymentAbi } from "../abis";
import { anvilAccount } from "../common/chain";
import { FAR, startDeployedChain } from "../harness/chain";
import { taskIdOf, taskSalt } from "../domain/tasks";

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

  const write = oracle!.writeContract;
  const at = { address: payment, abi: inferencePaymentAbi } as const;
  const kinds = [
    {
      single: (id: Hash) => write({ ...at, functionName: "completeTask", args: [id, node, 8n * FAR, 85n] }),
      batch: (ids: Hash[]) =>
        write({ ...at, functionName: "completeTasks", args: [ids.map((taskId) => ({ taskId, node, actualCost: 8n * FAR, performanceScore: 85n }))] }),
      names: ["completeTask", "completeTasks"],
    },
    {
      single: (id: Hash) => write({ ...at, functionName: "failTask", args: [id, node] }),
      batch: (ids: Hash[]) => write({ ...at, functionName: "failTasks", args: [ids.map((taskId) => ({ taskId, node }))] }),
      names: ["failTask", "failTasks"],
    },
  ] as const;

  const rows: { mode: string; tasks: number; gas: bigint; perTask: bigint; vsSingle: number }[] = [];
  for (const kind of kinds) {
    const singles = await createTasks(10);
    let singleTotal = 0n;
    for (const id of singles) singleTotal += await gasOf(kind.single(id));
    const single = singleTotal / BigInt(singles.length);
    rows.push({ mode: `${kind.names[0]} (single)`, tasks: singles.length, gas: singleTotal, perTask: single, vsSingle: 1 });
    for (const size of BATCH_SIZES) {
      const gas = await gasOf(kind.batch(await createTasks(size)));
      const perTask = gas / BigInt(size);
      rows.push({ mode: `${kind.names[1]} (batch of ${size})`, tasks: size, gas, perTask, vsSingle: Number((perTask * 1000n) / single) / 1000 });
    }
  }

  console.log("| mode | tasks | total gas | gas per task | vs single |");
  console.log("|---|---:|---:|---:|---:|");
  for (const row of rows) console.log(`| ${row.mode} | ${row.tasks} | ${row.gas} | ${row.perTask} | ${row.vsSingle.toFixed(3)} |`);
} finally {
  await chain.anvil.stop();
}
