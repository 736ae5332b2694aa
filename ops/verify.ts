/**
 * The truth check: every indexed value against the contracts' own view functions at one block.
 * Returns the differences (empty when the index is exact) and how many rows of each table it
 * checked. Used by the truth tests and by the operators' `verify` command.
 *
 * The index is read whole first (an IndexedState), from SQL (Postgres, or a stopped PGlite) or
 * from the GraphQL API (ops/verify-graphql.ts), then compared. A table that reads as empty
 * or short cannot pass: each table's row count is held to what the chain's logs say it must hold
 * at least (tasks created, nodes registered, stakers, depositors, holders, payouts).
 */
import { getAddress, type Address, type Hex, type PublicClient } from "viem";
import { farTokenAbi, inferencePaymentAbi } from "../abis";
import type { DeploymentManifest } from "../contracts/deploy/manifest";
import type { QueryRows } from "../domain/progress";
import { claimableAt, type StakerAccrualState } from "../domain/staking";
import { TASK_STATUSES } from "../domain/tasks";

export type RevenueTotals = { stream: string; amount: bigint; usdValue: bigint; payoutCount: number };

/** The index as users read it; fields only SQL sees (the accrual internals) are optional. */
export type IndexedState = {
  stats:
    | {
        totalSupply: bigint;
        totalStaked: bigint;
        lockPeriod: bigint;
        holderCount: number;
        stakerCount: number;
        revenueDistributed: bigint;
        revenueShareClaimed: bigint;
        internals?: { rewardRate: bigint; rewardPerTokenStored: bigint; rewardUpdatedAt: number; revenuePerToken: bigint };
      }
    | undefined;
  accounts: { address: string; balance: bigint }[];
  stakers: {
    address: string;
    staked: bigint;
    unlockTime: bigint;
    /** As the API reports `claimable` at the indexed block; computed from `internals` when absent. */
    claimable?: { reward: bigint; revenueShare: bigint };
    internals?: Omit<StakerAccrualState, "staked">;
  }[];
  escrowAccounts: { user: string; balance: bigint; escrowed: bigint }[];
  nodes: { address: string; owner: string; totalEarned: bigint; tasksCompleted: bigint; reliability: bigint; active: boolean; tasksFailed: bigint }[];
  tasks: { id: string; user: string; node: string | null; escrow: bigint; createdAt: bigint; status: string }[];
  payouts: { blockNumber: bigint; logIndex: number; stream: string; recipient: string; amount: bigint; transactionHash: string; usdValue: bigint; node: string | null }[];
  /** Revenue per stream (and per node and stream, where readable) from each bucket series. */
  revenue: { source: string; byStream: RevenueTotals[]; byNode?: (RevenueTotals & { node: string })[] }[];
};

export type VerifyIndexedStateParameters = {
  publicClient: PublicClient;
  manifest: Pick<DeploymentManifest, "contracts">;
  blockNumber: bigint;
  /** Accounts to check even if the index never saw them (it must then say they hold nothing). */
  extraAccounts?: Address[];
} & ({ query: QueryRows; state?: undefined } | { state: IndexedState; query?: undefined });

export type VerifyIndexedStateReturnType = { differences: string[]; checked: number; rows: Record<string, number> };

const big = (value: unknown) => BigInt(value as string | number | bigint);
const num = (value: unknown) => Number(value);
const lower = (value: unknown) => String(value).toLowerCase();
const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";

