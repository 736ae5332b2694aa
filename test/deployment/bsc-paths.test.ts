/**
 * CHAIN=bsc-testnet and CHAIN=bsc end to end, on anvil presenting each chain's id with BSC's
 * 0.75 s blocks and fast finality: the real `npm run deploy` with the operator's settings as
 * README.md gives them; Ponder from the settings it printed alone (its DEPLOYMENTS_DIR is empty:
 * no manifest is read); the real oracle worker settling a task the scheduler reports (twice)
 * through Redis; the API's task, payouts and node against the contracts' views and events; the
 * finality the API reports against the chain's tags; `far status`; the simulator's refusal.
 * bsc-testnet deploys the mock price feed; bsc is given an existing one (PRICE_FEED_ADDRESS).
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { beforeAll, describe, expect, it } from "vitest";
import { getAddress, maxUint256, parseEventLogs, toHex } from "viem";
import { farTokenAbi, inferencePaymentAbi, mockPriceFeedAbi, mockPriceFeedBytecode } from "../../abis";
import { anvilAccount, nodeAddresses, userAccounts } from "../../common/chain";
import type { RemoteChainName } from "../../common/config";
import { indexerSettings, readManifest } from "../../contracts/deploy/manifest";
import { TASK_STATUSES, taskIdOf, taskSalt } from "../../domain/tasks";
import { FAR, mined, startRemoteChainStandIn } from "../../harness/chain";
import { data } from "../../harness/graphql";
import { oracleEnv } from "../../harness/oracle";
import { startPonder } from "../../harness/ponder";
import { patience, waitUntil } from "../../harness/wait";
import { createRedisStream } from "../../oracle/stream";
import { cleanupAfterAll } from "../helpers/cleanup";
import { deleteStreamKeys, expectAllSettledOnce, readDeadLetters, taskReport } from "../oracle/helpers";

type Case = { chain: RemoteChainName; chainId: number; existingFeed: boolean };
const CASES: Case[] = [
  { chain: "bsc-testnet", chainId: 97, existingFeed: false },
  { chain: "bsc", chainId: 56, existingFeed: true },
];
/** The existing feed's answer (8 decimals): not the mock's default, so the payouts show which feed was read. */
const EXISTING_FEED_PRICE = 31_000_000n;
const SETTINGS = ["FAR_TOKEN_ADDRESS", "INFERENCE_PAYMENT_ADDRESS", "PRICE_FEED_ADDRESS", "START_BLOCK"] as const;

const privateKeyOf = (index: number) => toHex(anvilAccount(index).getHdKey().privateKey!);
/** The environment of a child run as an operator would: no DATABASE_URL (PGlite, an in-memory oracle store) unless given. */
function operatorEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...settings };
  if (!("DATABASE_URL" in settings)) delete env.DATABASE_URL;
  return env;
}

