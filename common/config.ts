/**
 * Every setting the project reads from the environment, validated once at start-up. Each
 * process asks for the sections it needs; a wrong value fails with one line naming the variable.
 */
import { join } from "node:path";
import { z } from "zod";
import { isAddress, isHex, type Address, type Hex } from "viem";
import { ConfigError } from "./errors";
import { rpcUrls } from "./rpc";

/** Anvil's public development mnemonic: only ever used when the chain is a local anvil. */
export const ANVIL_MNEMONIC = "test test test test test test test test test test test junk";
/**
 * The chains `npm start` and the tests run on anvil: its own (1 s blocks; finalized = head − 30,
 * as Ponder's fixed depth) and one like BSC since its 2025 forks (chain id 56, 0.75 s blocks, and
 * fast finality: `--slots-in-an-epoch 1` makes anvil's safe tag the head − 1 and finalized the
 * head − 2). `blockTime` is npm start's default; anvil's safe tag is the head − `slotsInAnEpoch`,
 * its finalized the head − 2 × `slotsInAnEpoch`.
 */
export const LOCAL_CHAINS = {
  anvil: { id: 31337, blockTime: 1, slotsInAnEpoch: 15 },
  "bsc-local": { id: 56, blockTime: 0.75, slotsInAnEpoch: 1 },
} as const;
export type LocalChainName = keyof typeof LOCAL_CHAINS;

/** Whether CHAIN names a chain run locally on anvil (deployed from the manifest, the development mnemonic's accounts). */
export const isLocalChain = (chain: string): chain is LocalChainName => Object.hasOwn(LOCAL_CHAINS, chain);
/** FARToken.MIN_LOCK_PERIOD: the token's constructor refuses a shorter stake lock. */
export const MIN_STAKE_LOCK_SECONDS = 24 * 3600;

/** A yes/no setting: true, false, 1 or 0. */
export const flag = z.enum(["true", "false", "1", "0"]).transform((value) => value === "true" || value === "1");

export const address = z
  .string()
  .refine((value) => isAddress(value, { strict: false }), "must be a 0x-prefixed 20-byte hex address")
  .transform((value) => value.toLowerCase() as Address);
export const privateKey = z
  .string()
  .refine((value) => isHex(value) && value.length === 66, "must be a 0x-prefixed 32-byte hex private key")
  .transform((value) => value as Hex);
/** A setting holding JSON, parsed before its own schema is applied with `.pipe`; `expected` says what the JSON must be. */
export const jsonText = (expected: string) =>
  z.string().transform((text, context) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      context.addIssue({ code: "custom", message: `must be ${expected}` });
      return z.NEVER;
    }
  });
export const logLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);
export type LogLevel = z.infer<typeof logLevel>;
/** A secret sent as `Authorization: Bearer <token>`: long enough not to be guessed, and only characters a bearer token may hold (RFC 6750). */
export const bearerToken = z
  .string()
  .min(16, "must be at least 16 characters")
  .regex(/^[A-Za-z0-9._~+/-]+=*$/, "must hold only letters, digits and -._~+/ (a bearer token)");
const seconds = z.coerce.number().int().nonnegative();
const url = z.string().url();
/** RPC_URL: one URL, or several separated by commas (asked in order, the next when one fails). */
export const rpcUrlList = z
  .string()
  .refine((value) => rpcUrls(value).length > 0 && rpcUrls(value).every((part) => url.safeParse(part).success), "must be a URL or a comma-separated list of URLs");

const chainSchema = z.object({
  CHAIN: z.enum(["anvil", "bsc-local", "bsc", "bsc-testnet"]).default("anvil"),
  RPC_URL: rpcUrlList.default("http://127.0.0.1:8545"),
  DEPLOYMENTS_DIR: z.string().default("deployments"),
});

const deploySchema = chainSchema.extend({
  DEPLOYER_PRIVATE_KEY: privateKey.optional(),
  /** An existing Chainlink-style FAR/USD feed (AnswerUpdated, latestRoundData); unset: a mock feed is deployed at FAR_USD_PRICE. */
  PRICE_FEED_ADDRESS: address.optional(),
  ORACLE_ADDRESS: address.optional(),
  TREASURY_ADDRESS: address.optional(),
  INITIAL_SUPPLY: z.coerce.bigint().default(800_000_000n * 10n ** 18n),
  STAKE_LOCK_SECONDS: seconds.min(MIN_STAKE_LOCK_SECONDS, `must be at least ${MIN_STAKE_LOCK_SECONDS} (FARToken.MIN_LOCK_PERIOD, one day)`).default(7 * 24 * 3600),
  TASK_TIMEOUT_SECONDS: seconds.default(24 * 3600),
  FAR_USD_PRICE: z.coerce.bigint().default(25_000_000n),
});

/**
 * Off anvil the contracts' addresses and first block come from the environment; on anvil from
 * the deployment manifest.
 */
const indexerSchema = chainSchema.extend({
  DATABASE_URL: url.optional(),
  PGLITE_DIR: z.string().default(".ponder/pglite"),
  FAR_TOKEN_ADDRESS: address.optional(),
  INFERENCE_PAYMENT_ADDRESS: address.optional(),
  PRICE_FEED_ADDRESS: address.optional(),
  START_BLOCK: z.coerce.number().int().nonnegative().optional(),
  RPC_POLLING_INTERVAL_MS: z.coerce.number().int().positive().default(1000),
  /** The indexer's hard cap on its requests a second to the RPC (all URLs together); unset: Ponder adapts to 429s alone. */
  RPC_MAX_REQUESTS_PER_SECOND: z.coerce.number().positive().optional(),
  /** The widest eth_getLogs block range the indexer asks for (Ponder's ethGetLogsBlockRange); unset: Ponder learns it from the RPC's errors. */
  RPC_GET_LOGS_BLOCK_RANGE: z.coerce.number().int().positive().optional(),
});