/** Reads every table the check needs through SQL (one statement per table). */
export async function readIndexedStateSql(query: QueryRows): Promise<IndexedState> {
  const [stats] = await query(`SELECT * FROM token_stats`);
  const totals = (rows: Record<string, unknown>[]) =>
    rows.map((row) => ({ stream: String(row.stream), amount: big(row.amount), usdValue: big(row.usd), payoutCount: num(row.n), ...(row.node === undefined ? {} : { node: lower(row.node) }) }));
  const revenue: IndexedState["revenue"] = [];
  for (const interval of ["HOUR", "DAY"]) {
    revenue.push({
      source: `${interval} buckets`,
      byStream: totals(await query(`SELECT stream, SUM(amount) AS amount, SUM(usd_value) AS usd, SUM(payout_count) AS n FROM revenue_bucket WHERE interval = '${interval}' GROUP BY stream`)),
      byNode: totals(
        await query(`SELECT stream, node, SUM(amount) AS amount, SUM(usd_value) AS usd, SUM(payout_count) AS n FROM node_revenue_bucket WHERE interval = '${interval}' GROUP BY stream, node`),
      ) as (RevenueTotals & { node: string })[],
    });
  }
  return {
    stats: stats && {
      totalSupply: big(stats.total_supply),
      totalStaked: big(stats.total_staked),
      lockPeriod: big(stats.lock_period),
      holderCount: num(stats.holder_count),
      stakerCount: num(stats.staker_count),
      revenueDistributed: big(stats.revenue_distributed),
      revenueShareClaimed: big(stats.revenue_share_claimed),
      internals: {
        rewardRate: big(stats.reward_rate),
        rewardPerTokenStored: big(stats.reward_per_token_stored),
        rewardUpdatedAt: num(stats.reward_updated_at),
        revenuePerToken: big(stats.revenue_per_token),
      },
    },
    accounts: (await query(`SELECT address, balance FROM account`)).map((row) => ({ address: lower(row.address), balance: big(row.balance) })),
    stakers: (await query(`SELECT * FROM staker`)).map((row) => ({
      address: lower(row.address),
      staked: big(row.staked),
      unlockTime: big(row.unlock_time),
      internals: {
        rewardsAccrued: big(row.rewards_accrued),
        rewardsClaimed: big(row.rewards_claimed),
        revenueShareAccrued: big(row.revenue_share_accrued),
        revenueShareClaimed: big(row.revenue_share_claimed),
        rewardPerTokenPaid: big(row.reward_per_token_paid),
        revenuePerTokenPaid: big(row.revenue_per_token_paid),
      },
    })),
    escrowAccounts: (await query(`SELECT "user", balance, escrowed FROM escrow_account`)).map((row) => ({ user: lower(row.user), balance: big(row.balance), escrowed: big(row.escrowed) })),
    nodes: (await query(`SELECT * FROM node`)).map((row) => ({
      address: lower(row.address),
      owner: lower(row.owner),
      totalEarned: big(row.total_earned),
      tasksCompleted: big(row.tasks_completed),
      reliability: big(row.reliability),
      active: row.active === true || row.active === "true",
      tasksFailed: big(row.tasks_failed),
    })),
    tasks: (await query(`SELECT id, "user", node, escrow, created_at, status FROM task`)).map((row) => ({
      id: lower(row.id),
      user: lower(row.user),
      node: row.node === null ? null : lower(row.node),
      escrow: big(row.escrow),
      createdAt: big(row.created_at),
      status: String(row.status),
    })),
    payouts: (await query(`SELECT block_number, log_index, stream, recipient, amount, transaction_hash, usd_value, node FROM payout`)).map((row) => ({
      blockNumber: big(row.block_number),
      logIndex: num(row.log_index),
      stream: String(row.stream),
      recipient: lower(row.recipient),
      amount: big(row.amount),
      transactionHash: lower(row.transaction_hash),
      usdValue: big(row.usd_value),
      node: row.node === null ? null : lower(row.node),
    })),
    revenue,
  };
}