/** `npm run -s <args>` as a child, without blocking this process (the other chain's work goes on). */
function npm(args: string[], settings: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn("npm", ["run", "-s", ...args], { env: operatorEnv(settings), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), patience(120_000));
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Everything one chain's tests read: started once, both chains at the same time. */
async function startCase(testCase: Case, cleanup: (() => unknown)[]) {
  const chain = await startRemoteChainStandIn(testCase.chain);
  cleanup.push(() => chain.anvil.stop());
  const { publicClient, walletFor } = chain;
  const user = userAccounts(1)[0]!.address;
  const node = nodeAddresses(1)[0]!;

  // A Chainlink-style feed already on the chain (a MockPriceFeed stands in for the aggregator).
  const existingFeed = testCase.existingFeed
    ? getAddress((await mined(publicClient, await walletFor(3).deployContract({ abi: mockPriceFeedAbi, bytecode: mockPriceFeedBytecode, args: [8, EXISTING_FEED_PRICE] }))).contractAddress!)
    : undefined;

  // README.md, "For operators": what to set to deploy.
  const deploymentsDir = await mkdtemp(join(tmpdir(), "far-bsc-deploy-"));
  const deploySettings = {
    CHAIN: testCase.chain,
    RPC_URL: chain.anvil.rpcUrl,
    DEPLOYER_PRIVATE_KEY: privateKeyOf(0),
    ORACLE_ADDRESS: anvilAccount(1).address,
    TREASURY_ADDRESS: anvilAccount(2).address,
    ...(existingFeed ? { PRICE_FEED_ADDRESS: existingFeed } : {}),
  };
  const deploy = await npm(["deploy"], { ...deploySettings, DEPLOYMENTS_DIR: deploymentsDir });
  expect(deploy.code, deploy.stderr).toBe(0);
  const settings = Object.fromEntries([...deploy.stdout.matchAll(/^([A-Z_]+)=(\S+)$/gm)].map((match) => [match[1]!, match[2]!]));

  // The indexer from the printed settings alone; nothing here reads a manifest: an empty directory says so.
  const noManifests = await mkdtemp(join(tmpdir(), "far-bsc-none-"));
  const ponder = await startPonder({ chain: testCase.chain, rpcUrl: chain.anvil.rpcUrl, deploymentsDir: noManifests, env: Object.fromEntries(SETTINGS.map((name) => [name, settings[name]!])) });
  cleanup.push(() => ponder.kill());

  // While it starts: the user funds an escrow and creates a task, and the oracle's key registers
  // the node (before the worker signs with that key: its nonces are then its own).
  const token = getAddress(settings.FAR_TOKEN_ADDRESS!);
  const payment = getAddress(settings.INFERENCE_PAYMENT_ADDRESS!);
  const salt = taskSalt(`bsc-paths-${testCase.chain}`);
  const [created] = await Promise.all([
    (async () => {
      await mined(publicClient, await walletFor(0).writeContract({ address: token, abi: farTokenAbi, functionName: "transfer", args: [user, 100n * FAR] }));
      const userWallet = walletFor(10);
      await mined(publicClient, await userWallet.writeContract({ address: token, abi: farTokenAbi, functionName: "approve", args: [payment, maxUint256] }));
      await mined(publicClient, await userWallet.writeContract({ address: payment, abi: inferencePaymentAbi, functionName: "deposit", args: [50n * FAR] }));
      return mined(publicClient, await userWallet.writeContract({ address: payment, abi: inferencePaymentAbi, functionName: "createTask", args: [salt, 10n * FAR] }));
    })(),
    (async () => mined(publicClient, await walletFor(1).writeContract({ address: payment, abi: inferencePaymentAbi, functionName: "registerNode", args: [node, node] })))(),
  ]);
  const taskId = taskIdOf(user, salt);

  // README.md, "For operators": what to set for the oracle.
  const workerSettings = { CHAIN: testCase.chain, RPC_URL: chain.anvil.rpcUrl, ORACLE_PRIVATE_KEY: privateKeyOf(1), INFERENCE_PAYMENT_ADDRESS: settings.INFERENCE_PAYMENT_ADDRESS!, REDIS_URL: process.env.REDIS_URL! };
  const workerEnv = oracleEnv({ anvil: chain.anvil, config: chain.config, deploymentsDir: noManifests }, workerSettings);
  const keys = { stream: workerEnv.ORACLE_STREAM_KEY!, deadLetter: workerEnv.ORACLE_DEAD_LETTER_KEY! };
  cleanup.push(async () => {
    const redis = new Redis(process.env.REDIS_URL!);
    await deleteStreamKeys(redis, keys);
    redis.disconnect();
  });
  // The scheduler reports the task finished, and delivers the same message again; the worker's
  // consumer group starts at the stream's beginning, so it reads both whenever it starts.
  const stream = createRedisStream({ url: process.env.REDIS_URL!, ...keys, group: "oracle" });
  const report = taskReport(taskId, node);
  for (let copy = 0; copy < 2; copy++) await stream.publish(report);
  await stream.close();
  const worker = await startWorker(workerEnv, cleanup);

  return { ...testCase, chain, deploySettings, workerSettings, deploy, deploymentsDir, noManifests, settings, existingFeed, ponder, worker, workerEnv, token, payment, node, taskId, created };
}

/** `npm run oracle` in a process group of its own, as a service manager runs it. */
async function startWorker(env: Record<string, string>, cleanup: (() => unknown)[]) {
  const child = spawn("npm", ["run", "-s", "oracle"], { env: operatorEnv({ ...env, LOG_LEVEL: "info" }), stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  const collect = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8000));
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  cleanup.push(async () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
    await exited;
  });
  await waitUntil(
    () => {
      if (child.exitCode !== null) throw new Error(`the oracle exited with code ${child.exitCode}:\n${output}`);
      return output.includes('"msg":"oracle started"');
    },
    "the oracle to start",
    60_000,
  );
  return { output: () => output };
}

