/**
 * The oracle worker as a black box for the benches: a child process `node --import tsx
 * scripts/oracle.ts` of a tree (the working tree, or a baseline's), with environment settings only.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { getAddress, type Address } from "viem";

/** The worker's default ORACLE_SHUTDOWN_TIMEOUT_MS (30 s) plus room to exit. */
const STOP_TIMEOUT_MS = 45_000;

/** A deadline to race against: it must not keep the bench alive once the race is won. */
const deadline = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** The settings the worker may not take from the shell: it runs with its own defaults and the caller's `env`. */
const isOwnSetting = (name: string) => name.startsWith("ORACLE_") || name.startsWith("SIMULATOR_") || name === "LOG_LEVEL";

export type Worker = { pid: number; oracleAddress: Address; exited: () => boolean; stop: () => Promise<void>; kill: () => void; output: () => string };

/** The worker of `treeRoot` as a child process; resolves once it logged "oracle started". */
export async function startWorker(treeRoot: string, env: Record<string, string>): Promise<Worker> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !isOwnSetting(name)));
  // Node with tsx's loader, not the tsx CLI: a signal then reaches the worker itself.
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "scripts/oracle.ts"], {
    cwd: treeRoot,
    env: { ...inherited, ...env, LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let tail = "";
  let lines = "";
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exit = { code, signal };
      resolve();
    }),
  );
  const ready = new Promise<Address>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-8000);
      lines += chunk.toString();
      const complete = lines.split("\n");
      lines = complete.pop()!;
      for (const line of complete) {
        if (!line.includes('"oracle started"')) continue;
        const address = (JSON.parse(line) as { oracle_address?: string }).oracle_address;
        if (address) resolve(getAddress(address));
        else reject(new Error(`"oracle started" without oracle_address: ${line}`));
      }
    });
    void exited.then(() => reject(new Error(`worker exited before it started (${exit?.code ?? exit?.signal}):\n${tail}`)));
    void deadline(60_000).then(() => reject(new Error(`worker did not start within 60 s:\n${tail}`)));
  });
  child.stderr!.on("data", (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-8000)));
  const kill = () => {
    if (!exit) child.kill("SIGKILL");
  };
  const oracleAddress = await ready.catch((error: unknown) => {
    kill();
    throw error;
  });
  return {
    pid: child.pid!,
    oracleAddress,
    exited: () => exit !== undefined,
    output: () => tail,
    kill,
    async stop() {
      // Graceful: whatever it still has in flight is confirmed before it exits.
      child.kill("SIGTERM");
      const stopped = await Promise.race([exited.then(() => true), deadline(STOP_TIMEOUT_MS).then(() => false)]);
      if (!stopped) {
        kill();
        throw new Error(`worker did not stop within ${STOP_TIMEOUT_MS / 1000} s of SIGTERM:\n${tail}`);
      }
      if (exit?.code !== 0) throw new Error(`worker exited with ${exit?.code ?? exit?.signal} on SIGTERM:\n${tail}`);
    },
  };
}
