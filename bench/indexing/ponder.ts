/**
 * One timed backfill by `ponder start` as a child process: from spawning it to its /ready answering
 * 200 (Ponder turns ready once the backfill is done and its indexes are built), with the
 * backfill's own duration read from Ponder's log. Both projects run from a root of re-exports
 * with the bench's config (bench/indexing/ponder.config.ts: ours, with Ponder's RPC cache on).
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { anvilIndexerEnv } from "../../harness/ponder";
import { freePort } from "../../harness/ports";
import { ponderRoot } from "../ponder-root";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const EMPTY = join(REPO, "bench/indexing/empty");
/** Ponder's log line at the end of the backfill, with its duration. */
const BACKFILL_DONE = "Completed backfill indexing across all chains";
const PROJECTS = {
  ours: { schema: join(REPO, "ponder.schema.ts"), indexing: join(REPO, "src/index.ts"), api: join(REPO, "src/api/index.ts") },
  empty: { schema: join(EMPTY, "ponder.schema.ts"), indexing: join(EMPTY, "src/index.ts"), api: join(EMPTY, "src/api/index.ts") },
};

export type PonderRun = {
  /** Spawn to /ready 200. */
  totalSeconds: number;
  /** Ponder's "Completed backfill indexing" duration: fetching and indexing, no start-up. */
  backfillSeconds: number;
  /** Ponder's "Created database indexes" duration, after the backfill and before /ready. */
  indexesSeconds: number;
  /** When the child was spawned and when its backfill started and ended, by the wall clock (ms since the epoch). */
  clock: { spawnedAt: number; backfillFrom: number; backfillTo: number };
  /** The block /status reported once ready. */
  statusBlock: number;
  /** Events Ponder says it processed (ponder_indexing_completed_events), to check against the history. */
  events: number;
  /** Ponder's JSON log lines. */
  log: string;
};

export type RunPonderParameters = {
  project: "ours" | "empty";
  rpcUrl: string;
  deploymentsDir: string;
  databaseUrl?: string;
  /**
   * The PGlite directory (without databaseUrl), kept after the run; unset, a fresh one removed
   * after. Ponder's RPC cache (`ponder_sync`) lives in the database, so a run on the directory or
   * database of an earlier run on the same chain is a re-index with that cache warm.
   */
  pgliteDir?: string;
  /** The app schema; a run on a schema an earlier run of the same build finished would resume it, not re-index. */
  schema?: string;
  lastEventBlock: number;
  timeoutMs: number;
  /** Extra arguments for node, e.g. --cpu-prof. */
  nodeOptions?: string;
  /** Called once ready, before Ponder is stopped: to read /metrics, say. */
  onReady?: (baseUrl: string) => Promise<void>;
};

export async function runPonder(parameters: RunPonderParameters): Promise<PonderRun> {
  const port = await freePort();
  const pgliteDir = parameters.pgliteDir ?? (await mkdtemp(join(tmpdir(), "far-bench-pglite-")));
  const env = anvilIndexerEnv({ rpcUrl: parameters.rpcUrl, deploymentsDir: parameters.deploymentsDir, pgliteDir, databaseUrl: parameters.databaseUrl });
  // The embedded API's feed then stays in-process: nothing written to a Redis others may share.
  delete env.REDIS_URL;
  if (parameters.nodeOptions) env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ""} ${parameters.nodeOptions}`.trim();
  const root = await ponderRoot({ config: join(REPO, "bench/indexing/ponder.config.ts"), ...PROJECTS[parameters.project] });

  let log = "";
  const spawnedAt = Date.now();
  const started = performance.now();
  const child = spawn(
    join(REPO, "node_modules/.bin/ponder"),
    ["--root", root, "start", "--schema", parameters.schema ?? "bench", "--port", String(port), "--log-format", "json", "--log-level", "info"],
    { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout.on("data", (chunk: Buffer) => (log += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + parameters.timeoutMs;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${parameters.project} ponder exited with code ${child.exitCode}:\n${log.slice(-4000)}`);
      const ready = await fetch(`${baseUrl}/ready`).then((response) => response.status === 200, () => false);
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`${parameters.project} ponder not ready in ${parameters.timeoutMs / 1000} s:\n${log.slice(-4000)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const totalSeconds = (performance.now() - started) / 1000;
    await parameters.onReady?.(baseUrl);
    const status = (await (await fetch(`${baseUrl}/status`)).json()) as Record<string, { block?: { number: number } }>;
    const statusBlock = status.anvil?.block?.number ?? -1;
    if (statusBlock < parameters.lastEventBlock) throw new Error(`${parameters.project} ponder ready at block ${statusBlock}, before the last event's ${parameters.lastEventBlock}`);
    const metrics = await (await fetch(`${baseUrl}/metrics`)).text();
    // /ready can answer before the line that ends the backfill has come through the pipe.
    for (const giveUp = Date.now() + 10_000; !log.includes(BACKFILL_DONE) && Date.now() < giveUp; ) await new Promise((resolve) => setTimeout(resolve, 50));
    const events = [...metrics.matchAll(/^ponder_indexing_completed_events\{[^}]*\} (\d+)$/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
    const messages = log
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { msg?: string; duration?: number; time?: number });
    const duration = (msg: string) => messages.find((entry) => entry.msg === msg)?.duration;
    const completed = messages.find((entry) => entry.msg === BACKFILL_DONE);
    if (completed?.duration === undefined || completed.time === undefined) throw new Error(`${parameters.project} ponder logged no backfill duration:\n${log.slice(-4000)}`);
    return {
      totalSeconds,
      backfillSeconds: completed.duration / 1000,
      clock: { spawnedAt, backfillFrom: completed.time - completed.duration, backfillTo: completed.time },
      indexesSeconds: (duration("Created database indexes") ?? 0) / 1000,
      statusBlock,
      events,
      log,
    };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
    if (!parameters.pgliteDir) await rm(pgliteDir, { recursive: true, force: true });
    await rm(root, { recursive: true, force: true });
  }
}
