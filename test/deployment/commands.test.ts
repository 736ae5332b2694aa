/**
 * Every command the READMEs give is a package script that something runs: this suite runs the
 * ones no other suite does (deploy, gas, oracle with simulate) exactly as documented, through
 * npm, and checks that each remaining one is run by another suite, `npm test`, `.ci/run` or the
 * benchmark runner `.ci/run` starts.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { getAddress, keccak256, toHex } from "viem";
import { farTokenAbi, inferencePaymentAbi } from "../../abis";
import { startAnvil, type AnvilInstance } from "../../common/anvil";
import { anvilAccount, createClients } from "../../common/chain";
import { readManifest } from "../../contracts/deploy/manifest";
import { startDeployedChain } from "../../harness/chain";
import { waitUntil, patience } from "../../harness/wait";
import { freePort } from "../../harness/ports";
import { oracleEnv } from "../../harness/oracle";
import { settlementCounts } from "../oracle/helpers";
import { cleanupAfterAll } from "../helpers/cleanup";

const DOCUMENTS = ["README.md", "oracle/README.md", "api/README.md", "bench/README.md"];

async function filesUnder(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile() && entry.name.endsWith(".ts")).map((entry) => join(entry.parentPath, entry.name));
}

function npm(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync("npm", ["run", "-s", ...args], { env: { ...process.env, ...env }, encoding: "utf8", timeout: patience(240_000) });
}

describe("the READMEs' commands", () => {
  const cleanup = cleanupAfterAll();

  it("are package scripts, each run by a test, npm test, .ci/run or the benchmark runner", async () => {
    const { scripts } = JSON.parse(await readFile("package.json", "utf8")) as { scripts: Record<string, string> };
    const documented = new Set<string>();
    for (const document of DOCUMENTS) {
      for (const match of (await readFile(document, "utf8")).matchAll(/npm run ([a-z:]+)/g)) documented.add(match[1]!);
    }
    expect(documented.size).toBeGreaterThan(5);
    const runners = await Promise.all([...(await filesUnder("test")), "scripts/test.ts", ".ci/run"].map((file) => readFile(file, "utf8")));
    // What `npm run bench` (in .ci/run) runs: bench/<name>.ts for each name it lists.
    const benchRunner = await readFile("bench/run.ts", "utf8");
    const benches = JSON.parse(benchRunner.match(/const BENCHES = (\[[^\]]*\])/)![1]!) as string[];
    for (const name of documented) {
      expect(Object.keys(scripts), `npm run ${name}`).toContain(name);
      const file = scripts[name]!.match(/(?:scripts|bench|api)\/[\w-]+\.ts/)?.[0];
      const runs = (text: string) => text.includes(`npm run ${name}`) || new RegExp(`"run",( "-s",)? "${name}"`).test(text) || (file !== undefined && text.includes(file));
      const benched = file !== undefined && benches.some((bench) => file === `bench/${bench}.ts`);
      expect(runners.some(runs) || benched, `nothing runs npm run ${name}`).toBe(true);
    }
  });

  it("npm run test:unit: the unit tests alone, with no database, Redis or chain to reach", { timeout: patience(300_000) }, async () => {
    const { DATABASE_URL: _database, REDIS_URL: _redis, ...env } = process.env;
    const reportPath = join(await mkdtemp(join(tmpdir(), "far-unit-")), "report.json");
    const unit = spawnSync("npm", ["run", "-s", "test:unit", "--", "--reporter=json", `--outputFile=${reportPath}`], { env, encoding: "utf8", timeout: patience(240_000) });
    expect(unit.status, unit.stderr.slice(-2000)).toBe(0);
    const report = JSON.parse(await readFile(reportPath, "utf8")) as { numTotalTests: number; numFailedTests: number; testResults: { name: string }[] };
    expect(report.numFailedTests).toBe(0);
    expect(report.numTotalTests).toBeGreaterThan(300);
    expect(report.testResults.map((file) => file.name).filter((name) => !name.includes("/test/unit/"))).toEqual([]);
  });

  it("a wrong setting stops each entry point at once with one line naming it", () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["start"], { PORT: "http" }, /Invalid setting PORT: /],
      [["oracle"], { ORACLE_BATCH_SIZE: "-3" }, /Invalid setting ORACLE_BATCH_SIZE: /],
      [["api"], { DATABASE_URL: "postgres://127.0.0.1:1/none", DATABASE_SCHEMA: "far", API_MAX_DEPTH: "deep" }, /Invalid setting API_MAX_DEPTH: /],
      [["simulate"], { SIMULATOR_FAILURE_RATE: "2" }, /Invalid setting SIMULATOR_FAILURE_RATE: /],
      [["deploy"], { CHAIN: "bsc" }, /DEPLOYER_PRIVATE_KEY, ORACLE_ADDRESS and TREASURY_ADDRESS are required off anvil/],
      [["deploy"], { STAKE_LOCK_SECONDS: "3600" }, /Invalid setting STAKE_LOCK_SECONDS: must be at least 86400/],
      [["far", "--", "status"], { INDEXER_URL: "not a url" }, /Invalid setting INDEXER_URL: /],
    ];
    for (const [args, env, expected] of cases) {
      const run = npm(args, env);
      expect(run.status, `npm run ${args.join(" ")}`).not.toBe(0);
      const lines = run.stderr.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("npm warn"));
      expect(lines.join("\n"), `npm run ${args.join(" ")}`).toMatch(expected);
      expect(lines, `npm run ${args.join(" ")}: one line`).toHaveLength(1);
    }
  });

  it("npm run deploy: deploys to RPC_URL and writes the manifest", async () => {
    const anvil: AnvilInstance = await startAnvil({ port: await freePort() });
    cleanup.push(() => anvil.stop());
    const deploymentsDir = await mkdtemp(join(tmpdir(), "far-deploy-"));
    const deploy = npm(["deploy"], { CHAIN: "anvil", RPC_URL: anvil.rpcUrl, DEPLOYMENTS_DIR: deploymentsDir });
    expect(deploy.status, deploy.stderr).toBe(0);
    const manifest = readManifest(deploymentsDir, 31337);
    const { publicClient } = createClients({ CHAIN: "anvil", RPC_URL: anvil.rpcUrl }, anvilAccount(0));
    for (const contract of Object.values(manifest.contracts)) {
      expect((await publicClient.getCode({ address: getAddress(contract.address) }))?.length).toBeGreaterThan(2);
    }
    const token = getAddress(manifest.contracts.FARToken.address);
    const revenueRole = keccak256(toHex("REVENUE_ROLE"));
    expect(await publicClient.readContract({ address: token, abi: farTokenAbi, functionName: "hasRole", args: [revenueRole, getAddress(manifest.contracts.InferencePayment.address)] })).toBe(true);
    expect(manifest.roles.oracle.toLowerCase()).toBe(anvilAccount(1).address.toLowerCase());
  });

  it("npm run gas: batched settlement costs under half a single one per task", () => {
    const gas = npm(["gas"], {});
    expect(gas.status, gas.stderr).toBe(0);
    const perTask = (mode: string) => BigInt(gas.stdout.match(new RegExp(`\\| ${mode.replace(/[()]/g, "\\$&")} \\| \\d+ \\| \\d+ \\| (\\d+) \\|`))?.[1] ?? "0");
    expect(perTask("completeTask (single)")).toBeGreaterThan(0n);
    expect(perTask("completeTasks (batch of 50)") * 2n).toBeLessThan(perTask("completeTask (single)"));
  });

  it.skipIf(!process.env.REDIS_URL)("npm run oracle with npm run simulate: every simulated task settled once over Redis", { timeout: patience(300_000) }, async () => {
    const chain = await startDeployedChain();
    cleanup.push(() => chain.anvil.stop());
    const env = { ...process.env, ...oracleEnv(chain, { REDIS_URL: process.env.REDIS_URL!, LOG_LEVEL: "info", SIMULATOR_ROUNDS: "1", SIMULATOR_TASKS: "12", SIMULATOR_RATE: "50" }) };
    delete env.DATABASE_URL;
    // Its own group: SIGTERM reaches the worker under npm the way a service manager sends it.
    const oracle = spawn("npm", ["run", "-s", "oracle"], { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let oracleOutput = "";
    const collect = (chunk: Buffer) => (oracleOutput = (oracleOutput + chunk.toString()).slice(-8000));
    oracle.stdout.on("data", collect);
    oracle.stderr.on("data", collect);
    const oracleExited = new Promise<void>((resolve) => oracle.once("exit", () => resolve()));
    cleanup.push(() => {
      if (oracle.exitCode === null) process.kill(-oracle.pid!, "SIGKILL");
    });

    const simulate = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn("npm", ["run", "-s", "simulate"], { env, stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
      child.once("exit", (code) => resolve({ code, output }));
    });
    expect(simulate.code, simulate.output.slice(-3000)).toBe(0);
    expect(simulate.output).toContain('"msg":"round posted"');

    const payment = getAddress(chain.manifest.contracts.InferencePayment.address);
    const events = (eventName: "TaskCreated" | "NodeRegistered") => chain.publicClient.getContractEvents({ address: payment, abi: inferencePaymentAbi, eventName, fromBlock: 0n });
    expect((await events("NodeRegistered")).length, "the simulator's nodes, registered through the oracle").toBe(3);
    const created = (await events("TaskCreated")) as { args: { taskId?: `0x${string}` } }[];
    expect(created.length).toBe(12);
    let counts = await settlementCounts(chain.publicClient, payment);
    await waitUntil(async () => (counts = await settlementCounts(chain.publicClient, payment)).size >= created.length, "every task settled", 120_000, 500).catch(() => undefined);
    expect(created.map((log) => counts.get(log.args.taskId!) ?? 0)).toEqual(created.map(() => 1));

    // npm itself dies of the signal; the worker under it must finish its shutdown.
    process.kill(-oracle.pid!, "SIGTERM");
    await oracleExited;
    await waitUntil(() => oracleOutput.includes('"msg":"oracle stopped"'), `a clean shutdown (output: ${oracleOutput.slice(-2000)})`, 30_000);
  });
});
