/**
 * Exports pinned to a block (`/export/<table>.csv|ndjson`, api/export.ts) against a real indexed
 * chain: every table's export equals the GraphQL API's answer, filters select what the GraphQL
 * filters select, a pinned export stays the same while blocks are mined and settled, refused
 * blocks and limits answer with their codes. Embedded in Ponder on PGlite, and on a Postgres
 * replica where DATABASE_URL is set.
 */
import { parse } from "csv-parse/sync";
import { beforeAll, describe, expect, it } from "vitest";
import { createWalletClient, getAddress, http, type Address } from "viem";
import { anvil } from "viem/chains";
import { inferencePaymentAbi } from "../../abis";
import { anvilAccount, nodeAddresses, userAccounts } from "../../common/chain";
import { taskIdOf, taskSalt } from "../../domain/tasks";
import { FAR, startDeployedChain } from "../../harness/chain";
import { createTestDatabase } from "../../harness/database";
import { allPages, data } from "../../harness/graphql";
import { startPonder } from "../../harness/ponder";
import { startReplica } from "../../harness/replica";
import { runScenario, type RunScenarioParameters } from "../../harness/scenario";
import { waitUntil } from "../../harness/wait";
import { cleanupAfterAll } from "../helpers/cleanup";

type Target = { baseUrl: string; graphqlUrl: string; mine: (seed: number) => Promise<void> };
type Row = Record<string, string>;

async function download(url: string) {
  const response = await fetch(url);
  return { status: response.status, headers: response.headers, text: await response.text() };
}

async function csv(baseUrl: string, path: string) {
  const { status, headers, text } = await download(`${baseUrl}${path}`);
  if (status !== 200) throw new Error(`${path}: ${status} ${text}`);
  return { block: Number(headers.get("x-indexed-block")), rows: parse(text, { columns: true }) as Row[], text, headers };
}

