/**
 * The public edge as deployed: a chain with a scenario's history, the indexer on a Postgres
 * database of the suite's own with its embedded API (HTTP and SSE), and a standalone replica
 * over the same tables (HTTP, SSE and graphql-ws), both with the suite's settings.
 */
import { spawn } from "node:child_process";
import { getAddress } from "viem";
import { farTokenAbi } from "../../abis";
import { FAR, startDeployedChain } from "../../harness/chain";
import { createTestDatabase } from "../../harness/database";
import { subscribeSse } from "../../harness/graphql";
import { waitUntil } from "../../harness/wait";
import { startPonder } from "../../harness/ponder";
import { freePort } from "../../harness/ports";
import { runScenario } from "../../harness/scenario";

export async function startEdge({ databaseUrl, env, steps }: { databaseUrl: string; env: Record<string, string>; steps: number }) {
  const cleanup: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  };
  try {
    const chain = await startDeployedChain();
    cleanup.push(() => chain.anvil.stop());
    const scenario = await runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient: chain.publicClient, manifest: chain.manifest, seed: 11, steps });
    const database = await createTestDatabase(databaseUrl);
    cleanup.push(() => database.drop());
    const ponder = await startPonder({ rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir, databaseUrl: database.url, env: { API_LOG_LEVEL: "warn", API_FEED_POLL_MS: "100", ...env } });
    cleanup.push(() => ponder.kill());
    await ponder.waitForBlock(await chain.publicClient.getBlockNumber(), 600_000);
    const port = await freePort();
    const replicaEnv = {
      ...process.env,
      ...env,
      DATABASE_URL: database.url,
      DATABASE_SCHEMA: ponder.schema,
      API_PORT: String(port),
      API_HOST: "127.0.0.1",
      RPC_URL: chain.anvil.rpcUrl,
      API_LOG_LEVEL: "warn",
      API_FEED_POLL_MS: "100",
    };
    // Its own in-process feed log, so one suite covers both logs when the indexer's uses Redis.
    delete (replicaEnv as Record<string, string | undefined>).REDIS_URL;
    const replica = spawn("node_modules/.bin/tsx", ["scripts/api.ts"], { env: replicaEnv, stdio: ["ignore", "ignore", "inherit"] });
    const exited = new Promise((resolve) => replica.once("exit", resolve));
    cleanup.push(async () => {
      replica.kill("SIGTERM");
      await exited;
    });
    const replicaUrl = `http://127.0.0.1:${port}`;
    await waitUntil(async () => replica.exitCode === null && (await fetch(`${replicaUrl}/health`).then((response) => response.ok, () => false)), "the replica to start", 180_000);
    return { chain, scenario, ponder, embeddedUrl: `${ponder.baseUrl}/graphql`, replicaUrl, replicaGraphql: `${replicaUrl}/graphql`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export type Edge = Awaited<ReturnType<typeof startEdge>>;

/** A metric's value in a Prometheus text exposition (the first series of that name). */
export async function metricValue(baseUrl: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${name} `) || candidate.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}

/** A real subscription cursor of `url`'s feed: a staking change's, staking until one arrives (the subscription may take a moment to start). */
export async function stakingCursor(edge: Edge, url: string): Promise<string> {
  const watcher = subscribeSse<{ cursor: string }>(url, `subscription { stakingChanged { cursor } }`);
  const wallet = edge.chain.walletFor(0);
  const token = getAddress(edge.chain.manifest.contracts.FARToken.address);
  await waitUntil(async () => {
    if (watcher.received.length > 0) return true;
    await wallet.writeContract({ address: token, abi: farTokenAbi, functionName: "stake", args: [FAR], account: wallet.account!, chain: wallet.chain });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    return watcher.received.length > 0;
  }, "a staking event");
  watcher.close();
  return watcher.received[0]!.cursor;
}
