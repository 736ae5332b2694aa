/**
 * The embedded mode of `npm start`: in-process stream and PGlite store, no Redis or Postgres.
 * Simulated traffic with duplicates and failures is settled exactly once, a batch backlog goes
 * out as completeTasks, and malformed messages end in the dead-letter stream.
 */
import { nodeAddresses, userAccounts } from "../../common/chain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEther } from "viem";
import { loadOracleConfig } from "../../oracle/config";
import { startOracle } from "../../oracle/start-oracle";
import { createMemoryStream } from "../../oracle/stream";
import { startDeployedChain } from "../../harness/chain";
import { waitUntil } from "../../harness/wait";
import { oracleEnv, type Chain } from "../../harness/oracle";
import { expectAllSettledOnce, simulatorOn, taskReport } from "./helpers";

describe("oracle, embedded (in-process stream + PGlite)", () => {
  let chain: Chain;
  let oracle: Awaited<ReturnType<typeof startOracle>>;
  const stream = createMemoryStream();
  let simulator: ReturnType<typeof simulatorOn>;
  let schema: string;

  beforeAll(async () => {
    chain = await startDeployedChain();
    const env = oracleEnv(chain, { ORACLE_BATCH_THRESHOLD: "10", ORACLE_BATCH_SIZE: "25" });
    schema = env.ORACLE_DB_SCHEMA!;
    const config = loadOracleConfig(env);
    oracle = await startOracle(config, { stream });
    simulator = simulatorOn(chain, {
      users: userAccounts(4),
      nodes: nodeAddresses(3),
      stream,
      models: config.ORACLE_MODELS,
    });
    await simulator.fundUsers(parseEther("10000"));
    await simulator.registerNodes();
  });
  afterAll(async () => {
    await oracle?.stop();
    await chain?.anvil.stop();
  });

  it("settles every task exactly once with duplicates and failures", async () => {
    const tasks = await simulator.createTasks(60);
    const posted = await simulator.postResults(tasks, { failureRate: 0.2, duplicateRate: 0.3 });
    const { wrong } = await expectAllSettledOnce(chain.publicClient, chain.manifest.contracts.InferencePayment.address, tasks.map((t) => t.taskId), 60_000);
    expect(wrong).toEqual([]);
    const failed = [...posted.values()].filter((fields) => fields.status === "failed").length;
    expect(failed).toBeGreaterThan(0);
    const states = await oracle.jobs.countByState();
    expect(states.dead ?? 0).toBe(0);
    // Calls are named by their contract function (callKeyOf): batches, failures and node operations all went out.
    const calls = await oracle.sql.query<{ operation: string }>(`select distinct split_part(idempotency_key, ':', 1) as operation from "${schema}".txs`);
    const operations = calls.map((row) => row.operation);
    expect(operations).toEqual(expect.arrayContaining(["completeTasks", "registerNode"]));
    expect(operations.some((operation) => operation === "failTask" || operation === "failTasks")).toBe(true);
  });

  it("dead-letters malformed messages and still settles the good ones around them", async () => {
    const [good] = await simulator.createTasks(1);
    const base = taskReport(good!.taskId, nodeAddresses(1)[0]!);
    await stream.publish({ ...base, taskId: "0x1234" });
    await stream.publish(base);
    await waitUntil(async () => (await oracle.jobs.job(good!.taskId))?.state === "confirmed", "the good message", 30_000);
    expect(stream.deadLetters.map((entry) => entry.fields.code)).toContain("bad_task_id");
  });
});
