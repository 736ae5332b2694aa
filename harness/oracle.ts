/** A settlement worker on a harness chain: its settings and the accounts that post work to it. */
import { randomUUID } from "node:crypto";
import type { LocalAccount } from "viem";
import { anvilAccount } from "../common/chain";
import type { startDeployedChain } from "./chain";
import { NODE_ACCOUNT_OFFSET, USER_ACCOUNT_OFFSET } from "./scenario";

export type Chain = Awaited<ReturnType<typeof startDeployedChain>>;

/** Environment for a worker on `chain`, fast timings, everything else isolated per suite. */
export function oracleEnv(chain: Chain, overrides: Record<string, string> = {}): Record<string, string> {
  const id = randomUUID().slice(0, 8);
  return {
    CHAIN: "anvil",
    RPC_URL: chain.anvil.rpcUrl,
    DEPLOYMENTS_DIR: chain.deploymentsDir,
    ORACLE_DATA_DIR: "memory://",
    ORACLE_DB_SCHEMA: `oracle_test_${id}`,
    ORACLE_STREAM_KEY: `test:${id}:results`,
    ORACLE_DEAD_LETTER_KEY: `test:${id}:dead`,
    ORACLE_METRICS_PORT: "0",
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

/** The scenario's users and nodes: anvil accounts from USER_ACCOUNT_OFFSET and NODE_ACCOUNT_OFFSET. */
export const users = (count: number) => Array.from({ length: count }, (_, i) => anvilAccount(USER_ACCOUNT_OFFSET + i) as LocalAccount);
export const nodeAddresses = (count: number) => Array.from({ length: count }, (_, i) => anvilAccount(NODE_ACCOUNT_OFFSET + i).address);
