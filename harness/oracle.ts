/** A settlement worker on a harness chain: its settings and the accounts that post work to it. */
import { randomUUID } from "node:crypto";
import type { ChainConfig } from "../common/config";
import type { startDeployedChain } from "./chain";

export type Chain = Awaited<ReturnType<typeof startDeployedChain>>;

/** Environment for a worker on `chain`, fast timings, everything else isolated per suite. */
export function oracleEnv(chain: Pick<Chain, "anvil" | "deploymentsDir"> & { config: { CHAIN: ChainConfig["CHAIN"] } }, overrides: Record<string, string> = {}): Record<string, string> {
  const id = randomUUID().slice(0, 8);
  return {
    // The worker signs for the chain's id: bsc-local's (56), not anvil's.
    CHAIN: chain.config.CHAIN,
    RPC_URL: chain.anvil.rpcUrl,
    DEPLOYMENTS_DIR: chain.deploymentsDir,
    ORACLE_DATA_DIR: "memory://",
    ORACLE_DB_SCHEMA: `oracle_test_${id}`,
    ORACLE_STREAM_KEY: `test:${id}:results`,
    ORACLE_DEAD_LETTER_KEY: `test:${id}:dead`,
    ORACLE_HTTP_PORT: "0",
    ORACLE_POLL_MS: "50",
    ORACLE_CLAIM_IDLE_MS: "2000",
    ORACLE_LEASE_MS: "3000",
    ORACLE_STUCK_AFTER_MS: "3000",
    ORACLE_REBROADCAST_MS: "1000",
    ORACLE_RPC_TIMEOUT_MS: "2000",
    ORACLE_BREAKER_COOLDOWN_MS: "1000",
    LOG_LEVEL: process.env.ORACLE_TEST_LOG_LEVEL ?? "silent",
    ...overrides,
  };
}
