/**
 * Builds a running oracle from validated configuration: the store (Postgres or embedded
 * PGlite), the stream (Redis or in-process), the chain clients, the key, metrics and logs.
 */
import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { createPublicClient, http, type PublicClient } from "viem";
import { chainOf } from "../common/chain";
import { readManifest } from "../contracts/deploy/manifest";
import type { OracleConfig } from "./config";
import { createCrashPoints } from "./crash";
import { loadOracleAccount } from "./keystore";
import { createLogger, type Logger } from "./logger";
import { serveOracleHttp } from "./http";
import { createMetrics } from "./metrics";
import { createPgliteSql, createPostgresSql, type Sql } from "./store/db";
import { createJobStore } from "./store/jobStore";
import { createMemoryStream, createRedisStream, type ResultStream } from "./stream";
import { createOracleWorker, type WorkerSettings } from "./worker";

export function workerSettings(config: OracleConfig): WorkerSettings {
  return {
    confirmations: config.ORACLE_CONFIRMATIONS,
    finalityDepth: config.ORACLE_FINALITY_DEPTH,
    stuckAfterMs: config.ORACLE_STUCK_AFTER_MS,
    rebroadcastMs: config.ORACLE_REBROADCAST_MS,
    bumpPercent: config.ORACLE_BUMP_PERCENT,
    maxFee: config.ORACLE_MAX_FEE_GWEI,
    maxAttempts: config.ORACLE_MAX_ATTEMPTS,
    maxInFlight: config.ORACLE_MAX_IN_FLIGHT,
    batchThreshold: config.ORACLE_BATCH_THRESHOLD,
    batchSize: config.ORACLE_BATCH_SIZE,
    pollMs: config.ORACLE_POLL_MS,
    leaseMs: config.ORACLE_LEASE_MS,
    breakerFailures: config.ORACLE_BREAKER_FAILURES,
    breakerCooldownMs: config.ORACLE_BREAKER_COOLDOWN_MS,
    shutdownTimeoutMs: config.ORACLE_SHUTDOWN_TIMEOUT_MS,
    intake: {
      consumer: config.ORACLE_CONSUMER,
      count: config.ORACLE_READ_COUNT,
      blockMs: 1_000,
      claimIdleMs: config.ORACLE_CLAIM_IDLE_MS,
    },
  };
}

export async function openSql(config: Pick<OracleConfig, "DATABASE_URL" | "ORACLE_DATA_DIR">): Promise<Sql> {
  if (config.DATABASE_URL) return createPostgresSql({ url: config.DATABASE_URL });
  if (config.ORACLE_DATA_DIR !== "memory://") await mkdir(config.ORACLE_DATA_DIR, { recursive: true });
  return createPgliteSql({ dataDir: config.ORACLE_DATA_DIR });
}

export function openStream(config: OracleConfig): ResultStream {
  const keys = { stream: config.ORACLE_STREAM_KEY, deadLetter: config.ORACLE_DEAD_LETTER_KEY, group: config.ORACLE_GROUP };
  return config.REDIS_URL ? createRedisStream({ url: config.REDIS_URL, ...keys }) : createMemoryStream();
}

export function createOracleClient(config: OracleConfig): PublicClient {
  return createPublicClient({
    chain: chainOf(config),
    // Our own retries and circuit breaker decide what to do on failure; the transport only gives up quickly.
    transport: http(config.RPC_URL, { timeout: config.ORACLE_RPC_TIMEOUT_MS, retryCount: 1 }),
    pollingInterval: 250,
  });
}

/** Opens everything the worker needs; `stream` may be passed in to share an in-process one. */
export async function openOracle(config: OracleConfig, options: { stream?: ResultStream; log?: Logger } = {}) {
  const log = options.log ?? createLogger({ level: config.LOG_LEVEL });
  const publicClient = createOracleClient(config);
  const chainId = await publicClient.getChainId();
  const manifest = await readManifest(config.DEPLOYMENTS_DIR, chainId);
  const account = await loadOracleAccount(config);
  const sql = await openSql(config);
  const contract = manifest.contracts.InferencePayment.address;
  const store = createJobStore({ sql, schema: config.ORACLE_DB_SCHEMA, chainId, contract, from: account.address });
  await store.migrate();
  const stream = options.stream ?? openStream(config);
  return { log, publicClient, chainId, manifest, account, sql, store, stream, contract };
}

export async function startOracle(config: OracleConfig, options: { stream?: ResultStream; log?: Logger } = {}) {
  const opened = await openOracle(config, options);
  const { log, account, chainId, contract } = opened;
  const metrics = createMetrics();
  const server =
    config.ORACLE_METRICS_PORT > 0
      ? await serveOracleHttp({ metrics, port: config.ORACLE_METRICS_PORT, host: config.ORACLE_METRICS_HOST, stream: opened.stream, store: opened.store, models: config.ORACLE_MODELS, adminToken: config.ORACLE_ADMIN_TOKEN })
      : undefined;
  const worker = createOracleWorker({
    ...opened,
    models: config.ORACLE_MODELS,
    settings: workerSettings(config),
    metrics,
    crash: createCrashPoints(config.ORACLE_CRASH_AT),
    holder: `${config.ORACLE_CONSUMER}:${randomUUID()}`,
  });
  log.info({ msg: "oracle started", chain_id: chainId, contract, oracle_address: account.address, store: config.DATABASE_URL ? "postgres" : "pglite", stream: config.REDIS_URL ? "redis" : "memory" });
  const running = worker.start();
  return {
    ...opened,
    metrics,
    running,
    async stop() {
      await worker.stop();
      server?.close();
      if (!options.stream) await opened.stream.close();
      await opened.sql.close();
      log.info({ msg: "oracle stopped" });
    },
  };
}
