/**
 * The checks every deployment mode of the API must pass, against a scenario indexed by a real
 * Ponder: values from GraphQL equal the contracts' views at the indexed head, and the rows.
 */
import { allPages, data, graphql } from "../../harness/graphql";
import { beforeAll, expect, it } from "vitest";
import { getAddress, type Hex, type PublicClient } from "viem";
import { farTokenAbi, inferencePaymentAbi } from "../../abis";
import type { DeploymentManifest } from "../../contracts/deploy/manifest";
import type { QueryRows } from "../../domain/progress";
import { TASK_STATUSES } from "../../domain/tasks";
import type { ScenarioResult } from "../../harness/scenario";

export type ApiTarget = {
  graphqlUrl: string;
  publicClient: PublicClient;
  manifest: DeploymentManifest;
  scenario: ScenarioResult;
  head: bigint;
  /** The indexed rows; for PGlite only readable once Ponder stopped, so asked for last. */
  rows: () => Promise<QueryRows>;
};

const FINALITY_DEPTH = 30n;

type TaskNode = { id: Hex; status: string; escrow: string; actualCost: string | null; refund: string | null; createdAt: string; user: { address: string }; node: { address: string } | null; finalized: boolean; updatedBlock: number };
type PayoutNode = { id: string; stream: string; recipient: string; amount: string; usdValue: string; blockNumber: number; timestamp: string; transactionHash: Hex; finalized: boolean };