async function refusal(url: string) {
  const { status, headers, text } = await download(url);
  return { status, code: (JSON.parse(text) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code, headers };
}

const connection = (name: string, fields: string, args = "") =>
  `query($after: String) { ${name}(first: 100, after: $after${args}) { edges { node { ${fields} } } pageInfo { hasNextPage endCursor } } }`;
const blank = (value: unknown) => (value === null || value === undefined ? "" : String(value));
const byKey = (rows: Row[], key: string) => [...rows].sort((a, b) => (a[key]! < b[key]! ? -1 : a[key]! > b[key]! ? 1 : 0));

const PAYOUT_FIELDS = "id stream recipient amount usdValue farUsdPrice blockNumber blockHash logIndex timestamp transactionHash node { address } task { id }";
const payoutRow = (p: any): Row => ({
  id: p.id,
  stream: p.stream,
  recipient: p.recipient,
  amount: p.amount,
  usd_value: p.usdValue,
  far_usd_price: p.farUsdPrice,
  task_id: blank(p.task?.id),
  node: blank(p.node?.address),
  block_number: String(p.blockNumber),
  block_hash: p.blockHash,
  log_index: String(p.logIndex),
  timestamp: p.timestamp,
  transaction_hash: p.transactionHash,
});
const pick = (row: Row, keys: string[]): Row => Object.fromEntries(keys.map((key) => [key, row[key]!]));

function exportChecks(target: () => Target) {
  let t: Target;
  let payouts: any[];
  beforeAll(async () => {
    t = target();
    payouts = await allPages<any>(t.graphqlUrl, connection("payouts", PAYOUT_FIELDS), (d) => d.payouts);
  });

  it("payouts.csv equals the payouts the GraphQL API lists, money as decimal strings, at the latest indexed block", async () => {
    const { block, rows, headers } = await csv(t.baseUrl, "/export/payouts.csv");
    const { indexingStatus } = await data(t.graphqlUrl, `{ indexingStatus { latestBlock { number } finalizedBlock { number } } }`);
    expect(block).toBe(indexingStatus.latestBlock.number);
    expect(Number(headers.get("x-finalized-block"))).toBe(indexingStatus.finalizedBlock.number);
    expect(Number(headers.get("x-export-rows"))).toBe(rows.length);
    expect(headers.get("content-type")).toMatch(/^text\/csv/);
    expect(rows.length).toBeGreaterThan(20);
    const chainOrder = (a: Row, b: Row) => Number(a.block_number) - Number(b.block_number) || Number(a.log_index) - Number(b.log_index) || (a.id! < b.id! ? -1 : 1);
    expect(rows).toEqual(payouts.map(payoutRow).sort(chainOrder));
    expect(rows.some((row) => BigInt(row.amount!) > BigInt(Number.MAX_SAFE_INTEGER))).toBe(true);
  });

  it("tasks, nodes and stakers equal the GraphQL API's lists", async () => {
    const tasks = await allPages<any>(
      t.graphqlUrl,
      connection("tasks", "id user { address } node { address } status failed escrow actualCost nodePayment stakerPayment treasuryPayment refund performanceScore createdAt createdBlock createdTx settledAt settledBlock settledTx durationSeconds updatedBlock"),
      (d) => d.tasks,
    );
    const taskCsv = (await csv(t.baseUrl, "/export/tasks.csv")).rows;
    const taskKeys = ["id", "user", "node", "status", "failed", "escrow", "actual_cost", "node_payment", "staker_payment", "treasury_payment", "refund", "performance_score", "created_at", "created_block", "created_tx", "settled_at", "settled_block", "settled_tx", "duration_seconds", "updated_block"];
    expect(taskCsv.length).toBe(tasks.length);
    expect(byKey(taskCsv.map((row) => pick(row, taskKeys)), "id")).toEqual(
      byKey(
        tasks.map((task) => ({
          id: task.id, user: task.user.address, node: blank(task.node?.address), status: task.status, failed: String(task.failed), escrow: task.escrow,
          actual_cost: blank(task.actualCost), node_payment: blank(task.nodePayment), staker_payment: blank(task.stakerPayment), treasury_payment: blank(task.treasuryPayment),
          refund: blank(task.refund), performance_score: blank(task.performanceScore), created_at: task.createdAt, created_block: String(task.createdBlock), created_tx: task.createdTx,
          settled_at: blank(task.settledAt), settled_block: blank(task.settledBlock), settled_tx: blank(task.settledTx), duration_seconds: blank(task.durationSeconds), updated_block: String(task.updatedBlock),
        })),
        "id",
      ),
    );

    const nodes = await allPages<any>(t.graphqlUrl, connection("nodes", "address owner active reliability tasksCompleted tasksFailed totalEarned registeredAt registeredBlock deactivatedAt"), (d) => d.nodes);
    const nodeCsv = (await csv(t.baseUrl, "/export/nodes.csv")).rows;
    expect(nodes.length).toBeGreaterThan(0);
    expect(byKey(nodeCsv, "address")).toEqual(
      byKey(
        nodes.map((n) => ({
          address: n.address, owner: n.owner, active: String(n.active), reliability: String(n.reliability), tasks_completed: String(n.tasksCompleted), tasks_failed: String(n.tasksFailed),
          total_earned: n.totalEarned, registered_at: n.registeredAt, registered_block: String(n.registeredBlock), deactivated_at: blank(n.deactivatedAt),
        })),
        "address",
      ),
    );

    const stakers = await allPages<any>(t.graphqlUrl, connection("stakers", "address staked unlockTime rewardsClaimed revenueShareClaimed firstActionAt lastActionAt"), (d) => d.stakers);
    const stakerCsv = (await csv(t.baseUrl, "/export/stakers.csv")).rows;
    expect(stakers.length).toBeGreaterThan(2);
    const stakerKeys = ["address", "staked", "unlock_time", "rewards_claimed", "revenue_share_claimed", "first_action_at", "last_action_at"];
    expect(stakerCsv.map((row) => pick(row, stakerKeys))).toEqual(
      byKey(
        stakers.map((s) => ({ address: s.address, staked: s.staked, unlock_time: s.unlockTime, rewards_claimed: s.rewardsClaimed, revenue_share_claimed: s.revenueShareClaimed, first_action_at: s.firstActionAt, last_action_at: s.lastActionAt })),
        "address",
      ),
    );
  });

  it("revenue-buckets equal revenueSeries per stream, in total and per node", async () => {
    const seconds = (iso: string) => Date.parse(iso) / 1000;
    const times = payouts.map((p) => seconds(p.timestamp));
    const [from, to] = [new Date(Math.min(...times) * 1000).toISOString(), new Date((Math.max(...times) + 1) * 1000).toISOString()];
    for (const interval of ["HOUR", "DAY"]) {
      const { revenueSeries } = await data(t.graphqlUrl, `query($i: Interval!, $f: DateTime!, $t: DateTime!) { revenueSeries(interval: $i, from: $f, to: $t) { bucketStart byStream { stream amount usdValue payoutCount } } }`, { i: interval, f: from, t: to });
      const expected = revenueSeries.flatMap((point: any) =>
        point.byStream.filter((s: any) => s.payoutCount > 0).map((s: any) => ({ interval, bucket_start: point.bucketStart, stream: s.stream, amount: s.amount, usd_value: s.usdValue, payout_count: String(s.payoutCount) })),
      );
      const { rows } = await csv(t.baseUrl, `/export/revenue-buckets.csv?interval=${interval}`);
      const key = (row: Row) => `${row.bucket_start} ${row.stream}`;
      expect([...rows].sort((a, b) => (key(a) < key(b) ? -1 : 1))).toEqual([...expected].sort((a, b) => (key(a) < key(b) ? -1 : 1)));
    }
    const { nodes } = await data(t.graphqlUrl, `query($f: DateTime!, $t: DateTime!) { nodes(first: 100) { edges { node { address earnings(interval: DAY, from: $f, to: $t) { bucketStart amount payoutCount } } } } }`, { f: from, t: to });
    for (const { node } of nodes.edges) {
      const { rows } = await csv(t.baseUrl, `/export/revenue-buckets.csv?interval=DAY&stream=NODE_PAYMENT&node=${node.address.toUpperCase().replace("0X", "0x")}`);
      expect(rows.map((row) => [row.node, row.bucket_start, row.amount, row.payout_count])).toEqual(
        node.earnings.filter((p: any) => p.payoutCount > 0).map((p: any) => [node.address, p.bucketStart, p.amount, String(p.payoutCount)]),
      );
    }
  });

  it("filters select what the GraphQL filters select, and NDJSON holds the same rows", async () => {
    const recipient = payouts.find((p) => p.stream === "STAKING_REWARD")?.recipient ?? payouts[0].recipient;
    const timestamps = payouts.map((p) => p.timestamp).sort();
    const [from, to] = [timestamps[Math.floor(timestamps.length / 4)], timestamps[Math.floor((3 * timestamps.length) / 4)]];
    for (const [filter, query] of [
      [`{ recipient: "${recipient}" }`, `recipient=${recipient}`],
      [`{ stream: NODE_PAYMENT, from: "${from}", to: "${to}" }`, `stream=NODE_PAYMENT&from=${from}&to=${to}`],
      [`{ node: "${payouts.find((p) => p.node)!.node.address}", stream: TREASURY }`, `node=${payouts.find((p) => p.node)!.node.address}&stream=TREASURY`],
    ]) {
      const expected = await allPages<any>(t.graphqlUrl, connection("payouts", PAYOUT_FIELDS, `, filter: ${filter}`), (d) => d.payouts);
      const { rows } = await csv(t.baseUrl, `/export/payouts.csv?${query}`);
      expect(rows.length).toBeGreaterThan(0);
      expect(byKey(rows, "id")).toEqual(byKey(expected.map(payoutRow), "id"));
    }
    const node = payouts.find((p) => p.node)!.node.address;
    const completed = await allPages<any>(t.graphqlUrl, connection("tasks", "id", `, filter: { status: COMPLETED, node: "${node}" }`), (d) => d.tasks);
    expect((await csv(t.baseUrl, `/export/tasks.csv?status=COMPLETED&node=${node}`)).rows.map((row) => row.id).sort()).toEqual(completed.map((task) => task.id).sort());
    const reliable = await allPages<any>(t.graphqlUrl, connection("nodes", "address", `, filter: { active: true, minReliability: 50 }`), (d) => d.nodes);
    expect((await csv(t.baseUrl, `/export/nodes.csv?active=true&minReliability=50`)).rows.map((row) => row.address).sort()).toEqual(reliable.map((n) => n.address).sort());

    const ndjson = await download(`${t.baseUrl}/export/payouts.ndjson?recipient=${recipient}`);
    expect(ndjson.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    const lines = ndjson.text.trimEnd().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => Object.fromEntries(Object.entries(line).map(([key, value]) => [key, blank(value)])))).toEqual((await csv(t.baseUrl, `/export/payouts.csv?recipient=${recipient}`)).rows);
    expect(typeof lines[0]!.amount).toBe("string");
  });

  it("a block= export stays the same while blocks are mined and settled; refused blocks answer with their codes", async () => {
    const first = await csv(t.baseUrl, "/export/payouts.csv");
    const tasksBefore = await download(`${t.baseUrl}/export/tasks.csv?block=${first.block}`);
    const nodesBefore = await download(`${t.baseUrl}/export/nodes.ndjson?block=${first.block}`);
    await t.mine(first.block);
    const latest = await csv(t.baseUrl, "/export/payouts.csv");
    expect(latest.block).toBeGreaterThan(first.block);
    expect(latest.rows.length).toBeGreaterThan(first.rows.length);
    const pinned = await csv(t.baseUrl, `/export/payouts.csv?block=${first.block}`);
    expect(pinned.block).toBe(first.block);
    expect(pinned.text).toBe(first.text);
    expect((await download(`${t.baseUrl}/export/tasks.csv?block=${first.block}`)).text).toBe(tasksBefore.text);
    expect((await download(`${t.baseUrl}/export/tasks.csv`)).text).not.toBe(tasksBefore.text);
    expect((await download(`${t.baseUrl}/export/nodes.ndjson?block=${first.block}`)).text).toBe(nodesBefore.text);

    const ahead = await refusal(`${t.baseUrl}/export/payouts.csv?block=${latest.block + 1000}`);
    expect([ahead.status, ahead.code]).toEqual([409, "BLOCK_NOT_INDEXED"]);
    const finalized = Number(latest.headers.get("x-finalized-block"));
    expect(finalized).toBeGreaterThan(0);
    const gone = await refusal(`${t.baseUrl}/export/payouts.csv?block=${finalized - 1}`);
    expect([gone.status, gone.code]).toEqual([410, "BLOCK_NOT_READABLE"]);
    expect((await csv(t.baseUrl, `/export/payouts.csv?block=${finalized}`)).rows.length).toBeGreaterThan(0);
  });

  it("refuses malformed filters with 400 and the API's codes", async () => {
    const cases: [string, number, string][] = [
      ["/export/payouts.csv?recipient=0x1234", 400, "INVALID_ADDRESS"],
      ["/export/payouts.csv?from=yesterday", 400, "INVALID_DATETIME"],
      ["/export/payouts.csv?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", 400, "INVALID_RANGE"],
      ["/export/payouts.csv?stream=TIPS", 400, "BAD_USER_INPUT"],
      ["/export/payouts.csv?colour=red", 400, "BAD_USER_INPUT"],
      ["/export/payouts.csv?block=-1", 400, "BAD_USER_INPUT"],
      ["/export/payouts.csv?block=1&block=2", 400, "BAD_USER_INPUT"],
      ["/export/nodes.csv?minReliability=101", 400, "BAD_USER_INPUT"],
      ["/export/stakers.csv?address=0x0000000000000000000000000000000000000001", 400, "BAD_USER_INPUT"],
      ["/export/accounts.csv", 404, "EXPORT_NOT_FOUND"],
      ["/export/payouts.xlsx", 404, "EXPORT_NOT_FOUND"],
    ];
    for (const [path, status, code] of cases) {
      const refused = await refusal(`${t.baseUrl}${path}`);
      expect([path, refused.status, refused.code]).toEqual([path, status, code]);
    }
  });
}

