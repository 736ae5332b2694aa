/**
 * A settlement pass longer than the signing lease, through an RPC that answers every request
 * 150 ms late: the worker keeps its lease (renewed on its own timer, not between passes), never
 * loses it to itself, and never opens the circuit breaker while the RPC is healthy.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEther } from "viem";
import { loadOracleConfig } from "../../oracle/config";
import { startOracle } from "../../oracle/start-oracle";
import { createMemoryStream } from "../../oracle/stream";
import { startDeployedChain } from "../../harness/chain";
import { startSlowRpc } from "../helpers/slow-rpc";
import { nodeAddresses, userAccounts } from "../../common/chain";
import { oracleEnv, type Chain } from "../../harness/oracle";
import { expectAllSettledOnce, simulatorOn } from "./helpers";
import { patience } from "../../harness/wait";

const LEASE_MS = 2_000;

describe("oracle lease under a slow RPC", () => {
  let chain: Chain;
  let slow: Awaited<ReturnType<typeof startSlowRpc>>;
  let oracle: Awaited<ReturnType<typeof startOracle>>;
  const stream = createMemoryStream();

  beforeAll(async () => {
    chain = await startDeployedChain();
    slow = await startSlowRpc({ upstream: chain.anvil.rpcUrl, delayMs: 150 });
    // Every result its own transaction (no batches), so one pass signs and sends many, one RPC
    // round trip after another: far longer than the lease.
    const env = oracleEnv(chain, { RPC_URL: slow.rpcUrl, ORACLE_LEASE_MS: String(LEASE_MS), ORACLE_BATCH_THRESHOLD: "1000000", ORACLE_RPC_TIMEOUT_MS: "10000" });
    oracle = await startOracle(loadOracleConfig(env), { stream });
  });
  afterAll(async () => {
    await oracle?.stop();
    await slow?.stop();
    await chain?.anvil.stop();
  });

  it("keeps the lease through passes longer than it and never opens the breaker", async () => {
    const simulator = simulatorOn(chain, { users: userAccounts(3), nodes: nodeAddresses(2), stream, models: loadOracleConfig(oracleEnv(chain)).ORACLE_MODELS });
    await simulator.fundUsers(parseEther("10000"));
    await simulator.registerNodes();
    const tasks = await simulator.createTasks(40);
    await simulator.postResults(tasks, { failureRate: 0.1, duplicateRate: 0.2 });
    const { wrong } = await expectAllSettledOnce(chain.publicClient, chain.manifest.contracts.InferencePayment.address, tasks.map((task) => task.taskId), 120_000);
    expect(wrong).toEqual([]);

    const value = async (name: string) => (await oracle.metrics.registry.getSingleMetric(name)!.get()).values;
    const passes = (await value("oracle_settle_pass_seconds")) as { metricName?: string; labels: { le?: number }; value: number }[];
    const count = passes.find((sample) => sample.metricName === "oracle_settle_pass_seconds_count")!.value;
    const withinLease = passes.find((sample) => sample.metricName === "oracle_settle_pass_seconds_bucket" && sample.labels.le === LEASE_MS / 1000)!.value;
    // Some passes did outlast the lease: the situation under test really happened.
    expect(count - withinLease).toBeGreaterThan(0);
    expect((await value("oracle_lease_lost_total"))[0]?.value ?? 0).toBe(0);
    expect((await value("oracle_circuit_opened_total"))[0]?.value ?? 0).toBe(0);
    expect((await value("oracle_failed_total")).filter((sample) => sample.labels.class === "transient")).toEqual([]);
  }, patience(180_000));
});
