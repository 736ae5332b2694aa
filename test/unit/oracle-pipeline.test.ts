/**
 * The settlement pipeline's pure parts as tables (how ready jobs become calls, their keys and
 * calldata, which jobs a receipt settled, the job state machine), and the outcome handler
 * against the real job store on PGlite in memory.
 */
import { pino } from "pino";
import {
  decodeFunctionData,
  encodeAbiParameters,
  encodeEventTopics,
  getAddress,
  keccak256,
  stringToHex,
  type Address,
  type Hex,
  type TransactionReceipt,
} from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inferencePaymentAbi } from "../../abis";
import { migrateSchema } from "../../oracle/db/migrate";
import { createPgliteSql } from "../../common/sql";
import type { Job, TaskJob } from "../../oracle/message";
import { createMetrics } from "../../oracle/metrics";
import { callKeyOf, encodeCall, planCalls, type PlannedCall } from "../../oracle/settlement/calls";
import { createJobStore, type JobRecord } from "../../oracle/settlement/jobs";
import { createOutcomeHandler, settledJobIds } from "../../oracle/settlement/outcomes";
import { JOB_STATES, JOB_TRANSITIONS, nextJobState, type JobState, type JobTransition } from "../../oracle/settlement/states";
import type { TxOutcome } from "../../oracle/txm/types";

const CONTRACT: Address = "0x00000000000000000000000000000000000000c0";
const USER: Address = "0x00000000000000000000000000000000000000e5";
const taskIdOf = (id: number) => keccak256(stringToHex(`task ${id}`));
const nodeOf = (id: number) => `0x${id.toString(16).padStart(40, "0")}` as Address;

function jobOf(id: number, operation: Job["operation"]): Job {
  if (operation === "registerNode") return { operation, key: `registerNode:${id}`, node: nodeOf(id), owner: USER };
  if (operation === "updateNodeRating") return { operation, key: `updateNodeRating:${id}`, node: nodeOf(id), rating: id % 101 };
  const taskId = taskIdOf(id);
  return {
    operation,
    key: taskId,
    taskId,
    node: nodeOf(id),
    model: "llama-3-8b",
    tokensGenerated: 1_000n * BigInt(id),
    metrics: { uptime: 99, tokensPerSecond: 40, expectedTokensPerSecond: 40, accuracy: 0.9 },
    reportedAt: 1_700_000_000_000,
  };
}

const recordOf = (id: number, operation: Job["operation"], submissions = 0): JobRecord => ({
  id,
  job: jobOf(id, operation),
  state: "ready",
  actualCost: operation === "completeTask" ? 10n ** 15n * BigInt(id) : undefined,
  score: operation === "completeTask" ? 50 + id : undefined,
  callKey: undefined,
  submissions,
  retries: 0,
});

const LETTERS = { C: "completeTask", F: "failTask", R: "registerNode", U: "updateNodeRating" } as const;
/** "C1 F2 R3": a completeTask job with id 1, a failTask job with id 2, a registerNode job with id 3. */
const records = (spec: string) =>
  spec
    .split(" ")
    .filter(Boolean)
    .map((item) => recordOf(Number(item.slice(1)), LETTERS[item[0] as keyof typeof LETTERS]));
/** "completeTasks(1,2) failTask(3)": each call's function and the ids of its jobs. */
const show = (calls: readonly PlannedCall[]) => calls.map((call) => `${call.operation}(${call.jobs.map((record) => record.id).join(",")})`).join(" ");

