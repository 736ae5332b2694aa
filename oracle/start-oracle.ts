/**
 * Builds a running oracle from validated configuration: the store (Postgres or embedded
 * PGlite, migrated at start), the stream (Redis or in-process), the chain client, the key, the
 * transaction manager with its lease, the settlement pipeline, metrics and logs.
 */
import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { createPublicClient, type PublicClient } from "viem";
import { chainOf } from "../common/chain";
import { isLocalChain } from "../common/config";
import { rpcTransport } from "../common/rpc";
import { readManifest } from "../contracts/deploy/manifest";
import type { OracleConfig } from "./config";
import { createCrashPoints } from "./crash";
import { migrateSchema } from "./db/migrate";
import { createPgliteSql, createPostgresSql, type Sql } from "../common/sql";
import { serveOracleHttp } from "./http";
import { createIntake } from "./intake";
import { loadOracleAccount } from "./keystore";
import { createLogger, type Logger } from "../common/logger";
import { createMetrics, observeSignerBalance } from "./metrics";
import { createJobStore } from "./settlement/jobs";
import { createOutcomeHandler } from "./settlement/outcomes";
import { createSettlementPipeline } from "./settlement/pipeline";
import { createPreparer } from "./settlement/prepare";
import { createMemoryStream, createRedisStream, type ResultStream } from "./stream";
import { createLease } from "./txm/lease";
import { createTxManager } from "./txm/manager";
import { createTxStore } from "./txm/store";
import type { TxmSettings } from "./txm/types";
import { createOracleWorker } from "./worker";

function txmSettings(config: OracleConfig): TxmSettings {
  return {
    confirmations: config.ORACLE_CONFIRMATIONS,
    finalityDepth: config.ORACLE_FINALITY_DEPTH,
    stuckAfterMs: config.ORACLE_STUCK_AFTER_MS,
    rebroadcastMs: config.ORACLE_REBROADCAST_MS,
    bumpPercent: config.ORACLE_BUMP_PERCENT,
    maxFee: config.ORACLE_MAX_FEE_GWEI,
    maxAttempts: config.ORACLE_MAX_ATTEMPTS,
    maxInFlight: config.ORACLE_MAX_IN_FLIGHT,
    leaseMs: config.ORACLE_LEASE_MS,
  };
}

/** Opens the store and migrates it to the latest numbered migration. */
async function openSql(config: Pick<OracleConfig, "DATABASE_URL" | "ORACLE_DATA_DIR" | "ORACLE_DB_SCHEMA">): Promise<Sql> {
  if (config.DATABASE_URL) {
    await migrateSchema({ url: config.DATABASE_URL }, config.ORACLE_DB_SCHEMA);
    return createPostgresSql({ url: config.DATABASE_URL });
  }
  if (config.ORACLE_DATA_DIR !== "memory://") await mkdir(config.ORACLE_DATA_DIR, { recursive: true });
  const sql = await createPgliteSql({ dataDir: config.ORACLE_DATA_DIR });
  await migrateSchema({ pglite: sql.pglite }, config.ORACLE_DB_SCHEMA);
  return sql;
}

export function openStream(config: OracleConfig): ResultStream {
  const keys = { stream: config.ORACLE_STREAM_KEY, deadLetter: config.ORACLE_DEAD_LETTER_KEY, group: config.ORACLE_GROUP };
  return config.REDIS_URL ? createRedisStream({ url: config.REDIS_URL, ...keys }) : createMemoryStream();
}

export function createOracleClient(config: OracleConfig): PublicClient {
  return createPublicClient({
    chain: chainOf(config),
    // Our own retries and circuit breaker decide what to do on failure; the transport only gives
    // up quickly. Calls made together (a pool preparing jobs) travel as one JSON-RPC batch.
    transport: rpcTransport(config.RPC_URL, { timeout: config.ORACLE_RPC_TIMEOUT_MS, retryCount: 1, batch: { batchSize: 100, wait: 0 } }),
    pollingInterval: 250,
  });
}

