/**
 * A bounded stop for a process that runs children and in-process parts (`npm start`): on the
 * first request it stops every part in the reverse order of start, asking politely and giving
 * each a share of one deadline; what has not stopped by its share is killed (a child's whole
 * process group, with SIGKILL) or left behind (an in-process part, which ends with this
 * process), and says so. Whatever happens, this process exits by the deadline.
 */
import type { ChildProcess } from "node:child_process";

type Part = { name: string; stop: (budgetMs: number) => Promise<void> };

/** Once a child's time is up and it is sent SIGKILL, how long to wait for the kernel to report it gone. */
const KILL_WAIT_MS = 1_000;

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

function signalGroup(child: ChildProcess, signal: NodeJS.Signals) {
  try {
    // A negative pid is the child's whole process group (it was spawned detached, as its leader).
    process.kill(-child.pid!, signal);
  } catch {
    // The group is empty already.
  }
}

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(exited(child)), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export function createShutdown({ timeoutMs, say }: { timeoutMs: number; say: (line: string) => void }) {
  const parts: Part[] = [];
  const groups: ChildProcess[] = [];
  const controller = new AbortController();
  let stopped: Promise<never> | undefined;

  const killGroups = () => {
    for (const child of groups) signalGroup(child, "SIGKILL");
  };
  // Should this process end some other way (an error, process.exit), the groups go with it.
  process.once("exit", killGroups);

  async function stopAll(code: number): Promise<never> {
    const deadline = Date.now() + timeoutMs;
    say(`stopping (everything is killed after ${seconds(timeoutMs)}: STOP_TIMEOUT_MS)…`);
    // One deadline for everything, shared by what is left, so no part can starve the ones after it.
    const hardStop = setTimeout(() => {
      say(`not stopped within ${seconds(timeoutMs)}; killing what is left`);
      killGroups();
      process.exit(code || 1);
    }, timeoutMs + KILL_WAIT_MS);
    const pending = [...parts].reverse();
    for (const [index, part] of pending.entries()) {
      const budget = Math.max(0, (deadline - Date.now()) / (pending.length - index));
      await part.stop(budget).catch((error: unknown) => say(`while stopping ${part.name}: ${String(error)}`));
    }
    killGroups();
    clearTimeout(hardStop);
    say("stopped");
    process.exit(code);
  }

  return {
    /** Aborted when stopping begins. */
    signal: controller.signal,
    get stopping() {
      return controller.signal.aborted;
    },

    /**
     * A child spawned `detached` (the leader of a process group of its own, so that a Ctrl-C
     * meant for this process does not reach it before its turn): SIGTERM to its group, then
     * SIGKILL to the group when its share of the deadline is up. Registered right after spawn.
     */
    child(name: string, child: ChildProcess) {
      groups.push(child);
      parts.push({
        name,
        async stop(budgetMs) {
          if (!exited(child)) {
            signalGroup(child, "SIGTERM");
            if (!(await waitForExit(child, budgetMs))) {
              say(`${name} did not stop within ${seconds(budgetMs)}; killing its process group`);
              signalGroup(child, "SIGKILL");
              await waitForExit(child, KILL_WAIT_MS);
            }
          }
          // Anything it started in its group goes too.
          signalGroup(child, "SIGKILL");
        },
      });
    },

    /** Something running in this process; if `stop` outlasts its share it is left to end with the process. */
    part(name: string, stop: () => Promise<unknown>) {
      parts.push({
        name,
        async stop(budgetMs) {
          let timer: NodeJS.Timeout | undefined;
          const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), budgetMs)));
          const outcome = await Promise.race([stop().then(() => "done" as const), late]).finally(() => clearTimeout(timer));
          if (outcome === "late") say(`${name} did not stop within ${seconds(budgetMs)}; leaving it to end with this process`);
        },
      });
    },

    /**
     * A start-up step's result, or, once stopping has begun, nothing ever: the step's caller never
     * goes on to start more (nor fails because a stop ended what the step waited on).
     */
    guard<T>(step: Promise<T>): Promise<T> {
      const never = new Promise<T>(() => {});
      return step.then(
        (value) => (controller.signal.aborted ? never : value),
        (error: unknown) => (controller.signal.aborted ? never : Promise.reject(error)),
      );
    },

    /** Stops everything and exits with `code`; later calls wait for the first. */
    stop(code: number): Promise<never> {
      if (!stopped) {
        controller.abort();
        stopped = stopAll(code);
      }
      return stopped;
    },
  };
}
