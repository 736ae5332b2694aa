/**
 * Ctrl-C on `npm start`, made hostile and kept affordable: one data directory (the chain and the
 * deployment of the first start are reused, SIMULATOR=off), 20 starts each sent SIGINT — to the
 * whole process group, as a terminal does — at a random moment of start-up or after ready, then
 * one start whose Ponder is frozen (SIGSTOP: it cannot act on SIGTERM). Every time, within the
 * stop deadline (STOP_TIMEOUT_MS, plus the moment the kill takes), no process of the run's tree
 * is left and none of its ports is listening.
 *
 * The tree is followed from /proc while the run lives: every descendant of `npm start`, and
 * every member of their process groups (anvil and Ponder run in groups of their own), is
 * remembered by pid and start time, so a process that outlives its parent is still found.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitUntil, patience } from "../../harness/wait";
import { npmStartEnv } from "../../harness/start";

const RUNS = 20;
/** npm start's documented default, used as is. */
const STOP_TIMEOUT_MS = 20_000;
/** After the deadline: the kill itself and the kernel reporting it, on a busy machine. */
const KILL_SLACK_MS = 5_000;

type Proc = { pid: number; ppid: number; pgid: number; state: string; started: string; args: string };

function processTable(): Map<number, Proc> {
  const table = new Map<number, Proc>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name may hold spaces and parentheses: the fields follow its last ')'.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim();
      table.set(Number(entry), { pid: Number(entry), state: fields[0]!, ppid: Number(fields[1]), pgid: Number(fields[2]), started: fields[19]!, args });
    } catch {
      // Gone while being read.
    }
  }
  return table;
}

/** Whether a process's environment holds `entry` (`NAME=value`); false once it is gone. */
function inherited(pid: number, entry: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(entry);
  } catch {
    return false;
  }
}

