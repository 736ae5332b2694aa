/**
 * Runs the real indexer — `ponder start` as a child process — against a suite's own anvil and
 * its own database (a PGlite directory, or a Postgres schema), and reads what it indexed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { PGlite } from "@electric-sql/pglite";
import type { ChainName } from "../common/config";
import { readProgress, type QueryRows } from "../domain/progress";
import { freePort } from "./ports";
import { waitUntil } from "./wait";

export type StartPonderParameters = {
  rpcUrl: string;
  /**
   * The chain behind `rpcUrl` (harness/chain.ts's): anvil unless given. Off a local chain (a
   * stand-in for BSC) `env` names the contracts and START_BLOCK, as an operator's settings do.
   */
  chain?: ChainName;
  deploymentsDir: string;
  /** Postgres when set, else a fresh PGlite directory. */
  databaseUrl?: string;
  schema?: string;
  pgliteDir?: string;
  env?: Record<string, string>;
  /** A Ponder project root other than the repository (a bench's root of re-exports). */
  root?: string;
};

/** A Ponder child's environment on a local anvil: the given database (Postgres), else PGlite in `pgliteDir`. */
export function anvilIndexerEnv(parameters: { rpcUrl: string; deploymentsDir: string; pgliteDir: string; databaseUrl?: string; extra?: Record<string, string> }) {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    CHAIN: "anvil",
    RPC_URL: parameters.rpcUrl,
    DEPLOYMENTS_DIR: parameters.deploymentsDir,
    PGLITE_DIR: parameters.pgliteDir,
    ...parameters.extra,
  };
  delete env.DATABASE_URL;
  if (parameters.databaseUrl) env.DATABASE_URL = parameters.databaseUrl;
  return env;
}

export type PonderProcess = Awaited<ReturnType<typeof startPonder>>;

export async function startPonder(parameters: StartPonderParameters) {
  const port = await freePort();
  const chain = parameters.chain ?? "anvil";
  const schema = parameters.schema ?? `far_${process.pid}_${port}`;
  const pgliteDir = parameters.pgliteDir ?? (await mkdtemp(join(tmpdir(), "far-pglite-")));
  const env = anvilIndexerEnv({
    rpcUrl: parameters.rpcUrl,
    deploymentsDir: parameters.deploymentsDir,
    pgliteDir,
    databaseUrl: parameters.databaseUrl,
    extra: {
      CHAIN: chain,
      RPC_POLLING_INTERVAL_MS: "200",
      // The embedded API's change feed goes to Redis when REDIS_URL is set: keep each suite's apart.
      API_FEED_PREFIX: `far-test-${schema}`,
      ...parameters.env,
    },
  });
  let log = "";
  const rootArgs = parameters.root ? ["--root", parameters.root] : [];
  const child: ChildProcess = spawn("node_modules/.bin/ponder", [...rootArgs, "start", "--schema", schema, "--port", String(port), "--log-format", "json"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (chunk: Buffer) => (log += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const baseUrl = `http://127.0.0.1:${port}`;

  const status = async (): Promise<number | undefined> => {
    const response = await fetch(`${baseUrl}/status`).catch(() => undefined);
    if (!response?.ok) return undefined;
    const body = (await response.json()) as Record<string, { block?: { number: number } }>;
    return body[chain]?.block?.number;
  };

  const waitForBlock = async (blockNumber: bigint, timeoutMs = 120_000) => {
    let indexed: number | undefined;
    await waitUntil(
      async () => {
        if (child.exitCode !== null) throw new Error(`ponder exited with code ${child.exitCode}:\n${log.slice(-4000)}`);
        indexed = await status();
        return indexed !== undefined && BigInt(indexed) >= blockNumber;
      },
      `ponder to reach block ${blockNumber}`,
      timeoutMs,
      200,
    ).catch((error: Error) => {
      throw new Error(`${error.message} (at ${indexed}):\n${log.slice(-4000)}`);
    });
    return indexed!;
  };

  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  };
  return { baseUrl, port, schema, pgliteDir, child, status, waitForBlock, stop, kill, log: () => log };
}

/** Reads the indexer's tables: live on Postgres, or from the PGlite directory once Ponder stopped. */
export async function openIndexedTables(target: { databaseUrl?: string; schema: string; pgliteDir: string }) {
  if (target.databaseUrl) {
    const sql = postgres(target.databaseUrl, { max: 2, onnotice: () => {}, connection: { search_path: target.schema } });
    const query: QueryRows = async (text) => (await sql.unsafe(text)) as Record<string, unknown>[];
    return { query, close: () => sql.end() };
  }
  const db = new PGlite(target.pgliteDir);
  await db.exec(`SET search_path TO "${target.schema}"`);
  const query: QueryRows = async (text) => (await db.query<Record<string, unknown>>(text)).rows;
  return { query, close: () => db.close() };
}

/** Waits until the database itself holds the indexer's work up to `blockNumber`. */
export async function waitForCommittedBlock(query: QueryRows, blockNumber: bigint, timeoutMs = 60_000) {
  let latest: string | undefined;
  return waitUntil(
    async () => {
      const [progress] = await readProgress(query).catch(() => []);
      latest = progress?.latest.number.toString();
      return progress && BigInt(progress.latest.number) >= blockNumber && progress;
    },
    `the database to show block ${blockNumber} committed`,
    timeoutMs,
  ).catch((error: Error) => {
    throw new Error(`${error.message} (at ${latest})`);
  });
}