export async function verifyIndexedState(parameters: VerifyIndexedStateParameters): Promise<VerifyIndexedStateReturnType> {
  const { publicClient, blockNumber } = parameters;
  const state = parameters.state ?? (await readIndexedStateSql(parameters.query));
  const token = getAddress(parameters.manifest.contracts.FARToken.address);
  const payment = getAddress(parameters.manifest.contracts.InferencePayment.address);
  const differences: string[] = [];
  const rows: Record<string, number> = {};
  let checked = 0;
  const expect = (what: string, indexed: unknown, onChain: unknown) => {
    checked += 1;
    if (String(indexed) !== String(onChain)) differences.push(`${what}: indexed ${String(indexed)}, chain ${String(onChain)}`);
  };
  /** Counts a table's rows and holds them to the least the chain's logs require. */
  const table = (name: string, count: number, atLeast: number) => {
    rows[name] = count;
    checked += 1;
    if (count < atLeast) differences.push(`${name}: ${count} rows read, the chain's logs require at least ${atLeast}`);
  };
  const readToken = (functionName: string, args: readonly unknown[] = []) =>
    publicClient.readContract({ address: token, abi: farTokenAbi, functionName: functionName as never, args: args as never, blockNumber }) as Promise<never>;
  const readPayment = (functionName: string, args: readonly unknown[] = []) =>
    publicClient.readContract({ address: payment, abi: inferencePaymentAbi, functionName: functionName as never, args: args as never, blockNumber }) as Promise<never>;
  const block = await publicClient.getBlock({ blockNumber });
  const timestamp = Number(block.timestamp);
  const chain = await readChainLogs(publicClient, token, payment, blockNumber);

  const { stats } = state;
  table("token_stats", stats ? 1 : 0, 1);
  if (!stats) return { differences, checked, rows };
  expect("totalSupply", stats.totalSupply, await readToken("totalSupply"));
  expect("totalStaked", stats.totalStaked, await readToken("totalStaked"));
  expect("lockPeriod", stats.lockPeriod, await readToken("lockPeriod"));
  expect("undistributedRevenue", stats.revenueDistributed - stats.revenueShareClaimed, await readToken("undistributedRevenue"));
  if (stats.internals) {
    expect("rewardRate", stats.internals.rewardRate, await readToken("rewardRate"));
    expect("rewardPerTokenStored", stats.internals.rewardPerTokenStored, await readToken("rewardPerTokenStored"));
    expect("rewardUpdatedAt", stats.internals.rewardUpdatedAt, await readToken("rewardUpdatedAt"));
    expect("revenuePerTokenStored", stats.internals.revenuePerToken, await readToken("revenuePerTokenStored"));
  }

  table("account", state.accounts.length, chain.holders.size);
  const indexedBalances = new Map(state.accounts.map((row) => [row.address, row.balance]));
  for (const extra of parameters.extraAccounts ?? []) {
    if (!indexedBalances.has(extra.toLowerCase())) indexedBalances.set(extra.toLowerCase(), 0n);
  }
  for (const [address, balance] of indexedBalances) {
    expect(`balanceOf(${address})`, balance, await readToken("balanceOf", [address]));
  }
  expect("holderCount", stats.holderCount, [...indexedBalances.values()].filter((balance) => balance > 0n).length);

  table("staker", state.stakers.length, chain.stakers.size);
  for (const row of state.stakers) {
    const { address } = row;
    expect(`stakingBalance(${address})`, row.staked, await readToken("stakingBalance", [address]));
    expect(`unlockTime(${address})`, row.unlockTime, await readToken("unlockTime", [address]));
    if (row.internals) {
      const accrual = row.internals;
      expect(`rewardsEarned(${address})`, accrual.rewardsAccrued - accrual.rewardsClaimed, await readToken("rewardsEarned", [address]));
      expect(`revenueShareEarned(${address})`, accrual.revenueShareAccrued - accrual.revenueShareClaimed, await readToken("revenueShareEarned", [address]));
      expect(`rewardPerTokenPaid(${address})`, accrual.rewardPerTokenPaid, await readToken("rewardPerTokenPaid", [address]));
      expect(`revenuePerTokenPaid(${address})`, accrual.revenuePerTokenPaid, await readToken("revenuePerTokenPaid", [address]));
    }
    const claimable = row.claimable ?? (row.internals && stats.internals ? claimableAt({ staked: row.staked, ...row.internals }, stats.internals, timestamp) : undefined);
    const [reward, share] = (await readToken("claimable", [address])) as readonly [bigint, bigint];
    expect(`claimable(${address}).reward`, claimable?.reward, reward);
    expect(`claimable(${address}).revenueShare`, claimable?.revenueShare, share);
  }
  expect("Σ staker.staked = totalStaked", state.stakers.reduce((sum, row) => sum + row.staked, 0n), stats.totalStaked);
  expect("stakerCount", stats.stakerCount, state.stakers.filter((row) => row.staked > 0n).length);

  table("escrow_account", state.escrowAccounts.length, chain.depositors.size);
  let escrowedSum = 0n;
  let balanceSum = 0n;
  for (const row of state.escrowAccounts) {
    expect(`userBalances(${row.user})`, row.balance, await readPayment("userBalances", [row.user]));
    escrowedSum += row.escrowed;
    balanceSum += row.balance;
  }
  expect("totalEscrowed", escrowedSum, await readPayment("totalEscrowed"));
  expect("totalUserBalances", balanceSum, await readPayment("totalUserBalances"));

  table("node", state.nodes.length, chain.nodes.size);
  for (const row of state.nodes) {
    const [owner, totalEarned, tasksCompleted, reliability, active, tasksFailed] = (await readPayment("nodes", [row.address])) as readonly [
      Address, bigint, bigint, bigint, boolean, bigint,
    ];
    expect(`nodes(${row.address}).owner`, row.owner, owner.toLowerCase());
    expect(`nodes(${row.address}).totalEarned`, row.totalEarned, totalEarned);
    expect(`nodes(${row.address}).tasksCompleted`, row.tasksCompleted, tasksCompleted);
    expect(`nodes(${row.address}).reliability`, row.reliability, reliability);
    expect(`nodes(${row.address}).active`, row.active, active);
    expect(`nodes(${row.address}).tasksFailed`, row.tasksFailed, tasksFailed);
  }

  table("task", state.tasks.length, chain.tasks.size);
  expect("tasks indexed = tasks created in chain logs", state.tasks.length, chain.tasks.size);
  expect("Σ open task escrow = totalEscrowed", state.tasks.filter((row) => row.status === "CREATED").reduce((sum, row) => sum + row.escrow, 0n), escrowedSum);
  for (const row of state.tasks) {
    const [user, node, amount, createdAt, status] = (await readPayment("tasks", [row.id as Hex])) as readonly [Address, Address, bigint, bigint, number];
    expect(`tasks(${row.id}).user`, row.user, user.toLowerCase());
    expect(`tasks(${row.id}).node`, row.node ?? ZERO_ADDRESS, node.toLowerCase());
    expect(`tasks(${row.id}).amount`, row.escrow, amount);
    expect(`tasks(${row.id}).timestamp`, row.createdAt, createdAt);
    expect(`tasks(${row.id}).status`, row.status, TASK_STATUSES[status]);
  }

  table("payout", state.payouts.length, chain.payouts.length);
  const payoutTotals = sumRevenue(state.payouts, (row) => row.stream);
  const nodePayouts = sumRevenue(state.payouts.filter((row) => row.node !== null), (row) => `${row.stream} ${row.node}`);
  for (const series of state.revenue) {
    table(series.source, series.byStream.reduce((sum, row) => sum + row.payoutCount, 0), chain.payouts.length);
    expect(`${series.source} = payouts`, describeTotals(series.byStream, (row) => row.stream), payoutTotals);
    if (series.byNode) expect(`${series.source} per node = payouts`, describeTotals(series.byNode, (row) => `${row.stream} ${row.node}`), nodePayouts);
  }
  for (const row of state.nodes) {
    const paid = state.payouts.filter((payout) => payout.node === row.address && payout.stream === "NODE_PAYMENT").reduce((sum, payout) => sum + payout.amount, 0n);
    expect(`Σ NODE_PAYMENT(${row.address}) = totalEarned`, paid, row.totalEarned);
  }

  // Row by row against the canonical chain's logs, so a payout from a block reorged out cannot survive.
  const actual = state.payouts.map((r) => [r.blockNumber, r.logIndex, r.stream, r.recipient, r.amount, r.transactionHash].join(" "));
  const [expectedSet, actualSet] = [new Set(chain.payouts), new Set(actual)];
  expect("payout rows = payouts in chain logs (count)", actual.length, chain.payouts.length);
  expect("payouts in chain logs missing from the index", JSON.stringify(chain.payouts.filter((item) => !actualSet.has(item)).sort().slice(0, 5)), "[]");
  expect("indexed payouts not in chain logs", JSON.stringify(actual.filter((item) => !expectedSet.has(item)).sort().slice(0, 5)), "[]");
  return { differences, checked, rows };
}

