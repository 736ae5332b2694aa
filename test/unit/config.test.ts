/**
 * The settings loaders: what an empty environment gives, and that every refusal is one
 * ConfigError line naming the variable at fault.
 */
import { describe, expect, it } from "vitest";
import { loadApiConfig, loadReplicaConfig } from "../../api/config";
import {
  adminTokenPath,
  loadChainConfig,
  loadCliConfig,
  loadDeployConfig,
  loadIndexerConfig,
  loadStartConfig,
  MIN_STAKE_LOCK_SECONDS,
} from "../../common/config";
import { ConfigError } from "../../common/errors";
import { DEFAULT_MODELS } from "../../oracle/pricing";
import { loadOracleConfig, loadSimulatorConfig } from "../../oracle/config";

const KEY = `0x${"11".repeat(32)}`;
const ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const TOKEN = "0123456789abcdef-token";

/** The refusal's message, or "accepted". */
function refusal(load: () => unknown): string {
  try {
    load();
    return "accepted";
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    expect(error.message).not.toContain("\n");
    return error.message;
  }
}

describe("defaults from an empty environment", () => {
  it("common: chain, start, deploy, indexer and CLI", () => {
    expect(loadChainConfig({})).toEqual({ CHAIN: "anvil", RPC_URL: "http://127.0.0.1:8545", DEPLOYMENTS_DIR: "deployments" });
    expect(loadStartConfig({})).toMatchObject({ PORT: 42069, HOST: "127.0.0.1", ANVIL_PORT: 8545, DATABASE_SCHEMA: "far", SIMULATOR: "on", embeddedAnvil: true });
    expect(loadStartConfig({ RPC_URL: "http://chain:8545" }).embeddedAnvil).toBe(false);
    expect(loadDeployConfig({})).toMatchObject({ STAKE_LOCK_SECONDS: 7 * 86_400, INITIAL_SUPPLY: 800_000_000n * 10n ** 18n, FAR_USD_PRICE: 25_000_000n });
    expect(loadIndexerConfig({})).toMatchObject({ PGLITE_DIR: ".ponder/pglite", RPC_POLLING_INTERVAL_MS: 1000 });
    expect(loadCliConfig({})).toMatchObject({ INDEXER_URL: "http://127.0.0.1:42069", ORACLE_URL: "http://127.0.0.1:9464", DATA_DIR: ".data" });
    expect(adminTokenPath("/data")).toBe("/data/oracle-admin-token");
  });

  it("API: page sizes, flags, and who writes the feed", () => {
    const api = loadApiConfig({});
    expect(api).toMatchObject({ API_DEFAULT_PAGE_SIZE: 20, API_MAX_PAGE_SIZE: 100, API_GRAPHIQL: true, API_SQL: false, API_FEED_WRITER: true, API_LOG_LEVEL: "info" });
    const replica = { DATABASE_URL: "postgres://db/far", DATABASE_SCHEMA: "far" };
    expect(loadReplicaConfig(replica)).toMatchObject({ API_PORT: 4000, API_HOST: "127.0.0.1", API_FEED_WRITER: true });
    // With Redis, replicas tail the shared feed; the embedded API still writes it.
    expect(loadReplicaConfig({ ...replica, REDIS_URL: "redis://r:6379" }).API_FEED_WRITER).toBe(false);
    expect(loadApiConfig({ REDIS_URL: "redis://r:6379" }).API_FEED_WRITER).toBe(true);
    expect(loadReplicaConfig({ ...replica, REDIS_URL: "redis://r:6379", API_FEED_WRITER: "1" }).API_FEED_WRITER).toBe(true);
  });

  it("oracle and simulator", () => {
    const oracle = loadOracleConfig({});
    expect(oracle).toMatchObject({ CHAIN: "anvil", ORACLE_DB_SCHEMA: "oracle", ORACLE_BUMP_PERCENT: 20, ORACLE_MAX_FEE_GWEI: 500_000_000_000n, LOG_LEVEL: "info" });
    expect(oracle.ORACLE_MODELS).toBe(DEFAULT_MODELS);
    expect(loadSimulatorConfig({})).toMatchObject({ SIMULATOR_USERS: 5, SIMULATOR_FAILURE_RATE: 0.1, SIMULATOR_SEED: 1 });
  });
});