/**
 * New blocks, fewer than the finality depth in all: a short scenario (stakes, transfers, maybe
 * settlements), then a node registered and a task created and settled on it for certain.
 */
async function mineAfter(chain: Awaited<ReturnType<typeof startDeployedChain>>, scenario: Omit<RunScenarioParameters, "rpcUrl" | "publicClient" | "manifest">, waitForBlock: (block: bigint) => Promise<unknown>) {
  const before = await chain.publicClient.getBlockNumber();
  await runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient: chain.publicClient, manifest: chain.manifest, ...scenario });
  const wallet = createWalletClient({ chain: anvil, transport: http(chain.anvil.rpcUrl) });
  const payment = getAddress(chain.manifest.contracts.InferencePayment.address);
  const [user] = userAccounts(1).map((account) => account.address);
  const [oracle, node] = [anvilAccount(1).address, nodeAddresses(8)[7]!];
  const salt = taskSalt(`export-${scenario.label}`);
  const send = async (account: Address, functionName: string, args: readonly unknown[]) => {
    const hash = await wallet.writeContract({ account, address: payment, abi: inferencePaymentAbi, functionName: functionName as never, args: args as never, chain: anvil });
    expect((await chain.publicClient.waitForTransactionReceipt({ hash })).status).toBe("success");
  };
  await send(oracle, "registerNode", [node, node]);
  await send(user!, "deposit", [2n * FAR]);
  await send(user!, "createTask", [salt, FAR]);
  await send(oracle, "completeTask", [taskIdOf(user!, salt), node, FAR / 2n, 90n]);
  const head = await chain.publicClient.getBlockNumber();
  expect(Number(head - before)).toBeLessThan(30);
  await waitForBlock(head);
}