function sumRevenue<T extends { amount: bigint; usdValue: bigint }>(items: T[], key: (item: T) => string): string {
  const totals = new Map<string, RevenueTotals>();
  for (const item of items) {
    const total = totals.get(key(item)) ?? { stream: key(item), amount: 0n, usdValue: 0n, payoutCount: 0 };
    totals.set(key(item), { ...total, amount: total.amount + item.amount, usdValue: total.usdValue + item.usdValue, payoutCount: total.payoutCount + 1 });
  }
  return describeTotals([...totals.values()], (row) => row.stream);
}

/** Totals as one comparable string, sorted by key, streams with nothing left out. */
function describeTotals<T extends RevenueTotals>(rows: T[], key: (row: T) => string): string {
  return rows
    .filter((row) => row.payoutCount > 0)
    .map((row) => `${key(row)}: ${row.amount} ${row.usdValue} ${row.payoutCount}`)
    .sort()
    .join("; ");
}

/** What the canonical chain's logs up to `blockNumber` say the index must contain. */
async function readChainLogs(publicClient: PublicClient, token: Address, payment: Address, blockNumber: bigint) {
  const range = { fromBlock: 0n, toBlock: blockNumber };
  type Log = { blockNumber: bigint; logIndex: number; transactionHash: Hex; args: Record<string, unknown> };
  const paymentEvents = (eventName: string) =>
    publicClient.getContractEvents({ address: payment, abi: inferencePaymentAbi, eventName: eventName as never, ...range }) as Promise<unknown[]> as Promise<Log[]>;
  const tokenEvents = (eventName: string) =>
    publicClient.getContractEvents({ address: token, abi: farTokenAbi, eventName: eventName as never, ...range }) as Promise<unknown[]> as Promise<Log[]>;
  const argsOf = (log: unknown) => (log as { args: Record<string, unknown> }).args;
  const distinct = (logs: unknown[], name: string) => new Set(logs.map((log) => lower(argsOf(log)[name])).filter((value) => value !== ZERO_ADDRESS));

  const treasuryChanges = await paymentEvents("TreasuryUpdated");
  const treasuryAt = (block: bigint, logIndex: number) =>
    lower(argsOf(treasuryChanges.filter((log) => log.blockNumber < block || (log.blockNumber === block && log.logIndex < logIndex)).at(-1)).newTreasury);
  const payouts: string[] = [];
  const payout = (stream: string, recipient: unknown, amount: unknown, log: { blockNumber: bigint; logIndex: number; transactionHash: Hex }) => {
    if ((amount as bigint) > 0n) payouts.push([log.blockNumber, log.logIndex, stream, lower(recipient), amount, log.transactionHash].join(" "));
  };
  for (const log of await paymentEvents("TaskCompleted")) {
    const args = argsOf(log);
    payout("NODE_PAYMENT", args.node, args.nodePayment, log);
    payout("STAKER_SHARE", token, args.stakerPayment, log);
    payout("TREASURY", treasuryAt(log.blockNumber, log.logIndex), args.treasuryPayment, log);
  }
  for (const log of await tokenEvents("RewardsClaimed")) payout("STAKING_REWARD", argsOf(log).user, argsOf(log).amount, log);
  return {
    payouts,
    tasks: distinct(await paymentEvents("TaskCreated"), "taskId"),
    nodes: distinct(await paymentEvents("NodeRegistered"), "node"),
    depositors: distinct(await paymentEvents("Deposited"), "user"),
    stakers: distinct(await tokenEvents("Staked"), "user"),
    // Whoever received FAR held it; the account table keeps every address that ever did.
    holders: distinct((await tokenEvents("Transfer")).filter((log) => (argsOf(log).value as bigint) > 0n), "to"),
  };
}