describe("renamed settings", () => {
  it("the oracle's HTTP server: read under the old names, the new names winning when both are set", () => {
    expect(loadOracleConfig({})).toMatchObject({ ORACLE_HTTP_PORT: 9464, ORACLE_HTTP_HOST: "127.0.0.1" });
    const old = loadOracleConfig({ ORACLE_METRICS_PORT: "9500", ORACLE_METRICS_HOST: "0.0.0.0" });
    expect(old).toMatchObject({ ORACLE_HTTP_PORT: 9500, ORACLE_HTTP_HOST: "0.0.0.0" });
    expect(old).not.toHaveProperty("ORACLE_METRICS_PORT");
    expect(loadOracleConfig({ ORACLE_METRICS_PORT: "0" }).ORACLE_HTTP_PORT).toBe(0);
    const both = { ORACLE_HTTP_PORT: "9600", ORACLE_METRICS_PORT: "9500", ORACLE_HTTP_HOST: "::1", ORACLE_METRICS_HOST: "0.0.0.0" };
    expect(loadOracleConfig(both)).toMatchObject({ ORACLE_HTTP_PORT: 9600, ORACLE_HTTP_HOST: "::1" });
    expect(loadSimulatorConfig({ ORACLE_METRICS_PORT: "9500" }).ORACLE_HTTP_PORT).toBe(9500);
  });
});

describe("values read from text", () => {
  it.each<[string, () => unknown, unknown]>([
    ["API flags: true/false/1/0", () => loadApiConfig({ API_GRAPHIQL: "0", API_INTROSPECTION: "false", API_SQL: "1", API_SQL_TOKEN: TOKEN }), { API_GRAPHIQL: false, API_INTROSPECTION: false, API_SQL: true }],
    ["numbers", () => loadApiConfig({ API_MAX_PAGE_SIZE: "500", API_MAX_QUEUED: "0" }), { API_MAX_PAGE_SIZE: 500, API_MAX_QUEUED: 0 }],
    ["addresses are lowercased", () => loadDeployConfig({ ORACLE_ADDRESS: ADDRESS }), { ORACLE_ADDRESS: ADDRESS.toLowerCase() }],
    ["amounts are bigints", () => loadDeployConfig({ INITIAL_SUPPLY: "123456789012345678901234567890" }), { INITIAL_SUPPLY: 123456789012345678901234567890n }],
    ["the least stake lock the token accepts", () => loadDeployConfig({ STAKE_LOCK_SECONDS: String(MIN_STAKE_LOCK_SECONDS) }), { STAKE_LOCK_SECONDS: 86_400 }],
    ["gwei with decimals", () => loadOracleConfig({ ORACLE_MAX_FEE_GWEI: "1.5" }), { ORACLE_MAX_FEE_GWEI: 1_500_000_000n }],
    [
      "a model table: FAR prices as decimals",
      () => loadOracleConfig({ ORACLE_MODELS: JSON.stringify({ tiny: { pricePer1MTokens: "0.25", tokensPerSecond: 100 } }) }),
      { ORACLE_MODELS: { tiny: { pricePer1MTokens: 250_000_000_000_000_000n, tokensPerSecond: 100 } } },
    ],
    ["off anvil, with everything the indexer needs", () => loadIndexerConfig({ CHAIN: "bsc", FAR_TOKEN_ADDRESS: ADDRESS, INFERENCE_PAYMENT_ADDRESS: ADDRESS, PRICE_FEED_ADDRESS: ADDRESS, START_BLOCK: "0" }), { START_BLOCK: 0 }],
    ["off anvil, the oracle with a keystore", () => loadOracleConfig({ CHAIN: "bsc-testnet", ORACLE_KEYSTORE: "/keys/oracle.json", INFERENCE_PAYMENT_ADDRESS: ADDRESS }), { ORACLE_KEYSTORE: "/keys/oracle.json", INFERENCE_PAYMENT_ADDRESS: ADDRESS.toLowerCase() }],
    ["deploying with an existing price feed", () => loadDeployConfig({ PRICE_FEED_ADDRESS: ADDRESS }), { PRICE_FEED_ADDRESS: ADDRESS.toLowerCase() }],
    ["a bearer token with base64 padding", () => loadOracleConfig({ ORACLE_ADMIN_TOKEN: `${TOKEN}+/==` }), { ORACLE_ADMIN_TOKEN: `${TOKEN}+/==` }],
  ])("%s", (_what, load, expected) => {
    expect(load()).toMatchObject(expected as object);
  });
});

