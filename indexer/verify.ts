/**
 * The truth check: every indexed value against the contracts' own view functions at one block.
 * Returns the differences (empty when the index is exact). Used by the truth tests and by the
 * operators' `verify` command.
 */
import { getAddress, type Address, type Hex, type PublicClient } from "viem";
import { farTokenAbi, inferencePaymentAbi } from "../abis";
import type { DeploymentManifest } from "../contracts/deploy/manifest";
import { claimableAt } from "./staking-math";

/** Runs one read-only SQL statement against the indexer's schema and returns its rows. */
export type QueryRows = (sql: string) => Promise<Record<string, unknown>[]>;

export type VerifyIndexedStateParameters = {
  publicClient: PublicClient;
  manifest: Pick<DeploymentManifest, "contracts">;
  query: QueryRows;
  blockNumber: bigint;
  /** Accounts to check even if the index never saw them (it must then say they hold nothing). */
  extraAccounts?: Address[];
};

export type VerifyIndexedStateReturnType = { differences: string[]; checked: number };

const big = (value: unknown) => BigInt(value as string | number | bigint);
const num = (value: unknown) => Number(value);
const TASK_STATUS = ["NONE", "CREATED", "COMPLETED", "CANCELLED"] as const;

export async function verifyIndexedState(parameters: VerifyIndexedStateParameters): Promise<VerifyIndexedStateReturnType> {
  const { publicClient, query, blockNumber } = parameters;
  const token = getAddress(parameters.manifest.contracts.FARToken.address);
  const payment = getAddress(parameters.manifest.contracts.InferencePayment.address);
  const differences: string[] = [];
  let checked = 0;
  const expect = (what: string, indexed: unknown, onChain: unknown) => {
    checked += 1;
    if (String(indexed) !== String(onChain)) differences.push(`${what}: indexed ${String(indexed)}, chain ${String(onChain)}`);
  };
  const readToken = (functionName: string, args: readonly unknown[] = []) =>
    publicClient.readContract({ address: token, abi: farTokenAbi, functionName: functionName as never, args: args as never, blockNumber }) as Promise<never>;
  const readPayment = (functionName: string, args: readonly unknown[] = []) =>
    publicClient.readContract({ address: payment, abi: inferencePaymentAbi, functionName: functionName as never, args: args as never, blockNumber }) as Promise<never>;
  const block = await publicClient.getBlock({ blockNumber });
  const timestamp = Number(block.timestamp);

  const [stats] = await query(`SELECT * FROM token_stats`);
  if (!stats) {
    differences.push("token_stats: no row indexed");
    return { differences, checked };
  }
  const indexState = {
    rewardPerTokenStored: big(stats.reward_per_token_stored),
    rewardUpdatedAt: num(stats.reward_updated_at),
    rewardRate: big(stats.reward_rate),
    revenuePerToken: big(stats.revenue_per_token),
  };
  expect("totalSupply", stats.total_supply, await readToken("totalSupply"));
  expect("totalStaked", stats.total_staked, await readToken("totalStaked"));
  expect("rewardRate", stats.reward_rate, await readToken("rewardRate"));
  expect("lockPeriod", stats.lock_period, await readToken("lockPeriod"));
  expect("rewardPerTokenStored", stats.reward_per_token_stored, await readToken("rewardPerTokenStored"));
  expect("rewardUpdatedAt", stats.reward_updated_at, await readToken("rewardUpdatedAt"));
  expect("revenuePerTokenStored", stats.revenue_per_token, await readToken("revenuePerTokenStored"));
  expect("undistributedRevenue", big(stats.revenue_distributed) - big(stats.revenue_share_claimed), await readToken("undistributedRevenue"));

  const accounts = await query(`SELECT address, balance FROM account`);
  const indexedBalances = new Map(accounts.map((row) => [String(row.address), big(row.balance)]));
  for (const extra of parameters.extraAccounts ?? []) {
    if (!indexedBalances.has(extra.toLowerCase())) indexedBalances.set(extra.toLowerCase(), 0n);
  }
  for (const [address, balance] of indexedBalances) {
    expect(`balanceOf(${address})`, balance, await readToken("balanceOf", [address]));
  }
  expect("holderCount", stats.holder_count, [...indexedBalances.values()].filter((balance) => balance > 0n).length);

  for (const row of await query(`SELECT * FROM staker`)) {
    const address = String(row.address);
    expect(`stakingBalance(${address})`, row.staked, await readToken("stakingBalance", [address]));
    expect(`unlockTime(${address})`, row.unlock_time, await readToken("unlockTime", [address]));
    expect(`rewardsEarned(${address})`, big(row.rewards_accrued) - big(row.rewards_claimed), await readToken("rewardsEarned", [address]));
    expect(`revenueShareEarned(${address})`, big(row.revenue_share_accrued) - big(row.revenue_share_claimed), await readToken("revenueShareEarned", [address]));
    expect(`rewardPerTokenPaid(${address})`, row.reward_per_token_paid, await readToken("rewardPerTokenPaid", [address]));
    expect(`revenuePerTokenPaid(${address})`, row.revenue_per_token_paid, await readToken("revenuePerTokenPaid", [address]));
    const [reward, share] = (await readToken("claimable", [address])) as readonly [bigint, bigint];
    const computed = claimableAt(
      {
        staked: big(row.staked),
        rewardsAccrued: big(row.rewards_accrued),
        rewardsClaimed: big(row.rewards_claimed),
        revenueShareAccrued: big(row.revenue_share_accrued),
        revenueShareClaimed: big(row.revenue_share_claimed),
        rewardPerTokenPaid: big(row.reward_per_token_paid),
        revenuePerTokenPaid: big(row.revenue_per_token_paid),
      },
      indexState,
      timestamp,
    );
    expect(`claimable(${address}).reward`, computed.reward, reward);
    expect(`claimable(${address}).revenueShare`, computed.revenueShare, share);
  }
  const [stakerTotals] = await query(`SELECT COALESCE(SUM(staked), 0) AS staked, COUNT(*) FILTER (WHERE staked > 0) AS stakers FROM staker`);
  expect("Σ staker.staked = totalStaked", stakerTotals!.staked, stats.total_staked);
  expect("stakerCount", stats.staker_count, stakerTotals!.stakers);

  let escrowedSum = 0n;
  let balanceSum = 0n;
  for (const row of await query(`SELECT * FROM escrow_account`)) {
    expect(`userBalances(${String(row.user)})`, row.balance, await readPayment("userBalances", [row.user]));
    escrowedSum += big(row.escrowed);
    balanceSum += big(row.balance);
  }
  expect("totalEscrowed", escrowedSum, await readPayment("totalEscrowed"));
  expect("totalUserBalances", balanceSum, await readPayment("totalUserBalances"));

  for (const row of await query(`SELECT * FROM node`)) {
    const [owner, totalEarned, tasksCompleted, reliability, active, tasksFailed] = (await readPayment("nodes", [row.address])) as readonly [
      Address, bigint, bigint, bigint, boolean, bigint,
    ];
    const address = String(row.address);
    expect(`nodes(${address}).owner`, row.owner, owner.toLowerCase());
    expect(`nodes(${address}).totalEarned`, row.total_earned, totalEarned);
    expect(`nodes(${address}).tasksCompleted`, row.tasks_completed, tasksCompleted);
    expect(`nodes(${address}).reliability`, row.reliability, reliability);
    expect(`nodes(${address}).active`, row.active, active);
    expect(`nodes(${address}).tasksFailed`, row.tasks_failed, tasksFailed);
  }

  const openEscrow = await query(`SELECT COALESCE(SUM(escrow), 0) AS escrow FROM task WHERE status = 'CREATED'`);
  expect("Σ open task escrow = totalEscrowed", openEscrow[0]!.escrow, escrowedSum);
  for (const row of await query(`SELECT id, "user", node, escrow, created_at, status FROM task`)) {
    const [user, node, amount, createdAt, status] = (await readPayment("tasks", [row.id as Hex])) as readonly [Address, Address, bigint, bigint, number];
    const id = String(row.id);
    expect(`tasks(${id}).user`, row.user, user.toLowerCase());
    expect(`tasks(${id}).node`, row.node ?? "0x0000000000000000000000000000000000000000", node.toLowerCase());
    expect(`tasks(${id}).amount`, row.escrow, amount);
    expect(`tasks(${id}).timestamp`, row.created_at, createdAt);
    expect(`tasks(${id}).status`, row.status, TASK_STATUS[status]);
  }

  const payoutTotals = await query(
    `SELECT stream, SUM(amount) AS amount, SUM(usd_value) AS usd, COUNT(*) AS n FROM payout GROUP BY stream ORDER BY stream`,
  );
  for (const interval of ["HOUR", "DAY"]) {
    const bucketTotals = await query(
      `SELECT stream, SUM(amount) AS amount, SUM(usd_value) AS usd, SUM(payout_count) AS n FROM revenue_bucket WHERE interval = '${interval}' GROUP BY stream ORDER BY stream`,
    );
    expect(`${interval} buckets = payouts`, JSON.stringify(bucketTotals), JSON.stringify(payoutTotals));
    const nodePayouts = await query(
      `SELECT stream, node, SUM(amount) AS amount, SUM(usd_value) AS usd, COUNT(*) AS n FROM payout WHERE node IS NOT NULL GROUP BY stream, node ORDER BY stream, node`,
    );
    const nodeBuckets = await query(
      `SELECT stream, node, SUM(amount) AS amount, SUM(usd_value) AS usd, SUM(payout_count) AS n FROM node_revenue_bucket WHERE interval = '${interval}' GROUP BY stream, node ORDER BY stream, node`,
    );
    expect(`${interval} node buckets = payouts`, JSON.stringify(nodeBuckets), JSON.stringify(nodePayouts));
  }
  const earned = await query(
    `SELECT n.address, n.total_earned, COALESCE(SUM(p.amount), 0) AS paid FROM node n LEFT JOIN payout p ON p.node = n.address AND p.stream = 'NODE_PAYMENT' GROUP BY n.address, n.total_earned`,
  );
  for (const row of earned) expect(`Σ NODE_PAYMENT(${String(row.address)}) = totalEarned`, row.paid, row.total_earned);

  await verifyPayoutsAgainstLogs(parameters, token, payment, expect);
  return { differences, checked };
}

