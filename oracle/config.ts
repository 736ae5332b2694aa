/**
 * The oracle's settings, read and validated once at start-up. Chain settings (CHAIN, RPC_URL,
 * DEPLOYMENTS_DIR) come from common/config; everything here is the worker's own.
 */
import { z } from "zod";
import { parseEther, parseGwei } from "viem";
import { hostname } from "node:os";
import { address, bearerToken, isLocalChain, jsonText, loadChainConfig, logLevel, parseEnv, privateKey, settingNames, type ChainConfig } from "../common/config";
import { ConfigError } from "../common/errors";
import { DEFAULT_MODELS, type ModelTable } from "./pricing";

const ms = z.coerce.number().int().nonnegative();
const positive = z.coerce.number().int().positive();
const gwei = z
  .string()
  .regex(/^\d+(\.\d+)?$/, "must be a decimal amount of gwei")
  .transform((value) => parseGwei(value));

const modelTable = jsonText("JSON")
  .pipe(
    z.record(
      z.string().min(1),
      z.object({
        pricePer1MTokens: z.string().regex(/^\d+(\.\d+)?$/, "must be a decimal FAR amount"),
        tokensPerSecond: z.number().positive(),
      }),
    ),
  )
  .transform(
    (table): ModelTable =>
      Object.fromEntries(
        Object.entries(table).map(([name, model]) => [
          name,
          { pricePer1MTokens: parseEther(model.pricePer1MTokens), tokensPerSecond: model.tokensPerSecond },
        ]),
      ),
  );

const oracleSchema = z.object({
  /** Off a local chain the contract it settles on (the indexer's setting of the same name); on one, the manifest's. */
  INFERENCE_PAYMENT_ADDRESS: address.optional(),
  ORACLE_PRIVATE_KEY: privateKey.optional(),
  ORACLE_KEYSTORE: z.string().min(1).optional(),
  ORACLE_KEYSTORE_PASSWORD: z.string().optional(),
  DATABASE_URL: z.string().url().optional(),
  ORACLE_DB_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case SQL identifier").default("oracle"),
  /** Where the embedded store keeps its files when there is no DATABASE_URL; `memory://` keeps none. */
  ORACLE_DATA_DIR: z.string().default(".data/oracle"),
  REDIS_URL: z.string().url().optional(),
  ORACLE_STREAM_KEY: z.string().min(1).default("far:scheduler:results"),
  ORACLE_DEAD_LETTER_KEY: z.string().min(1).default("far:scheduler:dead"),
  ORACLE_GROUP: z.string().min(1).default("oracle"),
  ORACLE_CONSUMER: z.string().min(1).default(`${hostname()}-${process.pid}`),
  /** A message pending this long with a consumer that stopped is taken over (XAUTOCLAIM). */
  ORACLE_CLAIM_IDLE_MS: ms.default(30_000),
  ORACLE_READ_COUNT: positive.default(100),
  ORACLE_POLL_MS: ms.default(200),
  ORACLE_RPC_TIMEOUT_MS: positive.default(5_000),
  /** Blocks on top of a settlement before its job is reported confirmed. */
  ORACLE_CONFIRMATIONS: positive.default(1),
  /** Blocks after which a settlement is final and no longer re-checked for reorgs. */
  ORACLE_FINALITY_DEPTH: positive.default(12),
  ORACLE_STUCK_AFTER_MS: ms.default(30_000),
  ORACLE_REBROADCAST_MS: ms.default(5_000),
  ORACLE_BUMP_PERCENT: z.coerce.number().int().min(10).max(500).default(20),
  ORACLE_MAX_FEE_GWEI: gwei.default(parseGwei("500")),
  /** Attempts at one nonce before the transaction is replaced by a no-op and its jobs re-queued. */
  ORACLE_MAX_ATTEMPTS: positive.default(5),
  ORACLE_MAX_IN_FLIGHT: positive.default(16),
  /** A backlog of at least this many results of one status goes out as completeTasks / failTasks batches. */
  ORACLE_BATCH_THRESHOLD: positive.default(8),
  ORACLE_BATCH_SIZE: positive.default(50),
  /** Jobs priced and simulated at once (their reads travel as JSON-RPC batches). */
  ORACLE_PREPARE_CONCURRENCY: positive.default(16),
  ORACLE_LEASE_MS: positive.default(15_000),
  ORACLE_BREAKER_FAILURES: positive.default(5),
  ORACLE_BREAKER_COOLDOWN_MS: ms.default(5_000),
  ORACLE_SHUTDOWN_TIMEOUT_MS: ms.default(30_000),
  /** Port of the HTTP server: /metrics, /health and /operations (0: no server). */
  ORACLE_HTTP_PORT: ms.default(9464),
  /** Its listening address: loopback unless set (docker-compose.yml sets 0.0.0.0 for Prometheus in other containers). */
  ORACLE_HTTP_HOST: z.string().min(1).default("127.0.0.1"),
  /** Bearer token of /operations (node registration and rating by operators); unset: refused. */
  ORACLE_ADMIN_TOKEN: bearerToken.optional(),
  ORACLE_MODELS: modelTable.optional(),
  /** Test hook: `point:n` kills the process the n-th time the named point is reached. */
  ORACLE_CRASH_AT: z.string().optional(),
  LOG_LEVEL: logLevel.default("info"),
});

