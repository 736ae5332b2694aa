/**
 * The README's first command on a clean data directory: `npm start` reaches ready, answers a
 * GraphQL query, a subscriber receives a payout produced by the simulator and settled by the
 * oracle, `far verify` finds no difference, and Ctrl-C leaves no process behind.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { query, subscribeSse, waitUntil } from "../helpers/graphql";
import { freePort } from "../helpers/ports";
import { PAYOUTS, type PayoutEvent } from "../subscriptions/helpers";

describe("npm start", () => {
  const cleanup: (() => Promise<unknown> | void)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it("runs the whole system, settles simulated tasks live, and stops cleanly on Ctrl-C", { timeout: 300_000 }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "far-start-"));
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const [port, anvilPort] = [await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), ANVIL_PORT: String(anvilPort), DATA_DIR: dataDir, DEPLOYMENTS_DIR: join(dataDir, "deployments"), SIMULATOR_RATE: "20" };
    for (const name of ["DATABASE_URL", "REDIS_URL", "RPC_URL"]) delete env[name];
    const started = Date.now();
    // Its own process group, so that Ctrl-C can be sent the way a terminal does: to the group.
    const child = spawn("npm", ["start"], { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const step = (name: string) => process.stderr.write(`[start test] ${name} after ${Math.round((Date.now() - started) / 1000)} s\n`);
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    cleanup.push(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // The group is gone already.
      }
    });

    await waitUntil(() => output.includes("[far] ready") || child.exitCode !== null, "npm start to print ready", 180_000);
    expect(output, output.slice(-3000)).toContain("[far] ready");
    const readySeconds = (Date.now() - started) / 1000;
    expect(readySeconds).toBeLessThan(180);
    expect(output).toContain(`[far] GraphQL:    http://localhost:${port}/graphql`);
    expect(output).toContain(`[far] RPC:        http://127.0.0.1:${anvilPort}`);

    step("ready");
    const url = `http://127.0.0.1:${port}/graphql`;
    const { indexingStatus } = await query<{ indexingStatus: { chainId: number } }>(url, "{ indexingStatus { chainId latestBlock { number } } }");
    expect(indexingStatus.chainId).toBe(31337);

    const payouts = subscribeSse<PayoutEvent>(url, PAYOUTS);
    cleanup.push(() => payouts.close());
    await waitUntil(() => payouts.received.some((event) => event.action === "ADDED" && event.payout.stream === "NODE_PAYMENT"), "a node payment from the simulator", 120_000);
    payouts.close();
    step("payout received");

    const verify = spawnSync("npm", ["run", "-s", "far", "--", "verify"], {
      env: { ...env, RPC_URL: `http://127.0.0.1:${anvilPort}`, INDEXER_URL: `http://127.0.0.1:${port}` },
      encoding: "utf8",
    });
    expect(verify.stdout, verify.stderr).toMatch(/values checked at block \d+: 0 differences/);
    expect(verify.status).toBe(0);

    step("verified");
    process.kill(-child.pid!, "SIGINT");
    await exited;
    // npm leaves at Ctrl-C like the rest of the group; the start script then stops what it started.
    const leftovers = () => spawnSync("ps", ["-eo", "args"], { encoding: "utf8" }).stdout.split("\n").filter((line) => line.includes(dataDir) || line.includes(`--port ${port}`) || line.includes(`--port ${anvilPort}`));
    await waitUntil(() => leftovers().length === 0, `no process left (still: ${leftovers().join("; ")})`, 60_000);
    step("stopped");
    expect(output).toContain("[far] stopping");
    for (const target of [`http://127.0.0.1:${port}/health`, `http://127.0.0.1:${anvilPort}`]) {
      expect(await fetch(target).then(() => "answering", () => "closed")).toBe("closed");
    }
  });
});