const QUICK_SCENARIO = { steps: 8, userCount: 2, nodeCount: 2 };

describe("exports pinned to a block, embedded in Ponder (PGlite)", () => {
  const cleanup = cleanupAfterAll();
  let target: Target;

  beforeAll(async () => {
    const chain = await startDeployedChain();
    cleanup.push(() => chain.anvil.stop());
    await runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient: chain.publicClient, manifest: chain.manifest, seed: 8, steps: 250 });
    const ponder = await startPonder({ rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir, env: { API_LOG_LEVEL: "warn" } });
    cleanup.push(() => ponder.kill());
    await ponder.waitForBlock(await chain.publicClient.getBlockNumber());
    target = {
      baseUrl: ponder.baseUrl,
      graphqlUrl: `${ponder.baseUrl}/graphql`,
      mine: (block) => mineAfter(chain, { ...QUICK_SCENARIO, seed: 9 + block, label: `more-${block}` }, ponder.waitForBlock),
    };
  });

  exportChecks(() => target);
});

const databaseUrl = process.env.DATABASE_URL;

describe.skipIf(!databaseUrl)("exports pinned to a block, on a Postgres replica", () => {
  const cleanup = cleanupAfterAll();
  let target: Target;
  /** A replica that allows 5 rows per export, and one export at a time. */
  let small: string;

  beforeAll(async () => {
    const chain = await startDeployedChain();
    cleanup.push(() => chain.anvil.stop());
    await runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient: chain.publicClient, manifest: chain.manifest, seed: 18, steps: 250 });
    const database = await createTestDatabase(databaseUrl!);
    cleanup.push(() => database.drop());
    const ponder = await startPonder({ rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir, databaseUrl: database.url, env: { API_LOG_LEVEL: "warn" } });
    cleanup.push(() => ponder.kill());
    await ponder.waitForBlock(await chain.publicClient.getBlockNumber());
    const replica = (extra: Record<string, string>) => startReplica({ DATABASE_URL: database.url, DATABASE_SCHEMA: ponder.schema, API_FEED_PREFIX: `far-test-${ponder.schema}`, ...extra }, cleanup).then((replica) => replica.baseUrl);
    const baseUrl = await replica({});
    small = await replica({ API_EXPORT_MAX_ROWS: "5", API_EXPORT_MAX_CONCURRENT: "1" });
    target = {
      baseUrl,
      graphqlUrl: `${baseUrl}/graphql`,
      mine: async (block) => {
        await mineAfter(chain, { ...QUICK_SCENARIO, seed: 19 + block, label: `more-${block}` }, ponder.waitForBlock);
        // The replica reads what Ponder committed; Ponder's /status can answer a moment before its commit is visible.
        await waitUntil(async () => (await data(`${baseUrl}/graphql`, `{ indexingStatus { latestBlock { number } } }`)).indexingStatus.latestBlock.number > block, "the replica to see the new blocks", 30_000);
      },
    };
  });

  exportChecks(() => target);

  it("refuses an export of more than API_EXPORT_MAX_ROWS rows with EXPORT_TOO_LARGE (413), and serves it narrowed", async () => {
    const tooLarge = await refusal(`${small}/export/payouts.csv`);
    expect([tooLarge.status, tooLarge.code]).toEqual([413, "EXPORT_TOO_LARGE"]);
    const nodes = await csv(target.baseUrl, "/export/nodes.csv");
    expect(nodes.rows.length).toBeLessThanOrEqual(5);
    expect((await csv(small, "/export/nodes.csv")).text).toBe(nodes.text);
  });

  it("answers TOO_MANY_EXPORTS (429) beyond API_EXPORT_MAX_CONCURRENT, and serves again once they end", async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, () => fetch(`${small}/export/nodes.csv`)));
    const refused = answers.filter((answer) => answer.status === 429);
    // The first holds its slot across several round trips to Postgres, while the others arrive.
    expect(refused.length).toBeGreaterThan(0);
    expect(answers.some((answer) => answer.status === 200)).toBe(true);
    expect(refused[0]!.headers.get("retry-after")).toBe("1");
    expect(((await refused[0]!.json()) as any).errors[0].extensions.code).toBe("TOO_MANY_EXPORTS");
    await Promise.all(answers.filter((answer) => !answer.bodyUsed).map((answer) => answer.text()));
    expect((await fetch(`${small}/export/nodes.csv`)).status).toBe(200);
  });
});