export function apiChecks(target: () => ApiTarget) {
  let t: ApiTarget;
  let url: string;
  let read: (contract: "token" | "payment", functionName: string, args?: readonly unknown[]) => Promise<any>;
  let tasks: TaskNode[];
  let payouts: PayoutNode[];
  const seconds = (iso: string) => Date.parse(iso) / 1000;

  beforeAll(async () => {
    t = target();
    url = t.graphqlUrl;
    read = (contract, functionName, args = []) =>
      t.publicClient.readContract({
        address: getAddress(contract === "token" ? t.manifest.contracts.FARToken.address : t.manifest.contracts.InferencePayment.address),
        abi: (contract === "token" ? farTokenAbi : inferencePaymentAbi) as never,
        functionName: functionName as never,
        args: args as never,
        blockNumber: t.head,
      });
    tasks = await allPages<TaskNode>(
      url,
      `query($after: String) { tasks(first: 37, after: $after) { edges { node { id status escrow actualCost refund createdAt updatedBlock finalized user { address } node { address } } } pageInfo { hasNextPage endCursor } } }`,
      (d) => d.tasks,
    );
    payouts = await allPages<PayoutNode>(
      url,
      `query($after: String) { payouts(first: 100, after: $after) { edges { node { id stream recipient amount usdValue blockNumber timestamp transactionHash finalized } } pageInfo { hasNextPage endCursor } } }`,
      (d) => d.payouts,
    );
  });

  it("indexingStatus reports the chain, the indexed head and Ponder's finality depth", async () => {
    const { indexingStatus: status } = await data(url, `{ indexingStatus { chainId latestBlock { number timestamp } safeBlock { number } finalizedBlock { number } lagSeconds synced } }`);
    const head = await t.publicClient.getBlock({ blockNumber: t.head });
    expect(status.chainId).toBe(31337);
    expect(BigInt(status.latestBlock.number)).toBe(t.head);
    expect(seconds(status.latestBlock.timestamp)).toBe(Number(head.timestamp));
    expect(BigInt(status.finalizedBlock.number)).toBe(t.head - FINALITY_DEPTH);
    expect(status.synced).toBe(true);
    expect(status.lagSeconds).toBeGreaterThanOrEqual(0);
  });

  it("stakingOverview equals the token's views", async () => {
    const { stakingOverview: overview } = await data(url, `{ stakingOverview { totalStaked totalSupply stakerCount rewardRateBps apr apy lockPeriodSeconds } }`);
    expect(overview.totalStaked).toBe(String(await read("token", "totalStaked")));
    expect(overview.totalSupply).toBe(String(await read("token", "totalSupply")));
    expect(overview.rewardRateBps).toBe(Number(await read("token", "rewardRate")));
    expect(overview.lockPeriodSeconds).toBe(Number(await read("token", "lockPeriod")));
    expect(overview.apr).toBeCloseTo(overview.rewardRateBps / 10_000, 12);
    expect(overview.apy).toBeGreaterThanOrEqual(overview.apr);
  });

  it("every staker's position and claimable amounts equal stakingBalance, unlockTime and claimable", async () => {
    const stakers = await allPages<any>(
      url,
      `query($after: String) { stakers(first: 5, after: $after) { edges { node { address staked unlockTime claimableReward claimableRevenueShare } } pageInfo { hasNextPage endCursor } } }`,
      (d) => d.stakers,
    );
    expect(stakers.length).toBeGreaterThan(3);
    const staked = stakers.map((s) => BigInt(s.staked));
    expect(staked).toEqual([...staked].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));
    for (const s of stakers) {
      expect(s.staked).toBe(String(await read("token", "stakingBalance", [s.address])));
      expect(seconds(s.unlockTime)).toBe(Number(await read("token", "unlockTime", [s.address])));
      const [reward, share] = await read("token", "claimable", [s.address]);
      expect([s.claimableReward, s.claimableRevenueShare]).toEqual([String(reward), String(share)]);
    }
    const single = await data(url, `query($a: Address!) { staker(address: $a) { address staked history(first: 100) { edges { node { stakedAfter finalized } } } } }`, {
      a: stakers[0].address.toUpperCase().replace("0X", "0x"),
    });
    expect(single.staker.address).toBe(stakers[0].address);
    expect(single.staker.history.edges[0].node.stakedAfter).toBe(stakers[0].staked);
  });

  it("account answers balanceOf, userBalances and the roles of every scenario address", async () => {
    for (const address of [...t.scenario.users, ...t.scenario.nodes]) {
      const { account } = await data(url, `query($a: Address!) { account(address: $a) { address balance escrow { balance } staker { staked } node { address } tasks(first: 100) { edges { node { id } } } } }`, { a: address });
      expect(account.address).toBe(address.toLowerCase());
      expect(account.balance).toBe(String(await read("token", "balanceOf", [address])));
      expect(account.escrow.balance).toBe(String(await read("payment", "userBalances", [address])));
      expect(account.staker?.staked ?? "0").toBe(String(await read("token", "stakingBalance", [address])));
      expect(account.tasks.edges.length).toBe(tasks.filter((task) => task.user.address === address.toLowerCase()).length);
    }
  });

  it("nodes and node(address) equal InferencePayment.nodes, in every order", async () => {
    const { nodes } = await data(url, `{ nodes(first: 100) { edges { node { address owner active reliability tasksCompleted tasksFailed totalEarned } } } }`);
    expect(nodes.edges.length).toBeGreaterThan(0);
    for (const { node } of nodes.edges) {
      const [owner, totalEarned, tasksCompleted, reliability, active, tasksFailed] = await read("payment", "nodes", [node.address]);
      expect(node).toEqual({
        address: node.address,
        owner: owner.toLowerCase(),
        active,
        reliability: Number(reliability),
        tasksCompleted: Number(tasksCompleted),
        tasksFailed: Number(tasksFailed),
        totalEarned: String(totalEarned),
      });
      const single = await data(url, `query($a: Address!) { node(address: $a) { totalEarned } }`, { a: node.address });
      expect(single.node.totalEarned).toBe(node.totalEarned);
    }
    for (const orderBy of ["RELIABILITY_DESC", "TASKS_COMPLETED_DESC", "REGISTERED_ASC"]) {
      const ordered = await allPages<any>(url, `query($after: String, $o: NodeOrder!) { nodes(first: 1, after: $after, orderBy: $o) { edges { node { address } } pageInfo { hasNextPage endCursor } } }`, (d) => d.nodes, { o: orderBy });
      expect(ordered.map((n) => n.address).sort()).toEqual(nodes.edges.map((e: any) => e.node.address).sort());
    }
  });

  it("tasks, paged with cursors, equal InferencePayment.tasks and carry their finality", async () => {
    expect(tasks.length).toBe(t.scenario.taskIds.length);
    expect(new Set(tasks.map((task) => task.id)).size).toBe(tasks.length);
    for (const task of tasks) {
      const [user, node, amount, createdAt, status] = await read("payment", "tasks", [task.id]);
      expect([task.user.address, task.escrow, seconds(task.createdAt), task.status]).toEqual([user.toLowerCase(), String(amount), Number(createdAt), TASK_STATUSES[status]]);
      if (task.status === "COMPLETED") expect(task.node?.address).toBe(node.toLowerCase());
      expect(task.finalized).toBe(BigInt(task.updatedBlock) <= t.head - FINALITY_DEPTH);
    }
    const completed = await allPages<any>(url, `query($after: String) { tasks(first: 50, after: $after, filter: { status: COMPLETED }) { edges { node { status } } pageInfo { hasNextPage endCursor } } }`, (d) => d.tasks);
    expect(completed.length).toBe(tasks.filter((task) => task.status === "COMPLETED").length);
    const one = await data(url, `query($id: Bytes32!) { task(id: $id) { id payouts { stream amount } } }`, { id: tasks[0]!.id.toUpperCase().replace("0X", "0x") });
    expect(one.task.id).toBe(tasks[0]!.id);
  });

  it("payouts, revenueSummary and every revenue series add up to the same totals", async () => {
    expect(payouts.length).toBeGreaterThan(20);
    const byStream = new Map<string, bigint>();
    for (const payout of payouts) byStream.set(payout.stream, (byStream.get(payout.stream) ?? 0n) + BigInt(payout.amount));
    const { revenueSummary: summary } = await data(url, `{ revenueSummary { total { amount usdValue payoutCount } byStream { stream amount usdValue payoutCount } topNodes(limit: 3) { node { address totalEarned } amount } } }`);
    expect(summary.total.payoutCount).toBe(payouts.length);
    for (const row of summary.byStream) expect(row.amount).toBe(String(byStream.get(row.stream) ?? 0n));
    for (const top of summary.topNodes) expect(top.amount).toBe(top.node.totalEarned);

    const first = Math.min(...payouts.map((p) => seconds(p.timestamp)));
    const last = Math.max(...payouts.map((p) => seconds(p.timestamp)));
    const iso = (s: number) => new Date(s * 1000).toISOString();
    for (const [interval, utcOffsetHours] of [["HOUR", 0], ["DAY", 0], ["DAY", 5], ["WEEK", 0], ["WEEK", -3]] as const) {
      const { revenueSeries: series } = await data(url, `query($i: Interval!, $f: DateTime!, $t: DateTime!, $o: Int) { revenueSeries(interval: $i, from: $f, to: $t, utcOffsetHours: $o) { bucketStart amount usdValue payoutCount cumulativeAmount byStream { stream amount } } }`, {
        i: interval,
        f: iso(first),
        t: iso(last + 1),
        o: utcOffsetHours,
      });
      const size = { HOUR: 3600, DAY: 86_400, WEEK: 604_800 }[interval];
      series.forEach((point: any, index: number) => index > 0 && expect(seconds(point.bucketStart) - seconds(series[index - 1].bucketStart)).toBe(size));
      expect(seconds(series[0].bucketStart)).toBeLessThanOrEqual(first);
      expect(seconds(series.at(-1).bucketStart) + size).toBeGreaterThan(last);
      if (interval !== "HOUR") expect((seconds(series[0].bucketStart) + utcOffsetHours * 3600) % 86_400).toBe(0);
      if (interval === "WEEK") expect(new Date((seconds(series[0].bucketStart) + utcOffsetHours * 3600) * 1000).getUTCDay()).toBe(1);
      expect(series.at(-1).cumulativeAmount).toBe(summary.total.amount);
      expect(series.reduce((n: number, p: any) => n + p.payoutCount, 0)).toBe(payouts.length);
      for (const point of series) {
        const inBucket = payouts.filter((p) => seconds(p.timestamp) >= seconds(point.bucketStart) && seconds(p.timestamp) < seconds(point.bucketStart) + size);
        expect(point.amount).toBe(String(inBucket.reduce((sum, p) => sum + BigInt(p.amount), 0n)));
      }
    }
    const recipient = payouts.find((p) => p.stream === "STAKING_REWARD")?.recipient ?? payouts[0]!.recipient;
    const { revenueSeries: own } = await data(url, `query($r: Address!, $f: DateTime!, $t: DateTime!) { revenueSeries(interval: DAY, from: $f, to: $t, recipient: $r) { cumulativeAmount } }`, { r: recipient, f: iso(first), t: iso(last + 1) });
    expect(own.at(-1).cumulativeAmount).toBe(String(payouts.filter((p) => p.recipient === recipient).reduce((s, p) => s + BigInt(p.amount), 0n)));
    const { nodes } = await data(url, `query($f: DateTime!, $t: DateTime!) { nodes(first: 100) { edges { node { totalEarned earnings(interval: DAY, from: $f, to: $t) { cumulativeAmount } } } } }`, { f: iso(first), t: iso(last + 1) });
    for (const { node } of nodes.edges) expect(node.earnings.at(-1)?.cumulativeAmount ?? "0").toBe(node.totalEarned);
  });

  it("payouts carry finality and transaction(hash) answers read-your-write", async () => {
    for (const payout of payouts) expect(payout.finalized).toBe(BigInt(payout.blockNumber) <= t.head - FINALITY_DEPTH);
    const payout = payouts[0]!;
    const { transaction } = await data(url, `query($h: Bytes32!) { transaction(hash: $h) { hash blockNumber indexed finalized payouts { id } tasksSettled { id } } }`, { h: payout.transactionHash });
    expect(transaction).toMatchObject({ hash: payout.transactionHash, blockNumber: payout.blockNumber, indexed: true, finalized: payout.finalized });
    expect(transaction.payouts.map((p: any) => p.id)).toContain(payout.id);
    const unknown = await data(url, `{ transaction(hash: "0x${"ab".repeat(32)}") { indexed } }`);
    expect(unknown.transaction).toBeNull();
  });

  it("answers equal the indexed rows", async () => {
    const query = await t.rows();
    const taskRows = await query(`SELECT id, status, escrow, actual_cost, refund FROM task ORDER BY id`);
    expect(tasks.map((task) => [task.id, task.status, task.escrow, task.actualCost, task.refund]).sort()).toEqual(
      taskRows.map((row) => [row.id, row.status, String(row.escrow), row.actual_cost === null ? null : String(row.actual_cost), row.refund === null ? null : String(row.refund)]).sort(),
    );
    const payoutRows = await query(`SELECT id, stream, recipient, amount, usd_value FROM payout`);
    expect(payouts.map((p) => [p.id, p.stream, p.recipient, p.amount, p.usdValue]).sort()).toEqual(
      payoutRows.map((row) => [row.id, row.stream, row.recipient, String(row.amount), String(row.usd_value)]).sort(),
    );
  });
}

/** For suites that must also show errors: the codes of a response's errors. */
export async function errorCodes(url: string, query: string, variables: Record<string, unknown> = {}) {
  const result = await graphql(url, query, variables);
  return (result.errors ?? []).map((error) => error.extensions?.code);
}
