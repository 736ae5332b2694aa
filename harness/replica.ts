/** A standalone API replica (`tsx scripts/api.ts`, a process of its own), as an operator runs one beside the indexer. */
import { spawn, type ChildProcess } from "node:child_process";
import { freePort } from "./ports";
import { waitUntil } from "./wait";

export type Replica = { baseUrl: string; graphqlUrl: string; port: number; child: ChildProcess };

/**
 * Starts a replica on a free port with `env` over this process's environment (a value of
 * `undefined` removes a setting) and resolves once its /health answers. Stopping it (SIGTERM, then
 * waiting for its exit) is pushed onto `cleanup`.
 */
export async function startReplica(env: NodeJS.ProcessEnv, cleanup: (() => unknown)[]): Promise<Replica> {
  const port = await freePort();
  const replicaEnv: NodeJS.ProcessEnv = { ...process.env, API_PORT: String(port), API_LOG_LEVEL: "warn", ...env };
  for (const [name, value] of Object.entries(replicaEnv)) if (value === undefined) delete replicaEnv[name];
  const child = spawn("node_modules/.bin/tsx", ["scripts/api.ts"], { env: replicaEnv, stdio: ["ignore", "ignore", "inherit"] });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  cleanup.push(async () => {
    child.kill("SIGTERM");
    await exited;
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  // Loading the replica's modules alone took 20 s on a busy 2-core machine.
  await waitUntil(() => child.exitCode !== null || fetch(`${baseUrl}/health`).then((response) => response.ok, () => false), "the replica to listen", 240_000);
  if (child.exitCode !== null) throw new Error(`the replica exited with code ${child.exitCode}`);
  return { baseUrl, graphqlUrl: `${baseUrl}/graphql`, port, child };
}