/**
 * Settings still read under the names they had when the HTTP server served only /metrics
 * (new name → old name); the new name wins when both are set.
 */
const OLD_NAMES = { ORACLE_HTTP_PORT: "ORACLE_METRICS_PORT", ORACLE_HTTP_HOST: "ORACLE_METRICS_HOST" } as const;

function withOldNames(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, ...Object.fromEntries(Object.entries(OLD_NAMES).map(([name, old]) => [name, env[name] ?? env[old]])) };
}

type OracleSettings = Omit<z.infer<typeof oracleSchema>, "ORACLE_MODELS"> & { ORACLE_MODELS: ModelTable };
export type OracleConfig = ChainConfig & OracleSettings;

export function loadOracleConfig(env: NodeJS.ProcessEnv = process.env): OracleConfig {
  const chain = loadChainConfig(env);
  const settings = parseEnv(oracleSchema, withOldNames(env));
  if (settings.ORACLE_PRIVATE_KEY && settings.ORACLE_KEYSTORE) {
    throw new ConfigError("Set either ORACLE_PRIVATE_KEY or ORACLE_KEYSTORE, not both");
  }
  if (!isLocalChain(chain.CHAIN) && !settings.ORACLE_PRIVATE_KEY && !settings.ORACLE_KEYSTORE) {
    throw new ConfigError(`Invalid setting for CHAIN=${chain.CHAIN}: ORACLE_PRIVATE_KEY or ORACLE_KEYSTORE is required off anvil`);
  }
  if (!isLocalChain(chain.CHAIN) && !settings.INFERENCE_PAYMENT_ADDRESS) {
    throw new ConfigError(`Invalid setting for CHAIN=${chain.CHAIN}: INFERENCE_PAYMENT_ADDRESS is required off anvil`);
  }
  return { ...chain, ...settings, ORACLE_MODELS: settings.ORACLE_MODELS ?? DEFAULT_MODELS };
}

const simulatorSchema = z.object({
  SIMULATOR_USERS: positive.default(5),
  SIMULATOR_NODES: positive.default(3),
  /** Tasks per round; the simulator keeps creating rounds until stopped when SIMULATOR_ROUNDS is 0. */
  SIMULATOR_TASKS: positive.default(20),
  SIMULATOR_ROUNDS: ms.default(0),
  SIMULATOR_RATE: z.coerce.number().nonnegative().default(5),
  SIMULATOR_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0.1),
  SIMULATOR_DUPLICATE_RATE: z.coerce.number().min(0).max(1).default(0.1),
  SIMULATOR_SEED: z.coerce.number().int().default(1),
});

export const ORACLE_SETTINGS = [...settingNames(oracleSchema, simulatorSchema), ...Object.values(OLD_NAMES)];

export type SimulatorConfig = OracleConfig & z.infer<typeof simulatorSchema>;

export function loadSimulatorConfig(env: NodeJS.ProcessEnv = process.env): SimulatorConfig {
  return { ...loadOracleConfig(env), ...parseEnv(simulatorSchema, env) };
}