describe("planCalls", () => {
  it.each([
    // [what, ready jobs, room, batch size, batch threshold, calls]
    ["below the threshold: single calls", "C1 C2", 10, 10, 3, "completeTask(1) completeTask(2)"],
    ["at the threshold: one batch", "C1 C2 C3", 10, 10, 3, "completeTasks(1,2,3)"],
    ["failures batch on their own", "F1 F2 F3 C4", 10, 10, 3, "failTasks(1,2,3) completeTask(4)"],
    ["the threshold counts per operation", "F1 F2 C3 C4 C5", 10, 10, 3, "failTask(1) failTask(2) completeTasks(3,4,5)"],
    ["batches of at most batchSize", "C1 C2 C3 C4 C5 C6", 10, 3, 2, "completeTasks(1,2,3) completeTasks(4,5,6)"],
    ["a chunk of one is a single call", "C1 C2 C3 C4 C5", 10, 2, 2, "completeTasks(1,2) completeTasks(3,4) completeTask(5)"],
    ["a lone job above a threshold of one is a single call", "F1", 10, 10, 1, "failTask(1)"],
    ["node operations are never batched", "R1 R2 R3 U4 U5 U6", 10, 10, 2, "registerNode(1) registerNode(2) registerNode(3) updateNodeRating(4) updateNodeRating(5) updateNodeRating(6)"],
    ["registerNode, updateNodeRating, failTask, completeTask", "C1 F2 U3 R4", 10, 10, 10, "registerNode(4) updateNodeRating(3) failTask(2) completeTask(1)"],
    ["the same order for batches", "C1 C2 F3 F4 U5 R6", 10, 10, 2, "registerNode(6) updateNodeRating(5) failTasks(3,4) completeTasks(1,2)"],
    ["jobs keep their order inside an operation", "C5 C2 C9", 10, 10, 10, "completeTask(5) completeTask(2) completeTask(9)"],
    ["at most room calls, earliest operations first", "C1 C2 R3 C4", 2, 10, 10, "registerNode(3) completeTask(1)"],
    ["room counts batches, not jobs", "C1 C2 C3 C4 C5 C6 C7", 2, 3, 2, "completeTasks(1,2,3) completeTasks(4,5,6)"],
    ["room across operations", "R1 F2 F3 C4 C5", 3, 10, 2, "registerNode(1) failTasks(2,3) completeTasks(4,5)"],
    ["no room, no calls", "C1 R2", 0, 10, 2, ""],
    ["nothing ready, no calls", "", 10, 10, 2, ""],
  ])("%s", (_what, ready, room, batchSize, batchThreshold, expected) => {
    expect(show(planCalls(records(ready), { room, batchSize, batchThreshold }))).toBe(expected);
  });
});