type Started = Awaited<ReturnType<typeof startCase>>;

describe.skipIf(!process.env.REDIS_URL)("CHAIN=bsc-testnet and CHAIN=bsc, on anvil presenting their chain ids", () => {
  const cleanup = cleanupAfterAll();
  const started = new Map<RemoteChainName, Started>();

  beforeAll(async () => {
    const results = await Promise.allSettled(CASES.map((testCase) => startCase(testCase, cleanup)));
    for (const [index, result] of results.entries()) {
      if (result.status === "rejected") throw result.reason;
      started.set(CASES[index]!.chain, result.value);
    }
  });

  // Concurrent, both chains and each chain's tests: they only read, and a long wait (an indexer
  // starting on a busy machine) holds up no other.
  describe.concurrent.each(CASES)("CHAIN=$chain", ({ chain: name, chainId }) => {
    const the = () => started.get(name)!;

    it("npm run deploy writes the manifest and prints the indexer's settings: no block explorer needed", async ({ expect }) => {
      const t = the();
      expect(await t.chain.publicClient.getChainId()).toBe(chainId);
      const manifest = readManifest(t.deploymentsDir, chainId);
      expect(t.settings).toEqual(Object.fromEntries(Object.entries(indexerSettings(manifest)).map(([setting, value]) => [setting, String(value)])));
      expect(Object.keys(t.settings).sort()).toEqual([...SETTINGS].sort());
      expect(t.deploy.stdout).toContain(`CHAIN=${name}`);
      // What this test sets is what README's operator table tells an operator to set.
      const readme = await readFile("README.md", "utf8");
      const row = (who: string) => readme.split("\n").find((line) => line.startsWith(`  | ${who}`)) ?? "";
      for (const setting of Object.keys(t.deploySettings)) expect(row("deploy, once"), setting).toContain(`\`${setting}\``);
      for (const setting of Object.keys(t.workerSettings)) expect(row("the oracle"), setting).toContain(`\`${setting}\``);
      for (const setting of SETTINGS) expect(row("deploy, once"), setting).toContain(`\`${setting}=…\``);
      const feed = await t.chain.publicClient.readContract({ address: t.payment, abi: inferencePaymentAbi, functionName: "priceFeed" });
      expect(feed.toLowerCase()).toBe(t.settings.PRICE_FEED_ADDRESS);
      if (t.existingFeed) {
        // The given feed, indexed from the deployment on (not from its own deployment).
        expect(t.settings.PRICE_FEED_ADDRESS).toBe(t.existingFeed.toLowerCase());
        expect(Number(t.settings.START_BLOCK)).toBe(manifest.contracts.FARToken.deployBlock);
      } else {
        // The mock feed, deployed first: its first answer is indexed too.
        expect(Number(t.settings.START_BLOCK)).toBe(manifest.contracts.PriceFeed.deployBlock);
        expect(manifest.contracts.PriceFeed.deployBlock).toBeLessThan(manifest.contracts.FARToken.deployBlock);
      }
      expect(await readdir(t.noManifests)).toEqual([]);
    });

    it("the oracle settles the reported task exactly once; the API's task, payouts and node equal the contracts' at that block", async ({ expect }) => {
      const t = the();
      const { publicClient } = t.chain;
      const { wrong } = await expectAllSettledOnce(publicClient, t.payment, [t.taskId], 60_000);
      expect(wrong).toEqual([]);
      // The second delivery was the same message: nothing dead-lettered, nothing sent again.
      const redis = new Redis(process.env.REDIS_URL!);
      expect(await readDeadLetters(redis, t.workerEnv.ORACLE_DEAD_LETTER_KEY!).finally(() => redis.disconnect())).toEqual([]);
      const [log] = await publicClient.getContractEvents({ address: t.payment, abi: inferencePaymentAbi, eventName: "TaskCompleted", args: { taskId: t.taskId }, fromBlock: t.created.blockNumber });
      const settled = log!.args;
      const settlementBlock = log!.blockNumber;
      const indexed = await t.ponder.waitForBlock(settlementBlock);
      const url = `${t.ponder.baseUrl}/graphql`;
      const answer = await data<{
        indexingStatus: { latestBlock: { number: number } };
        task: { status: string; escrow: string; actualCost: string; nodePayment: string; stakerPayment: string; treasuryPayment: string; refund: string; performanceScore: number; settledBlock: number; settledTx: string; node: { address: string }; payouts: { stream: string; recipient: string; amount: string; blockNumber: number; transactionHash: string; farUsdPrice: string }[] };
        node: { totalEarned: string; tasksCompleted: number; tasksFailed: number; reliability: number; active: boolean; owner: string };
      }>(
        url,
        `query ($task: Bytes32!, $node: Address!) {
          indexingStatus { latestBlock { number } }
          task(id: $task) { status escrow actualCost nodePayment stakerPayment treasuryPayment refund performanceScore settledBlock settledTx node { address }
            payouts { stream recipient amount blockNumber transactionHash farUsdPrice } }
          node(address: $node) { totalEarned tasksCompleted tasksFailed reliability active owner }
        }`,
        { task: t.taskId, node: t.node },
      );
      // The contracts at the block the answer is from.
      const blockNumber = BigInt(answer.indexingStatus.latestBlock.number);
      expect(blockNumber).toBeGreaterThanOrEqual(BigInt(indexed));
      const [, taskNode, , , status] = await publicClient.readContract({ address: t.payment, abi: inferencePaymentAbi, functionName: "tasks", args: [t.taskId], blockNumber });
      const [owner, totalEarned, tasksCompleted, reliability, active, tasksFailed] = await publicClient.readContract({ address: t.payment, abi: inferencePaymentAbi, functionName: "nodes", args: [t.node], blockNumber });
      const [, price] = await publicClient.readContract({ address: getAddress(t.settings.PRICE_FEED_ADDRESS!), abi: mockPriceFeedAbi, functionName: "latestRoundData", blockNumber: settlementBlock });
      const treasury = (await publicClient.readContract({ address: t.payment, abi: inferencePaymentAbi, functionName: "treasury" })).toLowerCase();

      const { task, node } = answer;
      expect(task.status).toBe(TASK_STATUSES[status]);
      expect(task.status).toBe("COMPLETED");
      expect(task.node.address).toBe(taskNode.toLowerCase());
      const created = parseEventLogs({ abi: inferencePaymentAbi, eventName: "TaskCreated", logs: t.created.logs })[0]!.args;
      expect(BigInt(task.escrow)).toBe(created.escrow);
      expect([task.actualCost, task.nodePayment, task.stakerPayment, task.treasuryPayment, task.refund].map(BigInt)).toEqual([
        settled.actualCost,
        settled.nodePayment,
        settled.stakerPayment,
        settled.treasuryPayment,
        settled.refund,
      ]);
      expect(BigInt(task.performanceScore)).toBe(settled.performanceScore);
      expect([task.settledBlock, task.settledTx]).toEqual([Number(settlementBlock), log!.transactionHash]);
      // One payout per non-zero share of the settlement (indexer/tasks.ts records no zero payout).
      const shares = [
        { stream: "NODE_PAYMENT", recipient: t.node.toLowerCase(), amount: settled.nodePayment! },
        { stream: "STAKER_SHARE", recipient: t.token.toLowerCase(), amount: settled.stakerPayment! },
        { stream: "TREASURY", recipient: treasury, amount: settled.treasuryPayment! },
      ].filter((share) => share.amount > 0n);
      expect(shares.map((share) => share.stream)).toContain("NODE_PAYMENT");
      const byStream = (a: { stream: string }, b: { stream: string }) => a.stream.localeCompare(b.stream);
      expect(task.payouts.map(({ stream, recipient, amount }) => ({ stream, recipient, amount: BigInt(amount) })).sort(byStream)).toEqual(shares.sort(byStream));
      for (const payout of task.payouts) {
        expect([payout.blockNumber, payout.transactionHash]).toEqual([Number(settlementBlock), log!.transactionHash]);
        // The configured feed's answer: the existing one's price on bsc, the mock's on bsc-testnet.
        expect(BigInt(payout.farUsdPrice)).toBe(price);
      }
      expect(price).toBe(t.existingFeed ? EXISTING_FEED_PRICE : 25_000_000n);
      expect([BigInt(node.totalEarned), node.tasksCompleted, node.tasksFailed, node.reliability, node.active, node.owner]).toEqual([
        totalEarned,
        Number(tasksCompleted),
        Number(tasksFailed),
        Number(reliability),
        active,
        owner.toLowerCase(),
      ]);
      expect(BigInt(node.totalEarned)).toBe(settled.nodePayment);
    });

    it("indexingStatus takes finality from the chain's tags: never above the chain's finalized block nor the indexed one", async ({ expect }) => {
      const t = the();
      await t.ponder.waitForBlock(t.created.blockNumber);
      const chainFinalized = async () => Number((await t.chain.publicClient.getBlock({ blockTag: "finalized" })).number);
      for (let sample = 0; sample < 5; sample++) {
        const finalizedBefore = await chainFinalized();
        // The API reuses the tags it read for up to 500 ms (common/finality.ts): ask once that has passed.
        await new Promise((resolve) => setTimeout(resolve, 600));
        const { indexingStatus: status } = await data<{ indexingStatus: { chainId: number; latestBlock: { number: number }; finalizedBlock: { number: number }; finalitySource: string } }>(
          `${t.ponder.baseUrl}/graphql`,
          "{ indexingStatus { chainId latestBlock { number } finalizedBlock { number } finalitySource } }",
        );
        const finalizedAfter = await chainFinalized();
        expect(status.chainId).toBe(chainId);
        expect(status.finalitySource).toBe("CHAIN");
        expect(status.finalizedBlock.number).toBeLessThanOrEqual(status.latestBlock.number);
        expect(status.finalizedBlock.number).toBeLessThanOrEqual(finalizedAfter);
        // The chain's tag (capped at the indexed block), not Ponder's fixed depth.
        expect(status.finalizedBlock.number).toBeGreaterThanOrEqual(Math.min(status.latestBlock.number, finalizedBefore));
      }
      const metrics = await (await fetch(`${t.ponder.baseUrl}/metrics`)).text();
      expect(metrics).toMatch(new RegExp(`^far_indexing_chain_finality\\{chain="${name}"\\} 1$`, "m"));
    });

    it("npm run far -- status reads it with the same settings; the simulator refuses the chain", async ({ expect }) => {
      const t = the();
      const chainSettings = { CHAIN: name, RPC_URL: t.chain.anvil.rpcUrl, DEPLOYMENTS_DIR: t.noManifests };
      const [status, simulate] = await Promise.all([
        t.ponder.waitForBlock(t.created.blockNumber).then(() => npm(["far", "--", "status"], { ...chainSettings, ...Object.fromEntries(SETTINGS.map((setting) => [setting, t.settings[setting]!])), INDEXER_URL: t.ponder.baseUrl })),
        npm(["simulate"], { ...t.workerEnv, ...chainSettings }),
      ]);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toContain(`chain           ${name} (${chainId})`);
      expect(status.stdout).toContain("finality        the chain's safe and finalized tags");
      expect(simulate.code).toBe(1);
      const lines = simulate.stderr.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("npm warn"));
      expect(lines).toEqual(["The simulator funds users from the deployer: it runs on a local anvil only"]);
    });
  });
});