/** `npm start`: without RPC_URL it runs its own anvil, keeping chain and index under DATA_DIR. */
const startSchema = z.object({
  PORT: z.coerce.number().int().min(1).max(65535).default(42069),
  /** Ponder's (and so the embedded API's) listening address: loopback unless set, e.g. 0.0.0.0 to serve a network. */
  HOST: z.string().min(1).default("127.0.0.1"),
  ANVIL_PORT: z.coerce.number().int().min(1).max(65535).default(8545),
  /** Seconds between the embedded anvil's blocks; unset, the local chain's own (LOCAL_CHAINS: 1, or 0.75 for bsc-local). */
  ANVIL_BLOCK_TIME: z.coerce.number().positive().optional(),
  DATA_DIR: z.string().default(".data"),
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]*$/, "must be a lowercase SQL identifier").default("far"),
  SIMULATOR: z.enum(["on", "off"]).default("on"),
  /** Ctrl-C: how long the parts get, together, to stop when asked before they are killed. */
  STOP_TIMEOUT_MS: z.coerce.number().int().positive().default(20_000),
  /** Stream every process's log to the terminal (as `npm start -- --verbose`), not only warnings and errors. */
  FAR_VERBOSE: flag.default(false),
  /** Where the output is not a terminal: how often a status line is printed. */
  STATUS_INTERVAL_MS: z.coerce.number().int().positive().default(30_000),
});

/** `npm run far`: where the operators' CLI finds the indexer (when it has no DATABASE_URL) and the oracle. */
const cliSchema = z.object({
  INDEXER_URL: url.default("http://127.0.0.1:42069"),
  DATABASE_SCHEMA: startSchema.shape.DATABASE_SCHEMA,
  /** The oracle's HTTP server, which takes node operations. */
  ORACLE_URL: url.default("http://127.0.0.1:9464"),
  /** Unset: the token `npm start` wrote under DATA_DIR. */
  ORACLE_ADMIN_TOKEN: z.string().optional(),
  DATA_DIR: startSchema.shape.DATA_DIR,
});

export type ChainConfig = z.infer<typeof chainSchema>;
export type ChainName = ChainConfig["CHAIN"];
/** The real chains: their contracts' addresses come from settings (`npm run deploy` prints them), never from a manifest. */
export type RemoteChainName = Exclude<ChainName, LocalChainName>;
export type StartConfig = z.infer<typeof startSchema> & { embeddedAnvil: boolean };
export type IndexerConfig = z.infer<typeof indexerSchema>;
export type DeployConfig = z.infer<typeof deploySchema>;

/** The variables a schema reads: docker-compose.yml and .env.example are checked against them. */
export function settingNames(...schemas: z.ZodObject[]): string[] {
  return [...new Set(schemas.flatMap((schema) => Object.keys(schema.shape)))];
}

export const COMMON_SETTINGS = settingNames(chainSchema, deploySchema, indexerSchema, startSchema, cliSchema);

/** Validates `env` against `schema`; the first problem becomes a one-line ConfigError naming the variable. */
export function parseEnv<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new ConfigError(`Invalid setting ${issue.path.join(".")}: ${issue.message}`);
}

export function loadChainConfig(env: NodeJS.ProcessEnv = process.env): ChainConfig {
  return parseEnv(chainSchema, env);
}

export function loadIndexerConfig(env: NodeJS.ProcessEnv = process.env): IndexerConfig {
  const config = parseEnv(indexerSchema, env);
  if (
    !isLocalChain(config.CHAIN) &&
    (!config.FAR_TOKEN_ADDRESS || !config.INFERENCE_PAYMENT_ADDRESS || !config.PRICE_FEED_ADDRESS || config.START_BLOCK === undefined)
  ) {
    throw new ConfigError(
      `Invalid setting for CHAIN=${config.CHAIN}: FAR_TOKEN_ADDRESS, INFERENCE_PAYMENT_ADDRESS, PRICE_FEED_ADDRESS and START_BLOCK are required off anvil`,
    );
  }
  return config;
}

export function loadStartConfig(env: NodeJS.ProcessEnv = process.env): StartConfig {
  return { ...parseEnv(startSchema, env), embeddedAnvil: !env.RPC_URL };
}

export function loadDeployConfig(env: NodeJS.ProcessEnv = process.env): DeployConfig {
  const config = parseEnv(deploySchema, env);
  if (!isLocalChain(config.CHAIN) && (!config.DEPLOYER_PRIVATE_KEY || !config.ORACLE_ADDRESS || !config.TREASURY_ADDRESS)) {
    throw new ConfigError(
      `Invalid setting for CHAIN=${config.CHAIN}: DEPLOYER_PRIVATE_KEY, ORACLE_ADDRESS and TREASURY_ADDRESS are required off anvil`,
    );
  }
  return config;
}

export function loadCliConfig(env: NodeJS.ProcessEnv = process.env): z.infer<typeof cliSchema> {
  return parseEnv(cliSchema, env);
}

/** Where `npm start` keeps the oracle's admin token for the operators' CLI on the same machine. */
export const adminTokenPath = (dataDir: string) => join(dataDir, "oracle-admin-token");