describe("callKeyOf", () => {
  it.each([
    // [what, call, key]
    ["names a single call by its job and the job's next submission", { operation: "completeTask", jobs: [recordOf(7, "completeTask")] }, "completeTask:7:1"],
    ["a job's second call has another key", { operation: "completeTask", jobs: [recordOf(7, "completeTask", 1)] }, "completeTask:7:2"],
    ["a batch is named by its first job", { operation: "completeTasks", jobs: [recordOf(7, "completeTask"), recordOf(8, "completeTask", 3)] }, "completeTasks:7:1"],
  ] as const)("%s", (_what, call, key) => {
    expect(callKeyOf(call as unknown as PlannedCall)).toBe(key);
  });

  it("never repeats across submissions, requeues and re-plans", () => {
    // Jobs are planned, submitted (every job on a call counts one more submission), and some go
    // back to be planned again in other groupings, as dropped calls and skipped batch items do.
    const jobs = records(Array.from({ length: 24 }, (_, index) => `${"CFRU"[index % 4]}${index + 1}`).join(" "));
    const keys: string[] = [];
    let ready = jobs;
    for (let round = 0; round < 12; round += 1) {
      const calls = planCalls(ready, { room: 1 + (round % 5), batchSize: 2 + (round % 3), batchThreshold: 1 + (round % 4) });
      for (const call of calls) {
        keys.push(callKeyOf(call));
        for (const record of call.jobs) record.submissions += 1;
      }
      // Every third job of each call comes back, and whatever was not planned stays ready.
      const planned = new Set(calls.flatMap((call) => call.jobs));
      ready = [...ready.filter((record) => !planned.has(record)), ...calls.flatMap((call) => call.jobs.filter((_, index) => index % 3 === round % 3))];
      ready.sort((a, b) => a.id - b.id);
    }
    expect(keys.length).toBeGreaterThan(20);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe("encodeCall", () => {
  const decode = (call: PlannedCall) => decodeFunctionData({ abi: inferencePaymentAbi, data: encodeCall(call) });
  const task = (record: JobRecord) => record.job as TaskJob;

  it("completeTasks carries each job's task, node, frozen cost and score", () => {
    const jobs = [recordOf(1, "completeTask"), recordOf(2, "completeTask"), recordOf(3, "completeTask")];
    expect(decode({ operation: "completeTasks", jobs })).toEqual({
      functionName: "completeTasks",
      args: [jobs.map((record) => ({ taskId: task(record).taskId, node: getAddress(task(record).node), actualCost: record.actualCost, performanceScore: BigInt(record.score!) }))],
    });
  });

  it("failTasks carries each job's task and node", () => {
    const jobs = [recordOf(4, "failTask"), recordOf(5, "failTask")];
    expect(decode({ operation: "failTasks", jobs })).toEqual({
      functionName: "failTasks",
      args: [jobs.map((record) => ({ taskId: task(record).taskId, node: getAddress(task(record).node) }))],
    });
  });

  const completed = recordOf(6, "completeTask");
  const failed = recordOf(7, "failTask");
  const registered = recordOf(8, "registerNode");
  const rated = recordOf(9, "updateNodeRating");
  it.each<[string, JobRecord, { functionName: string; args: readonly unknown[] }]>([
    ["completeTask", completed, { functionName: "completeTask", args: [taskIdOf(6), getAddress(nodeOf(6)), completed.actualCost, BigInt(completed.score!)] }],
    ["failTask", failed, { functionName: "failTask", args: [taskIdOf(7), getAddress(nodeOf(7))] }],
    ["registerNode", registered, { functionName: "registerNode", args: [getAddress(nodeOf(8)), getAddress(USER)] }],
    ["updateNodeRating", rated, { functionName: "updateNodeRating", args: [getAddress(nodeOf(9)), 9n] }],
  ])("a single %s", (operation, record, expected) => {
    expect(decode({ operation: operation as PlannedCall["operation"], jobs: [record] })).toEqual(expected);
  });
});

type ReceiptLog = TransactionReceipt["logs"][number];

/** A log as a node returns it, of one of the contract's events. */
function eventLog(topics: readonly unknown[], data: Hex, logIndex: number): ReceiptLog {
  return {
    address: CONTRACT,
    topics: topics as [Hex, ...Hex[]],
    data,
    blockHash: keccak256("0x01"),
    blockNumber: 5n,
    logIndex,
    transactionHash: keccak256("0x02"),
    transactionIndex: 0,
    removed: false,
  };
}
const completedLog = (id: number, logIndex = 0) =>
  eventLog(
    encodeEventTopics({ abi: inferencePaymentAbi, eventName: "TaskCompleted", args: { taskId: taskIdOf(id), user: USER, node: nodeOf(id) } }),
    encodeAbiParameters(
      Array.from({ length: 6 }, () => ({ type: "uint256" })),
      [100n, 70n, 20n, 10n, 0n, 80n],
    ),
    logIndex,
  );
const cancelledLog = (id: number, logIndex = 0) =>
  eventLog(
    encodeEventTopics({ abi: inferencePaymentAbi, eventName: "TaskCancelled", args: { taskId: taskIdOf(id), user: USER, node: nodeOf(id) } }),
    encodeAbiParameters([{ type: "uint256" }, { type: "bool" }], [100n, true]),
    logIndex,
  );
/** A log no event of the contract's ABI matches (another contract's Transfer, say). */
const foreignLog = eventLog([keccak256(stringToHex("Transfer(address,address,uint256)"))], "0x", 9);

describe("settledJobIds", () => {
  const receipt = (status: "success" | "reverted", logs: ReceiptLog[]) => ({ status, logs });
  it.each<[string, JobRecord[], ReturnType<typeof receipt>, number[]]>([
    ["a batch settles the tasks it logged", records("C1 C2 C3"), receipt("success", [completedLog(1, 0), foreignLog, completedLog(3, 1)]), [1, 3]],
    ["a batch that skipped every task settles none", records("C1 C2"), receipt("success", []), []],
    ["failures settle by TaskCancelled", records("F4 F5"), receipt("success", [cancelledLog(5)]), [5]],
    ["a single completeTask", records("C6"), receipt("success", [completedLog(6)]), [6]],
    ["a log of another task settles nothing", records("C7"), receipt("success", [completedLog(8)]), []],
    ["a reverted receipt settles nothing, whatever it logged", records("C1 F2"), receipt("reverted", [completedLog(1), cancelledLog(2)]), []],
    ["a node operation is done when its receipt succeeded", records("R9"), receipt("success", []), [9]],
    ["a rating update too", records("U10"), receipt("success", [foreignLog]), [10]],
    ["a reverted node operation is not done", records("R9"), receipt("reverted", []), []],
  ])("%s", (_what, jobs, mined, expected) => {
    expect(settledJobIds(jobs, mined)).toEqual(expected);
  });
});

describe("JOB_TRANSITIONS", () => {
  // Written out rather than derived from JOB_TRANSITIONS, so that a change to the table shows here.
  const ALLOWED: Record<JobTransition, Partial<Record<JobState, JobState>>> = {
    prepared: { received: "ready" },
    alreadyDone: { received: "confirmed" },
    rejected: { received: "dead" },
    submitted: { ready: "submitted" },
    settled: { submitted: "confirmed" },
    requeued: { ready: "received", submitted: "received" },
    reorged: { confirmed: "submitted" },
  };

  it("has exactly the transitions listed here", () => {
    expect(Object.keys(JOB_TRANSITIONS).sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  const pairs = (Object.keys(ALLOWED) as JobTransition[]).flatMap((transition) => JOB_STATES.map((state) => [transition, state, ALLOWED[transition][state]] as const));
  it.each(pairs)("%s from %s → %s", (transition, state, expected) => {
    expect(nextJobState(state, transition)).toBe(expected);
  });

  it("leaves dead jobs dead", () => {
    expect((Object.keys(ALLOWED) as JobTransition[]).filter((transition) => nextJobState("dead", transition) !== undefined)).toEqual([]);
  });
});

describe("the outcome handler on the job store", () => {
  const schema = "pipeline_unit";
  const logger = pino({ level: "silent" });
  let sql: Awaited<ReturnType<typeof createPgliteSql>>;
  let contracts = 0;

  beforeAll(async () => {
    sql = await createPgliteSql({ dataDir: "memory://" });
    await migrateSchema({ pglite: sql.pglite }, schema);
  });
  afterAll(async () => {
    await sql?.close();
  });

  it("records a batch in one go: new, duplicate (earlier or in the same batch) and conflicting reports", async () => {
    const jobs = createJobStore({ sql, schema, chainId: 31337, contract: nodeOf(0xb000) });
    const [one, two, three] = [jobOf(1, "completeTask"), jobOf(2, "failTask"), jobOf(3, "registerNode")];
    expect(await jobs.recordJobs([one!, two!])).toEqual([
      { inserted: true, conflict: false },
      { inserted: true, conflict: false },
    ]);
    const changed = { ...one!, tokensGenerated: (one as TaskJob).tokensGenerated + 1n } as Job;
    const outcomes = await jobs.recordJobs([one!, three!, three!, changed, { ...three!, owner: nodeOf(9) } as Job]);
    expect(outcomes).toEqual([
      { inserted: false, conflict: false }, // the same report again
      { inserted: true, conflict: false },
      { inserted: false, conflict: false }, // the same report twice in one batch
      { inserted: false, conflict: true }, // a different report for a recorded task
      { inserted: false, conflict: true }, // a different report for a key first seen in this batch
    ]);
    expect(await jobs.recordJobs([])).toEqual([]);
    expect((await jobs.job(one!.key))!.job).toEqual(one);
    expect(await jobs.countByState()).toEqual({ received: 3 });
  });

  /** Jobs of one operation, prepared, planned into one call and submitted, in a contract of their own. */
  async function submitted(spec: string) {
    const jobs = createJobStore({ sql, schema, chainId: 31337, contract: nodeOf(0xc000 + (contracts += 1)) });
    const metrics = createMetrics();
    const handle = createOutcomeHandler({ jobs, metrics, logger });
    const recorded = records(spec).map((record) => record.job);
    expect(await jobs.recordJobs(recorded)).toEqual(recorded.map(() => ({ inserted: true, conflict: false })));
    await jobs.markReady((await jobs.jobsToPrepare(100)).map((record) => ({ id: record.id, actualCost: 10n ** 15n, score: 70 })));
    const calls = planCalls(await jobs.readyJobs(100), { room: 1, batchSize: 10, batchThreshold: 2 });
    expect(calls).toHaveLength(1);
    const key = callKeyOf(calls[0]!);
    expect(await sql.transaction((run) => jobs.submit(run, calls[0]!.jobs.map((record) => record.id), key))).toBe(true);
    const byKey = async (job: Job) => (await jobs.job(job.key))!;
    const outcome = (value: TxOutcome) => sql.transaction((run) => handle(value, run));
    return { jobs, metrics, key, byKey, outcome, recorded };
  }

  const minedWith = (logs: ReceiptLog[], status: "success" | "reverted" = "success") =>
    ({ status, logs, transactionHash: keccak256("0x03"), blockNumber: 5n }) as unknown as TransactionReceipt;

  it("mined: confirms the jobs the receipt settled and sends the others back to be prepared", async () => {
    const { key, byKey, outcome, metrics, recorded } = await submitted("C1 C2 C3");
    await outcome({ type: "mined", idempotencyKey: key, receipt: minedWith([completedLog(1, 0), completedLog(3, 1)]) });
    const [one, two, three] = await Promise.all(recorded.map(byKey));
    expect(one).toMatchObject({ state: "confirmed", callKey: key, submissions: 1 });
    expect(three).toMatchObject({ state: "confirmed", callKey: key });
    expect(two).toMatchObject({ state: "received", callKey: undefined, submissions: 1 });
    expect((await metrics.settled.get()).values).toEqual([expect.objectContaining({ labels: { operation: "completeTask" }, value: 2 })]);
  });

  it("mined reverted: every job goes back to be prepared", async () => {
    const { key, byKey, outcome, recorded } = await submitted("F4 F5");
    await outcome({ type: "mined", idempotencyKey: key, receipt: minedWith([], "reverted") });
    for (const job of recorded) expect(await byKey(job)).toMatchObject({ state: "received", callKey: undefined });
  });

  it("reorged: confirmed jobs are submitted again on the same call", async () => {
    const { key, byKey, outcome, recorded } = await submitted("R6");
    await outcome({ type: "mined", idempotencyKey: key, receipt: minedWith([]) });
    for (const job of recorded) expect(await byKey(job)).toMatchObject({ state: "confirmed" });
    await outcome({ type: "reorged", idempotencyKey: key });
    for (const job of recorded) expect(await byKey(job)).toMatchObject({ state: "submitted", callKey: key, submissions: 1 });
    await outcome({ type: "mined", idempotencyKey: key, receipt: minedWith([]) });
    for (const job of recorded) expect(await byKey(job)).toMatchObject({ state: "confirmed", callKey: key });
  });

  it("dropped: the jobs go back to be prepared, off the call, and their next call has a new key", async () => {
    const { key, byKey, outcome, jobs, recorded } = await submitted("C8 C9");
    await outcome({ type: "dropped", idempotencyKey: key, reason: "replaced", detail: "replaced by a no-op" });
    for (const job of recorded) expect(await byKey(job)).toMatchObject({ state: "received", callKey: undefined, submissions: 1 });
    const again = await jobs.jobsToPrepare(100);
    await jobs.markReady(again.map((record) => ({ id: record.id, actualCost: 1n, score: 1 })));
    const [call] = planCalls(await jobs.readyJobs(10), { room: 1, batchSize: 10, batchThreshold: 2 });
    expect(callKeyOf(call!)).not.toBe(key);
  });

  it("an outcome for a key no job is on changes nothing", async () => {
    const { key, byKey, outcome, recorded } = await submitted("C10");
    await outcome({ type: "dropped", idempotencyKey: "someone else's call", reason: "reverted", detail: "" });
    await outcome({ type: "reorged", idempotencyKey: "someone else's call" });
    expect(await byKey(recorded[0]!)).toMatchObject({ state: "submitted", callKey: key });
  });
});
