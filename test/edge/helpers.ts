/**
 * The public edge under test: a chain with a scenario on it, a real `ponder start` with the
 * embedded API indexing it into a Postgres database of the suite's own, and API replicas
 * (`tsx scripts/api.ts`) over the same tables, each with the settings a test gives it.
 */
import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { getAddress } from "viem";
import { farTokenAbi } from "../../abis";
import { FAR, startDeployedChain } from "../../harness/chain";
import { createTestDatabase } from "../../harness/database";
import { subscribeSse, type GraphQLReply } from "../../harness/graphql";
import { waitUntil } from "../../harness/wait";
import { startPonder } from "../../harness/ponder";
import { startReplica as startReplicaProcess } from "../../harness/replica";
import { runScenario } from "../../harness/scenario";

export type Edge = Awaited<ReturnType<typeof startEdge>>;

export async function startEdge({ databaseUrl, ponderEnv = {}, steps = 60 }: { databaseUrl: string; ponderEnv?: Record<string, string>; steps?: number }) {
  const cleanup: (() => Promise<unknown>)[] = [];
  const chain = await startDeployedChain();
  cleanup.push(() => chain.anvil.stop());
  const scenario = await runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient: chain.publicClient, manifest: chain.manifest, seed: 11, steps });
  const database = await createTestDatabase(databaseUrl);
  cleanup.push(() => database.drop());
  const ponder = await startPonder({ rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir, databaseUrl: database.url, env: { API_LOG_LEVEL: "warn", ...ponderEnv } });
  cleanup.push(() => ponder.kill());
  // Generous: on a machine busy with other suites Ponder alone can take minutes to start.
  await ponder.waitForBlock(await chain.publicClient.getBlockNumber(), 480_000);
  await waitUntil(() => fetch(`${ponder.baseUrl}/ready`).then((response) => response.ok, () => false), "Ponder's backfill to end", 240_000);
  // The suite's own connection to the indexer's database: to hold locks and watch statements.
  const admin = postgres(database.url, { max: 2, onnotice: () => {} });
  cleanup.push(() => admin.end());

  /**
   * A replica over the same tables; `env` adds or overrides its settings. `redis: false` starts
   * it without `REDIS_URL`, so its feed log is in process.
   */
  async function startReplica(env: Record<string, string> = {}, { redis = true }: { redis?: boolean } = {}) {
    // A feed of its own (the port is unique while it runs): with Redis a replica only tails unless told to write it too.
    const feedPrefix = `far-test-${ponder.schema}-${randomUUID().slice(0, 8)}`;
    return startReplicaProcess(
      {
        DATABASE_URL: database.url,
        DATABASE_SCHEMA: ponder.schema,
        RPC_URL: chain.anvil.rpcUrl,
        API_FEED_PREFIX: feedPrefix,
        API_FEED_WRITER: "true",
        ...(redis ? {} : { REDIS_URL: undefined }),
        ...env,
      },
      cleanup,
    );
  }

  /**
   * Holds an exclusive lock on the payout table: every statement reading it waits, so an
   * operation that reads payouts keeps its slot for exactly as long as the test wants.
   */
  async function lockPayouts() {
    let release!: () => void;
    let locked!: () => void;
    const held = new Promise<void>((resolve) => (locked = resolve));
    const done = admin.begin(async (sql) => {
      await sql.unsafe(`LOCK TABLE "${ponder.schema}".payout IN ACCESS EXCLUSIVE MODE`);
      locked();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await held;
    return async () => {
      release();
      await done;
    };
  }

  /** Statements (of any process) waiting on the payout lock right now. */
  async function waitingOnLock(): Promise<number> {
    const [row] = await admin<{ count: string }[]>`
      SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%payout%' AND datname = current_database()`;
    return Number(row!.count);
  }

  return {
    chain,
    scenario,
    ponder,
    database,
    admin,
    embeddedUrl: `${ponder.baseUrl}/graphql`,
    startReplica,
    lockPayouts,
    waitingOnLock,
    async stop() {
      for (const step of cleanup.reverse()) await step().catch(() => {});
    },
  };
}

/**
 * The edge with one replica beside the embedded API, both with the suite's `env` and a fast feed
 * poll. The replica has no Redis, so one suite covers both feed logs when the indexer's uses it.
 */
export async function startEdgeWithReplica({ databaseUrl, env, steps }: { databaseUrl: string; env: Record<string, string>; steps: number }) {
  const settings = { API_FEED_POLL_MS: "100", ...env };
  const edge = await startEdge({ databaseUrl, ponderEnv: settings, steps });
  try {
    const replica = await edge.startReplica({ API_HOST: "127.0.0.1", ...settings }, { redis: false });
    return { ...edge, replicaUrl: replica.baseUrl, replicaGraphql: replica.graphqlUrl };
  } catch (error) {
    await edge.stop();
    throw error;
  }
}
export type EdgeWithReplica = Awaited<ReturnType<typeof startEdgeWithReplica>>;

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

export const codesOf = (reply: GraphQLReply) => (reply.body.errors ?? []).map((error) => error.extensions?.code);

/**
 * Stops the chain (SIGSTOP anvil) until the returned function resumes it: a `transaction(hash)`
 * query for an unknown hash asks the chain for its receipt and waits, holding its slot, on both
 * servers (Ponder's read-only database gives up on a lock after 500 ms; a stopped chain waits).
 */
export function stallChain(edge: Edge) {
  edge.chain.anvil.process.kill("SIGSTOP");
  let resumed = false;
  return () => {
    if (!resumed) edge.chain.anvil.process.kill("SIGCONT");
    resumed = true;
  };
}
export const STALLING_QUERY = `{ transaction(hash: "0x${"ab".repeat(32)}") { blockNumber } }`;

/** Reads payouts: it waits while the payout table is locked. */
export const PAYOUTS_QUERY = `{ payouts(first: 100) { edges { node { id amount usdValue recipient } } } }`;
/** Reads no user table: Ponder's checkpoint only. */
export const CHEAP_QUERY = `{ indexingStatus { chainId latestBlock { number } } }`;