/** Opens everything the worker needs; `stream` may be passed in to share an in-process one. */
async function openOracle(config: OracleConfig, options: { stream?: ResultStream; logger?: Logger } = {}) {
  const logger = options.logger ?? createLogger({ level: config.LOG_LEVEL, name: "oracle" });
  const publicClient = createOracleClient(config);
  const chainId = await publicClient.getChainId();
  // Off a local chain from the settings, as the indexer's: no manifest is needed where it runs.
  const contract = isLocalChain(config.CHAIN) ? readManifest(config.DEPLOYMENTS_DIR, chainId).contracts.InferencePayment.address : config.INFERENCE_PAYMENT_ADDRESS!;
  const account = await loadOracleAccount(config);
  const sql = await openSql(config);
  const jobs = createJobStore({ sql, schema: config.ORACLE_DB_SCHEMA, chainId, contract });
  const stream = options.stream ?? openStream(config);
  return { logger, publicClient, chainId, account, sql, jobs, stream, contract };
}

export async function startOracle(config: OracleConfig, options: { stream?: ResultStream; logger?: Logger } = {}) {
  const opened = await openOracle(config, options);
  const { logger, account, chainId, contract, sql, jobs, stream, publicClient } = opened;
  const metrics = createMetrics();
  observeSignerBalance(metrics, account.address, () => publicClient.getBalance({ address: account.address }));
  const crash = createCrashPoints(config.ORACLE_CRASH_AT);
  const holder = `${config.ORACLE_CONSUMER}:${randomUUID()}`;
  const settings = txmSettings(config);
  const txStore = createTxStore({ sql, schema: config.ORACLE_DB_SCHEMA, chainId, from: account.address, onOutcome: createOutcomeHandler({ jobs, metrics, logger }) });
  const lease = createLease({ store: txStore, holder, ttlMs: config.ORACLE_LEASE_MS, logger, onLost: () => metrics.leaseLost.inc() });
  const txm = createTxManager({ chain: publicClient, store: txStore, account, chainId, settings, metrics, logger, crash, lease, holder });
  const pipeline = createSettlementPipeline({
    sql,
    jobs,
    txm,
    prepare: createPreparer({ publicClient, contract, from: account.address, models: config.ORACLE_MODELS }),
    contract,
    settings: { batchThreshold: config.ORACLE_BATCH_THRESHOLD, batchSize: config.ORACLE_BATCH_SIZE, prepareConcurrency: config.ORACLE_PREPARE_CONCURRENCY },
    metrics,
    logger,
  });
  const intake = createIntake({
    stream,
    store: jobs,
    models: config.ORACLE_MODELS,
    settings: { consumer: config.ORACLE_CONSUMER, count: config.ORACLE_READ_COUNT, blockMs: 1_000, claimIdleMs: config.ORACLE_CLAIM_IDLE_MS },
    metrics,
    logger,
    crash,
  });
  const server =
    config.ORACLE_HTTP_PORT > 0
      ? await serveOracleHttp({ metrics, port: config.ORACLE_HTTP_PORT, host: config.ORACLE_HTTP_HOST, stream, jobs, models: config.ORACLE_MODELS, adminToken: config.ORACLE_ADMIN_TOKEN })
      : undefined;
  const worker = createOracleWorker({
    intake,
    jobs,
    pipeline,
    txm,
    lease,
    stream,
    settings: {
      pollMs: config.ORACLE_POLL_MS,
      breakerFailures: config.ORACLE_BREAKER_FAILURES,
      breakerCooldownMs: config.ORACLE_BREAKER_COOLDOWN_MS,
      shutdownTimeoutMs: config.ORACLE_SHUTDOWN_TIMEOUT_MS,
    },
    metrics,
    logger,
  });
  logger.info({ msg: "oracle started", chain_id: chainId, contract, oracle_address: account.address, store: config.DATABASE_URL ? "postgres" : "pglite", stream: config.REDIS_URL ? "redis" : "memory" });
  const running = worker.start();
  return {
    ...opened,
    metrics,
    running,
    async stop() {
      await worker.stop();
      server?.close();
      if (!options.stream) await stream.close();
      await sql.close();
      logger.info({ msg: "oracle stopped" });
    },
  };
}