/**
 * Rebuilds the expected payouts from the canonical chain's logs alone and compares them with the
 * payout table row by row, so a payout from a block that was reorged out cannot survive.
 */
async function verifyPayoutsAgainstLogs(
  { publicClient, query, blockNumber }: VerifyIndexedStateParameters,
  token: Address,
  payment: Address,
  expect: (what: string, indexed: unknown, onChain: unknown) => void,
) {
  const range = { fromBlock: 0n, toBlock: blockNumber };
  const treasuryChanges = await publicClient.getContractEvents({ address: payment, abi: inferencePaymentAbi, eventName: "TreasuryUpdated", ...range });
  const treasuryAt = (block: bigint, logIndex: number) =>
    treasuryChanges
      .filter((log) => log.blockNumber < block || (log.blockNumber === block && log.logIndex < logIndex))
      .at(-1)!.args.newTreasury!.toLowerCase();
  const expected: string[] = [];
  const row = (stream: string, recipient: string, amount: bigint, block: bigint, logIndex: number, tx: Hex) => {
    if (amount > 0n) expected.push([block, logIndex, stream, recipient.toLowerCase(), amount, tx].join(" "));
  };
  for (const log of await publicClient.getContractEvents({ address: payment, abi: inferencePaymentAbi, eventName: "TaskCompleted", ...range })) {
    const args = log.args as Required<typeof log.args>;
    row("NODE_PAYMENT", args.node, args.nodePayment, log.blockNumber, log.logIndex, log.transactionHash);
    row("STAKER_SHARE", token, args.stakerPayment, log.blockNumber, log.logIndex, log.transactionHash);
    row("TREASURY", treasuryAt(log.blockNumber, log.logIndex), args.treasuryPayment, log.blockNumber, log.logIndex, log.transactionHash);
  }
  for (const log of await publicClient.getContractEvents({ address: token, abi: farTokenAbi, eventName: "RewardsClaimed", ...range })) {
    row("STAKING_REWARD", log.args.user!, log.args.amount!, log.blockNumber, log.logIndex, log.transactionHash);
  }
  const indexed = await query(`SELECT block_number, log_index, stream, recipient, amount, transaction_hash FROM payout`);
  const actual = indexed.map((r) => [r.block_number, r.log_index, r.stream, r.recipient, r.amount, r.transaction_hash].join(" "));
  const [expectedSet, actualSet] = [new Set(expected), new Set(actual)];
  const missing = expected.filter((item) => !actualSet.has(item)).sort();
  const extra = actual.filter((item) => !expectedSet.has(item)).sort();
  expect("payout rows = payouts in chain logs (count)", actual.length, expected.length);
  expect("payouts in chain logs missing from the index", JSON.stringify(missing.slice(0, 5)), "[]");
  expect("indexed payouts not in chain logs", JSON.stringify(extra.slice(0, 5)), "[]");
}