describe("refusals name the setting", () => {
  it.each<[string, () => unknown, string | RegExp]>([
    // common
    ["an unknown chain", () => loadChainConfig({ CHAIN: "mainnet" }), /^Invalid setting CHAIN: /],
    ["an RPC URL that is no URL", () => loadChainConfig({ RPC_URL: "chain-host" }), /^Invalid setting RPC_URL: /],
    ["a port out of range", () => loadStartConfig({ PORT: "65536" }), /^Invalid setting PORT: /],
    ["a port that is no number", () => loadStartConfig({ ANVIL_PORT: "eighty" }), /^Invalid setting ANVIL_PORT: /],
    ["a schema that is no SQL identifier", () => loadStartConfig({ DATABASE_SCHEMA: "Far-1" }), "Invalid setting DATABASE_SCHEMA: must be a lowercase SQL identifier"],
    ["SIMULATOR neither on nor off", () => loadStartConfig({ SIMULATOR: "yes" }), /^Invalid setting SIMULATOR: /],
    ["a stake lock under a day", () => loadDeployConfig({ STAKE_LOCK_SECONDS: "86399" }), "Invalid setting STAKE_LOCK_SECONDS: must be at least 86400 (FARToken.MIN_LOCK_PERIOD, one day)"],
    ["a short private key", () => loadDeployConfig({ DEPLOYER_PRIVATE_KEY: "0x1234" }), "Invalid setting DEPLOYER_PRIVATE_KEY: must be a 0x-prefixed 32-byte hex private key"],
    ["a private key without 0x", () => loadDeployConfig({ DEPLOYER_PRIVATE_KEY: "11".repeat(32) }), /^Invalid setting DEPLOYER_PRIVATE_KEY: /],
    ["a short address", () => loadDeployConfig({ TREASURY_ADDRESS: "0x1234" }), "Invalid setting TREASURY_ADDRESS: must be a 0x-prefixed 20-byte hex address"],
    ["a fractional supply", () => loadDeployConfig({ INITIAL_SUPPLY: "1.5" }), /^Invalid setting INITIAL_SUPPLY: /],
    ["deploying off anvil without keys", () => loadDeployConfig({ CHAIN: "bsc" }), "Invalid setting for CHAIN=bsc: DEPLOYER_PRIVATE_KEY, ORACLE_ADDRESS and TREASURY_ADDRESS are required off anvil"],
    ["indexing off anvil without addresses", () => loadIndexerConfig({ CHAIN: "bsc", FAR_TOKEN_ADDRESS: ADDRESS }), /^Invalid setting for CHAIN=bsc: .*START_BLOCK are required off anvil$/],
    ["a negative start block", () => loadIndexerConfig({ START_BLOCK: "-1" }), /^Invalid setting START_BLOCK: /],
    ["a zero polling interval", () => loadIndexerConfig({ RPC_POLLING_INTERVAL_MS: "0" }), /^Invalid setting RPC_POLLING_INTERVAL_MS: /],
    ["a CLI URL that is no URL", () => loadCliConfig({ ORACLE_URL: "oracle" }), /^Invalid setting ORACLE_URL: /],
    // API
    ["a flag that is neither true nor false", () => loadApiConfig({ API_GRAPHIQL: "yes" }), /^Invalid setting API_GRAPHIQL: /],
    ["a zero page size", () => loadApiConfig({ API_MAX_PAGE_SIZE: "0" }), /^Invalid setting API_MAX_PAGE_SIZE: /],
    ["a fractional limit", () => loadApiConfig({ API_MAX_COST: "1.5" }), /^Invalid setting API_MAX_COST: /],
    ["a default page larger than the largest", () => loadApiConfig({ API_DEFAULT_PAGE_SIZE: "101" }), "Invalid setting API_DEFAULT_PAGE_SIZE: must not exceed API_MAX_PAGE_SIZE"],
    ["SQL over HTTP without its token", () => loadApiConfig({ API_SQL: "true" }), "Invalid setting API_SQL_TOKEN: required when API_SQL=true"],
    ["an SQL token too short to be secret", () => loadApiConfig({ API_SQL_TOKEN: "short" }), "Invalid setting API_SQL_TOKEN: must be at least 16 characters"],
    ["an SQL token with characters a bearer token cannot hold", () => loadApiConfig({ API_SQL_TOKEN: `${TOKEN} x` }), /^Invalid setting API_SQL_TOKEN: must hold only letters/],
    ["no feed writer and no Redis", () => loadApiConfig({ API_FEED_WRITER: "false" }), /^Invalid setting API_FEED_WRITER: false needs REDIS_URL/],
    ["an unknown log level", () => loadApiConfig({ API_LOG_LEVEL: "verbose" }), /^Invalid setting API_LOG_LEVEL: /],
    ["a replica without its database", () => loadReplicaConfig({ DATABASE_SCHEMA: "far" }), /^Invalid setting DATABASE_URL: /],
    ["a replica without its schema", () => loadReplicaConfig({ DATABASE_URL: "postgres://db/far" }), /^Invalid setting DATABASE_SCHEMA: /],
    // oracle
    ["an oracle key that is an address", () => loadOracleConfig({ ORACLE_PRIVATE_KEY: ADDRESS }), "Invalid setting ORACLE_PRIVATE_KEY: must be a 0x-prefixed 32-byte hex private key"],
    ["both a key and a keystore", () => loadOracleConfig({ ORACLE_PRIVATE_KEY: KEY, ORACLE_KEYSTORE: "/k.json" }), "Set either ORACLE_PRIVATE_KEY or ORACLE_KEYSTORE, not both"],
    ["the oracle off anvil without a key", () => loadOracleConfig({ CHAIN: "bsc" }), "Invalid setting for CHAIN=bsc: ORACLE_PRIVATE_KEY or ORACLE_KEYSTORE is required off anvil"],
    ["the oracle off anvil without its contract", () => loadOracleConfig({ CHAIN: "bsc", ORACLE_PRIVATE_KEY: KEY }), "Invalid setting for CHAIN=bsc: INFERENCE_PAYMENT_ADDRESS is required off anvil"],
    ["an oracle schema with capitals", () => loadOracleConfig({ ORACLE_DB_SCHEMA: "Oracle" }), "Invalid setting ORACLE_DB_SCHEMA: must be a lower-case SQL identifier"],
    ["an oracle schema longer than Postgres allows", () => loadOracleConfig({ ORACLE_DB_SCHEMA: "o".repeat(64) }), /^Invalid setting ORACLE_DB_SCHEMA: /],
    ["a fee bump under 10 %", () => loadOracleConfig({ ORACLE_BUMP_PERCENT: "9" }), /^Invalid setting ORACLE_BUMP_PERCENT: /],
    ["a fee cap in wei notation", () => loadOracleConfig({ ORACLE_MAX_FEE_GWEI: "1e9" }), "Invalid setting ORACLE_MAX_FEE_GWEI: must be a decimal amount of gwei"],
    ["a model table that is no JSON", () => loadOracleConfig({ ORACLE_MODELS: "{llama}" }), "Invalid setting ORACLE_MODELS: must be JSON"],
    ["a model's price in scientific notation", () => loadOracleConfig({ ORACLE_MODELS: JSON.stringify({ m: { pricePer1MTokens: "1e3", tokensPerSecond: 1 } }) }), "Invalid setting ORACLE_MODELS.m.pricePer1MTokens: must be a decimal FAR amount"],
    ["a model with no speed", () => loadOracleConfig({ ORACLE_MODELS: JSON.stringify({ m: { pricePer1MTokens: "1", tokensPerSecond: 0 } }) }), /^Invalid setting ORACLE_MODELS\.m\.tokensPerSecond: /],
    ["an admin token too short", () => loadOracleConfig({ ORACLE_ADMIN_TOKEN: "secret" }), "Invalid setting ORACLE_ADMIN_TOKEN: must be at least 16 characters"],
    ["an unknown oracle log level", () => loadOracleConfig({ LOG_LEVEL: "loud" }), /^Invalid setting LOG_LEVEL: /],
    ["a chain setting, read by the oracle too", () => loadOracleConfig({ CHAIN: "eth" }), /^Invalid setting CHAIN: /],
    ["a failure rate above 1", () => loadSimulatorConfig({ SIMULATOR_FAILURE_RATE: "1.5" }), /^Invalid setting SIMULATOR_FAILURE_RATE: /],
    ["no simulated users", () => loadSimulatorConfig({ SIMULATOR_USERS: "0" }), /^Invalid setting SIMULATOR_USERS: /],
  ])("%s", (_what, load, expected) => {
    const message = refusal(load);
    if (typeof expected === "string") expect(message).toBe(expected);
    else expect(message).toMatch(expected);
  });
});
