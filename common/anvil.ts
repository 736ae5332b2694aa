/**
 * Runs the anvil binary that npm installed, on a port of the caller's choosing, and stops it.
 * Tests give each suite its own port so suites can run side by side.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { LOCAL_CHAINS, type LocalChainName } from "./config";
import { BaseError } from "./errors";

export type StartAnvilParameters = {
  port: number;
  /** Which local chain anvil presents (LOCAL_CHAINS: its chain id and finality tags); anvil's own unless given. */
  chain?: LocalChainName;
  /**
   * The chain id to present instead of the local chain's: a real chain's (BSC 56, its testnet
   * 97), so that CHAIN=bsc / bsc-testnet run, with everything their settings imply, against anvil.
   */
  chainId?: number;
  /** Seconds between blocks (fractions too: 0.75); without it anvil mines one block per transaction. */
  blockTime?: number;
  /** Funded accounts of the development mnemonic (anvil's own default is 10). */
  accounts?: number;
  loadState?: string;
  dumpState?: string;
  extraArgs?: string[];
  /**
   * Keeps anvil out of the caller's process group, so a Ctrl-C reaches only the caller, which
   * then stops its own work before the chain goes away.
   */
  detached?: boolean;
  /** A file descriptor that gets anvil's output (its RPC calls, mined blocks); without it anvil runs `--silent`. */
  logFd?: number;
  /** Called with the process as soon as it is spawned, before it answers: a caller's stop can then reach it while it starts. */
  onSpawn?: (child: ChildProcess) => void;
};

export type AnvilInstance = {
  rpcUrl: string;
  process: ChildProcess;
  stop: () => Promise<void>;
};

class AnvilStartError extends BaseError {
  override name = "AnvilStartError";
}

function anvilBinary(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("@foundry-rs/anvil-linux-amd64/package.json")), "bin", "anvil");
}

export async function startAnvil(parameters: StartAnvilParameters): Promise<AnvilInstance> {
  const args = ["--port", String(parameters.port), "--host", "127.0.0.1", ...(parameters.logFd === undefined ? ["--silent"] : [])];
  args.push("--accounts", String(parameters.accounts ?? 64));
  const chain = LOCAL_CHAINS[parameters.chain ?? "anvil"];
  args.push("--chain-id", String(parameters.chainId ?? chain.id), "--slots-in-an-epoch", String(chain.slotsInAnEpoch));
  if (parameters.blockTime) args.push("--block-time", String(parameters.blockTime));
  if (parameters.loadState) args.push("--load-state", parameters.loadState);
  if (parameters.dumpState) args.push("--dump-state", parameters.dumpState);
  args.push(...(parameters.extraArgs ?? []));
  const stdio = parameters.logFd === undefined ? (["ignore", "ignore", "pipe"] as const) : (["ignore", parameters.logFd, parameters.logFd] as const);
  const child = spawn(anvilBinary(), args, { stdio: [...stdio], detached: parameters.detached ?? false });
  parameters.onSpawn?.(child);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const rpcUrl = `http://127.0.0.1:${parameters.port}`;

  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new AnvilStartError(`anvil exited with code ${child.exitCode} on port ${parameters.port}`, { details: stderr.trim() });
    }
    const ready = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
    }).then((response) => response.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new AnvilStartError(`anvil did not answer on ${rpcUrl} within 15 s`, { details: stderr.trim() });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
  return { rpcUrl, process: child, stop };
}
