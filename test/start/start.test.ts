/**
 * The README's first command on a clean data directory, driven as a user would: `npm start`
 * reaches ready, answers a GraphQL query, a subscriber receives a payout produced by the
 * simulator and settled by the oracle, GraphiQL runs a query typed in a real browser, the
 * operators' CLI answers `status` and registers a node, `far verify` finds no difference after
 * a minute of simulated traffic, the traffic goes on after a reorg drops simulator
 * transactions, and Ctrl-C leaves no process behind.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { getAddress, parseEther } from "viem";
import { farTokenAbi, inferencePaymentAbi } from "../../abis";
import { anvilAccount, createClients, userAccounts } from "../../common/chain";
import { reorg } from "../../harness/chain";
import { readManifest } from "../../contracts/deploy/manifest";
import { hasChromium, CHROMIUM_PATH } from "../../harness/browser";
import { runInGraphiql } from "../../harness/graphiql";
import { data, subscribeSse } from "../../harness/graphql";
import { waitUntil, patience } from "../../harness/wait";
import { listeningAddresses } from "../../harness/ports";
import { npmStartEnv } from "../../harness/start";
import { PAYOUTS, type PayoutEvent } from "../subscriptions/helpers";
import { cleanupAfterAll } from "../helpers/cleanup";
import { graphiqlExamples } from "../../api/graphiql-examples";

const SIMULATED_SECONDS_BEFORE_VERIFY = 60;

describe("npm start", () => {
  const cleanup = cleanupAfterAll();
  let dataDir: string;
  let port: number;
  let anvilPort: number;
  let oraclePort: number;
  let env: NodeJS.ProcessEnv;
  let child: ChildProcess;
  let exited: Promise<void>;
  let output = "";
  let started = 0;
  let readyAt = 0;
  const graphqlUrl = () => `http://127.0.0.1:${port}/graphql`;
  const step = (name: string) => process.stderr.write(`[start test] ${name} after ${Math.round((Date.now() - started) / 1000)} s\n`);
  /** `npm run far -- …` as an operator on this machine runs it, against this system. */
  const far = (...args: string[]) =>
    spawnSync("npm", ["run", "-s", "far", "--", ...args], {
      env: { ...env, RPC_URL: `http://127.0.0.1:${anvilPort}`, INDEXER_URL: `http://127.0.0.1:${port}`, ORACLE_URL: `http://127.0.0.1:${oraclePort}` },
      encoding: "utf8",
      timeout: patience(240_000),
    });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "far-start-"));
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    ({ env, port, anvilPort, oraclePort } = await npmStartEnv(dataDir, {
      SIMULATOR_RATE: "20",
      // Not a terminal: a status line this often instead of the panel.
      STATUS_INTERVAL_MS: "10000",
    }));
    started = Date.now();
    // Its own process group, so that Ctrl-C can be sent the way a terminal does: to the group.
    child = spawn("npm", ["start"], { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    cleanup.push(async () => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // The group is gone already.
      }
      await exited;
      // Killed before Ctrl-C (a failed or skipped step), the start script could not stop the
      // children it runs in groups of their own: anvil names the data directory, Ponder its port.
      for (const pattern of [dataDir, `ponder start .*--port ${port}`]) spawnSync("pkill", ["-KILL", "-f", pattern]);
    });
    await waitUntil(() => output.includes("[far] Ctrl-C stops everything.") || child.exitCode !== null, "npm start to print ready", 180_000);
    readyAt = Date.now();
    step("ready");
  }, patience(200_000));


  it("reaches ready within the documented time and prints where everything is", async () => {
    expect(output, output.slice(-3000)).toContain("[far] ready");
    expect((readyAt - started) / 1000).toBeLessThan(180);
    expect(output).toContain(`[far] GraphQL:    http://localhost:${port}/graphql`);
    expect(output).toContain(`[far] GraphiQL:   http://localhost:${port}/graphql`);
    expect(output).toContain(`[far] Dashboard:  http://localhost:${port}/dashboard`);
    expect(output).toContain(`[far] RPC:        http://127.0.0.1:${anvilPort}`);
    expect(output).toMatch(/\[far\] Subscribe: {2}curl -N .*subscription \{ payouts/);
    const { indexingStatus } = await data<{ indexingStatus: { chainId: number } }>(graphqlUrl(), "{ indexingStatus { chainId latestBlock { number } } }");
    expect(indexingStatus.chainId).toBe(31337);
  });

  it("delivers a payout from the simulator, settled by the oracle, to a subscriber", async () => {
    const payouts = subscribeSse<PayoutEvent>(graphqlUrl(), PAYOUTS);
    try {
      await waitUntil(() => payouts.received.some((event) => event.action === "ADDED" && event.payout.stream === "NODE_PAYMENT"), "a node payment from the simulator", 120_000);
    } finally {
      payouts.close();
    }
    step("payout received");
  });

  it("streams payouts to the README's curl subscription command", async () => {
    const readme = await readFile("README.md", "utf8");
    const command = readme.match(/^curl -N http:\/\/localhost:42069\/graphql[^\n]*\\\n[^\n]*$/m)?.[0];
    expect(command, "the subscription example in README.md").toBeDefined();
    const curl = spawn("bash", ["-c", command!.replace("localhost:42069", `127.0.0.1:${port}`)], { stdio: ["ignore", "pipe", "pipe"] });
    let streamed = "";
    curl.stdout.on("data", (chunk: Buffer) => (streamed += chunk.toString()));
    try {
      await waitUntil(() => /^data: .*"action":"ADDED"/m.test(streamed), "a payout on the README's curl stream", 60_000);
    } finally {
      curl.kill();
    }
  });

  it.skipIf(!hasChromium)(`runs a staking query typed into GraphiQL in Chromium (${CHROMIUM_PATH}), with no CDN`, async () => {
    // The simulator funds its users from this account before its first task: after a payout, it is ours.
    await waitUntil(async () => (await data<{ payouts: { edges: unknown[] } }>(graphqlUrl(), "{ payouts(first: 1) { edges { cursor } } }")).payouts.edges.length > 0, "a first payout", 120_000);
    const manifest = readManifest(env.DEPLOYMENTS_DIR!, 31337);
    const staker = anvilAccount(0);
    const { publicClient, walletClient } = createClients({ CHAIN: "anvil", RPC_URL: `http://127.0.0.1:${anvilPort}` }, staker);
    const token = getAddress(manifest.contracts.FARToken.address);
    const hash = await walletClient.writeContract({ address: token, abi: farTokenAbi, functionName: "stake", args: [parseEther("1234.5")], chain: walletClient.chain, account: staker });
    await publicClient.waitForTransactionReceipt({ hash });
    const staked = await publicClient.readContract({ address: token, abi: farTokenAbi, functionName: "stakingBalance", args: [staker.address] });
    expect(staked).toBe(parseEther("1234.5"));

    await waitUntil(
      async () => (await data<{ staker: { staked: string } | null }>(graphqlUrl(), `{ staker(address: "${staker.address}") { staked } }`)).staker?.staked === String(staked),
      "the stake in the API",
      60_000,
    );

    const outputDir = join("test-results", "start");
    await mkdir(outputDir, { recursive: true });
    const screenshotPath = join(outputDir, "graphiql.png");
    const { response, foreignRequests, opened } = await runInGraphiql({
      url: `http://localhost:${port}/graphql`,
      query: `{ staker(address: "${staker.address}") { staked } stakingOverview { lockPeriodSeconds stakerCount } }`,
      expected: `"staked": "${staked}"`,
      screenshotPath,
      openedExpected: '"latestBlock"',
    });
    // It opened on api/README.md's overview, over this chain's data, with the other examples in tabs.
    expect(opened.query).toBe(graphiqlExamples()[0]!.query);
    expect(opened.tabs).toEqual(["Overview", "StakerDashboard", "NodeEarnings", "MonthlyRevenue", "ReadYourWrite"]);
    expect(opened.response).toMatch(/"number": \d+/);
    expect(opened.response).toMatch(/"stream": "(NODE_PAYMENT|STAKER_SHARE|TREASURY|STAKING_REWARD)"/);
    expect(opened.response).not.toContain('"errors"');
    expect(response).toContain('"lockPeriodSeconds": 604800');
    expect(response).not.toContain('"errors"');
    expect(foreignRequests).toEqual([]);
    expect(spawnSync("test", ["-s", screenshotPath]).status).toBe(0);
    step("GraphiQL");
  });

  it("answers the operators' CLI: status, node register (and a clear error for a bad address)", async () => {
    const status = far("status");
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/indexed block\s+\d+ \(\d+ behind the head \d+/);

    const node = anvilAccount(63).address;
    const register = far("node", "register", node);
    expect(register.status, register.stdout + register.stderr).toBe(0);
    expect(register.stdout).toMatch(/operation registerNode:\S+ confirmed/);
    await waitUntil(
      async () => (await data<{ node: { active: boolean } | null }>(graphqlUrl(), `{ node(address: "${node}") { active } }`)).node?.active === true,
      "the registered node in the API",
      60_000,
    );

    const bad = far("node", "register", "0xbad");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('node must be a 0x-prefixed 20-byte hex address, got "0xbad"');
    step("CLI");
  });

  it(`finds no difference with far verify after ${SIMULATED_SECONDS_BEFORE_VERIFY} s of simulated traffic`, async () => {
    const remaining = readyAt + SIMULATED_SECONDS_BEFORE_VERIFY * 1000 - Date.now();
    if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));
    const { tasks } = await data<{ tasks: { edges: unknown[] } }>(graphqlUrl(), "{ tasks(first: 50) { edges { cursor } } }");
    expect(tasks.edges.length).toBeGreaterThan(20);
    const verify = far("verify");
    // What a first look saw and a second did not: kept in the test's output for whoever reads it.
    if (verify.stderr.includes("transient?")) process.stderr.write(`[start test] far verify: ${verify.stderr}\n`);
    expect(verify.stdout, verify.stderr).toMatch(/values checked at block \d+: 0 differences/);
    expect(verify.status).toBe(0);
    step("verified");
  });

  it("keeps producing traffic after anvil_reorg drops simulator transactions: new tasks, created and settled", async () => {
    const { publicClient } = createClients({ CHAIN: "anvil", RPC_URL: `http://127.0.0.1:${anvilPort}` }, anvilAccount(0));
    const payment = getAddress(readManifest(env.DEPLOYMENTS_DIR!, 31337).contracts.InferencePayment.address);
    // The simulator's users (runSimulator), five of them by default.
    const simulatorUsers = new Set(userAccounts(5).map((account) => account.address));
    /** The payment contract's events from `fromBlock` on; none while the head is below it (anvil refuses the range). */
    const eventsSince = async <name extends "TaskCreated" | "TaskCompleted" | "TaskCancelled">(eventName: name, fromBlock: bigint) => {
      const toBlock = await publicClient.getBlockNumber();
      return toBlock < fromBlock ? [] : publicClient.getContractEvents({ address: payment, abi: inferencePaymentAbi, eventName, fromBlock, toBlock });
    };
    const simulatorTasks = async (fromBlock: bigint) => (await eventsSince("TaskCreated", fromBlock)).filter((log) => simulatorUsers.has(log.args.user!));

    // Reorg away the blocks from the next round's createTasks on, as soon as one is mined.
    const watchedFrom = (await publicClient.getBlockNumber()) + 1n;
    let dropped: Awaited<ReturnType<typeof simulatorTasks>> = [];
    await waitUntil(async () => (dropped = await simulatorTasks(watchedFrom)).length > 0, "a simulator createTask", 60_000);
    const oldest = dropped[0]!.blockNumber;
    const head = await publicClient.getBlockNumber();
    await reorg(publicClient, Number(head - oldest + 1n));
    const reorgHead = await publicClient.getBlockNumber();
    for (const { transactionHash } of dropped) {
      await expect(publicClient.getTransaction({ hash: transactionHash }), transactionHash).rejects.toThrow(/could not be found/);
    }
    step(`reorg of ${head - oldest + 1n} blocks dropped ${dropped.length} createTask transactions`);

    // New tasks after the reorg (the simulator gives up its lost receipts after 20 s), and the oracle settles them.
    let created: Awaited<ReturnType<typeof simulatorTasks>> = [];
    await waitUntil(async () => (created = await simulatorTasks(reorgHead + 1n)).length > 0, "a simulator task created after the reorg", 90_000);
    const ids = new Set(created.map((log) => log.args.taskId!));
    await waitUntil(async () => {
      const settled = [...(await eventsSince("TaskCompleted", reorgHead + 1n)), ...(await eventsSince("TaskCancelled", reorgHead + 1n))];
      return settled.some((log) => ids.has(log.args.taskId!));
    }, "the oracle to settle a task created after the reorg", 90_000);
    step("traffic after the reorg");
  }, patience(300_000));

  it("writes each process's log under DATA_DIR/logs, prints their paths, and keeps the terminal to the banner, status lines and warnings", async () => {
    const logs = join(dataDir, "logs");
    for (const name of ["anvil", "ponder", "oracle", "simulator"]) expect(output).toContain(`${join(logs, `${name}.log`)}`);
    // Ponder colours its lines where it detects CI (CI=true), even into a file.
    const log = async (name: string) => stripVTControlCharacters(await readFile(join(logs, `${name}.log`), "utf8"));
    expect(await log("ponder")).toMatch(/INFO +Indexed block/);
    expect(await log("oracle")).toMatch(/"name":"oracle".*"msg":"transaction confirmed"/);
    expect(await log("simulator")).toContain('"name":"simulator"');
    expect(await log("anvil")).toContain("eth_sendRawTransaction");
    // Minutes of traffic, yet no per-block or per-transaction line: only [far] lines (banner,
    // status) and the warnings of a process, prefixed with its name.
    const lines = output.split("\n").filter((line) => line.trim() && !line.startsWith(">"));
    expect(output).not.toMatch(/Indexed block|"msg":"transaction (signed|confirmed)"/);
    expect(lines.filter((line) => !/^\[(far|anvil|ponder|oracle|simulator)\] /.test(line)), output.slice(-3000)).toEqual([]);
    expect(output).toMatch(/\[far\] status: block \d+ \(\d+ behind\), finalized \d+, (synced|not synced); [\d.]+ payouts\/min, [\d.]+ tasks settled\/min, \d+ subscribers?; \d+ warnings?/);
    const warnings = lines.filter((line) => /^\[(anvil|ponder|oracle|simulator)\] /.test(line));
    // The banner, a status line every 10 s, a little slack.
    expect(lines.length - warnings.length, output.slice(-3000)).toBeLessThan(30 + (Date.now() - started) / 10_000);
  });

  it("listens on 127.0.0.1 only: Ponder with the API, anvil and the oracle", async () => {
    for (const used of [port, anvilPort, oraclePort]) expect(await listeningAddresses(used), `port ${used}`).toEqual(["127.0.0.1"]);
  });

  it("stops everything on Ctrl-C", async () => {
    process.kill(-child.pid!, "SIGINT");
    await exited;
    // npm leaves at Ctrl-C like the rest of the group; the start script then stops what it started.
    const leftovers = () =>
      spawnSync("ps", ["-eo", "args"], { encoding: "utf8" })
        .stdout.split("\n")
        .filter((line) => line.includes(dataDir) || [port, anvilPort, oraclePort].some((used) => line.includes(`--port ${used}`)));
    await waitUntil(() => leftovers().length === 0, `no process left (still: ${leftovers().join("; ")})`, 60_000);
    step("stopped");
    expect(output).toContain("[far] stopping");
    for (const target of [`http://127.0.0.1:${port}/health`, `http://127.0.0.1:${anvilPort}`, `http://127.0.0.1:${oraclePort}/health`]) {
      expect(await fetch(target).then(() => "answering", () => "closed")).toBe("closed");
    }
  });
});