/** One `npm start`, its output, and every process of its tree seen so far. */
function startRun(env: NodeJS.ProcessEnv) {
  const child: ChildProcess = spawn("npm", ["start"], { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const seen = new Map<string, Proc>();
  const key = (proc: Proc) => `${proc.pid}:${proc.started}`;
  const ports = [env.PORT, env.ANVIL_PORT, env.ORACLE_HTTP_PORT].map(Number);

  /**
   * Adds whatever joined the tree since the last look; returns the ones still alive. A process
   * whose parent is already gone is known by the DATA_DIR it inherited, never by a port in its
   * arguments: another test run on the machine may be using the same port number by then.
   */
  const look = (): Proc[] => {
    const table = processTable();
    const mine = (proc: Proc) =>
      proc.pid === child.pid ||
      [...seen.values()].some((known) => proc.ppid === known.pid || proc.pgid === known.pid) ||
      proc.args.includes(env.DATA_DIR!) ||
      inherited(proc.pid, `DATA_DIR=${env.DATA_DIR}`);
    for (let grown = true; grown; ) {
      grown = false;
      for (const proc of table.values()) {
        if (!seen.has(key(proc)) && mine(proc)) {
          seen.set(key(proc), proc);
          grown = true;
        }
      }
    }
    // Each as it is now, not as first seen: a child seen between its fork and its exec then had
    // its parent's command line (under load that window is wide enough to be hit), and a test
    // looking for Ponder's would wait for it forever.
    return [...seen.values()].flatMap((proc) => {
      const now = table.get(proc.pid);
      return now !== undefined && now.started === proc.started && now.state !== "Z" ? [now] : [];
    });
  };
  const watcher = setInterval(look, 100);
  const listening = () => spawnSync("ss", ["-ltnpH"], { encoding: "utf8" }).stdout.split("\n").filter((line) => ports.some((port) => line.includes(`:${port} `)));

  return {
    child,
    exited,
    output: () => output,
    look,
    listening,
    ready: () => output.includes("[far] Ctrl-C stops everything."),
    /** Ends whatever a failed run left (by pid, never by name). */
    async kill() {
      clearInterval(watcher);
      for (const proc of look()) {
        try {
          process.kill(proc.pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2_000))]);
    },
    stopWatching: () => clearInterval(watcher),
  };
}

type Run = ReturnType<typeof startRun>;

describe("npm start: Ctrl-C stops everything, every time", () => {
  let dataDir: string;
  /** How long the last start that got there took to be ready: the span Ctrl-C moments are drawn from. */
  let readyMs = 0;
  const runs: Run[] = [];

  const envWithFreePorts = async (overrides: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> => (await npmStartEnv(dataDir, { SIMULATOR: "off", ...overrides })).env;

  /** Ctrl-C to the group now; then nothing of the run may remain within the deadline. */
  const interruptAndExpectNothingLeft = async (run: Run, what: string) => {
    const before = run.look();
    const sentAt = Date.now();
    try {
      process.kill(-run.child.pid!, "SIGINT");
    } catch {
      // npm had already exited (start-up failed): its tree is still checked below.
    }
    // A killed multi-threaded process shows as a zombie once its main thread is gone, while its other
    // threads may still be exiting and its sockets still open: the deadline covers both.
    let left = run.look();
    let listening = run.listening();
    while ((left.length > 0 || listening.length > 0) && Date.now() - sentAt < STOP_TIMEOUT_MS + KILL_SLACK_MS) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = run.look();
      listening = run.listening();
    }
    const stoppedMs = Date.now() - sentAt;
    expect(left.map((proc) => `${proc.pid} ${proc.args.slice(0, 160)}`), `${what}: processes left ${stoppedMs} ms after Ctrl-C\n${run.output().slice(-2000)}`).toEqual([]);
    expect(listening, `${what}: ports still listening ${stoppedMs} ms after Ctrl-C`).toEqual([]);
    run.stopWatching();
    return { stoppedMs, processes: before.length };
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "far-stop-"));
    // The first start deploys; the runs after it reuse its chain and index.
    const started = Date.now();
    const first = startRun(await envWithFreePorts());
    runs.push(first);
    await waitUntil(() => first.ready() || first.child.exitCode !== null, "the first npm start to be ready", 240_000);
    expect(first.ready(), first.output().slice(-3000)).toBe(true);
    readyMs = Date.now() - started;
    await interruptAndExpectNothingLeft(first, "first start");
  }, patience(300_000));

  afterAll(async () => {
    for (const run of runs) await run.kill();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it(`${RUNS} starts, each sent Ctrl-C at a random moment of start-up or after ready, leave no process and no listener`, async () => {
    for (let index = 1; index <= RUNS; index++) {
      const run = startRun(await envWithFreePorts());
      runs.push(run);
      const started = Date.now();
      // Every fifth run waits for ready first; the others are cut anywhere in a start's length.
      const afterReady = index % 5 === 0;
      if (afterReady) {
        await waitUntil(() => run.ready() || run.child.exitCode !== null, `run ${index} to be ready`, 240_000);
        readyMs = Date.now() - started;
      }
      const delay = Math.random() * (afterReady ? 2_000 : readyMs);
      await Promise.race([new Promise((resolve) => setTimeout(resolve, delay)), run.exited]);
      const moment = `${Date.now() - started} ms after start${run.ready() ? " (ready)" : ""}`;
      const { stoppedMs, processes } = await interruptAndExpectNothingLeft(run, `run ${index}, Ctrl-C ${moment}`);
      process.stderr.write(`[stop test] run ${index}: Ctrl-C ${moment}, ${processes} processes, all gone in ${stoppedMs} ms\n`);
    }
  }, patience(1_800_000));

  it("kills a Ponder that cannot act on SIGTERM (SIGSTOP) once its share of the deadline is up, and says so", async () => {
    const run = startRun(await envWithFreePorts());
    runs.push(run);
    const ponder = () => run.look().find((proc) => proc.args.includes("ponder start"));
    await waitUntil(() => ponder() !== undefined || run.child.exitCode !== null, "npm start to run Ponder", 240_000).catch((error: Error) => {
      throw new Error(`${error.message}; npm start said:\n${run.output().slice(-3000)}`);
    });
    // Frozen once it is well under way (its HTTP server answers /health), ready or not. Its log
    // (npm start writes it under DATA_DIR/logs, emptied at each start) says when; Ponder colours
    // its lines where it detects CI, even into the file.
    const ponderLog = () => stripVTControlCharacters(readFileSync(join(dataDir, "logs", "ponder.log"), "utf8"));
    await waitUntil(() => ponderLog().includes("Started returning 200 responses endpoint=/health") || run.ready() || run.child.exitCode !== null, "Ponder to listen", 240_000);
    expect(ponder(), run.output().slice(-3000)).toBeDefined();
    process.kill(ponder()!.pid, "SIGSTOP");
    const { stoppedMs } = await interruptAndExpectNothingLeft(run, "frozen Ponder");
    await run.exited;
    expect(run.output()).toMatch(/\[far\] Ponder did not stop within [\d.]+ s; killing its process group/);
    process.stderr.write(`[stop test] frozen Ponder: all gone in ${stoppedMs} ms\n`);
  }, patience(300_000));
});
