/**
 * The benches' child processes: node under a raised file-descriptor limit, stopped with a
 * deadline, and the subscriber processes (clients.ts) behind their IPC request/reply.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import type { ClientRequestMessage } from "./protocol";

const root = new URL("../..", import.meta.url).pathname;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The hard limit a process may raise its own to (`ulimit -Hn`): each socket is one descriptor. */
export async function hardFdLimit(): Promise<number> {
  const limits = await readFile("/proc/self/limits", "utf8");
  const hard = /Max open files\s+\d+\s+(\d+|unlimited)/.exec(limits)?.[1];
  return hard === "unlimited" || hard === undefined ? 1_048_576 : Number(hard);
}

/** `node <args>` through `sh -c 'ulimit -n N; exec …'`: the pid is node's own (exec keeps it). */
export function spawnNode(args: string[], fds: number, env: NodeJS.ProcessEnv, ipc: boolean): ChildProcess {
  const child = spawn("sh", ["-c", `ulimit -n ${fds} && exec "$0" "$@"`, process.execPath, "--import", "tsx", ...args], {
    cwd: root,
    env,
    stdio: ipc ? ["ignore", "inherit", "pipe", "ipc"] : ["ignore", "ignore", "pipe"],
    serialization: ipc ? "advanced" : "json",
  });
  // Passes stderr through, without the inspector's own notices.
  child.stderr!.on("data", (chunk: Buffer) => {
    const text = chunk.toString().split("\n").filter((line) => !/^(Debugger (listening|attached|ending)|For help, see: https:\/\/nodejs.org|Waiting for the debugger)/.test(line)).join("\n");
    if (text.trim()) process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
  });
  return child;
}

export async function stopProcess(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  if ((await Promise.race([exited, sleep(10_000).then(() => "timeout")])) === "timeout") {
    child.kill("SIGKILL");
    await exited;
  }
}

export type ClientProcess = { child: ChildProcess; call: <T>(message: ClientRequestMessage, reply: string) => Promise<T> };

export async function startClientProcess(fds: number): Promise<ClientProcess> {
  const child = spawnNode(["bench/subscriptions/clients.ts"], fds, process.env, true);
  const waiting = new Map<string, (value: unknown) => void>();
  child.on("message", (message: { type: string }) => {
    const resolve = waiting.get(message.type);
    waiting.delete(message.type);
    resolve?.(message);
  });
  const reply = (type: string) => new Promise<unknown>((resolve) => waiting.set(type, resolve));
  const call = async <T>(message: ClientRequestMessage, type: string) => {
    const answer = reply(type);
    child.send(message);
    return (await answer) as T;
  };
  await reply("ready");
  return { child, call };
}
