/**
 * Reads the index for the truth check through the GraphQL API, as users read it: every row of
 * every list, page by page. The accrual internals users never see are not read; the staking
 * check then compares what the API reports as claimable with the contract's `claimable`.
 */
import type { IndexedState, RevenueTotals } from "./verify";

type Edge<T> = { cursor: string; node: T };
type Page<T> = { edges: Edge<T>[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };

const PAGE_SIZE = 100;

export type GraphqlReader = <T>(text: string, variables?: Record<string, unknown>) => Promise<T>;

/** A GraphQL client for `url` that turns any error into a thrown one, naming its code. */
export function graphqlReader(url: string, onUnreachable: (cause: unknown) => Error): GraphqlReader {
  return async <T>(text: string, variables: Record<string, unknown> = {}) => {
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: text, variables }) }).catch(
      (cause: unknown) => {
        throw onUnreachable(cause);
      },
    );
    const body = (await response.json()) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
    if (body.errors?.length || !body.data) {
      const [error] = body.errors ?? [{ message: `HTTP ${response.status}` }];
      throw new Error(`The API refused a query: ${error!.extensions?.code ?? ""} ${error!.message}`);
    }
    return body.data;
  };
}

/** The indexed block the API reads at (its `indexingStatus`). */
export async function readIndexedBlock(
  read: GraphqlReader,
): Promise<{ chainId: number; number: bigint; timestamp: string; safe: bigint; finalized: bigint; finality: "chain" | "depth" }> {
  const { indexingStatus } = await read<{
    indexingStatus: { chainId: number; latestBlock: { number: number; timestamp: string }; safeBlock: { number: number }; finalizedBlock: { number: number }; finalitySource: "CHAIN" | "DEPTH" };
  }>("{ indexingStatus { chainId latestBlock { number timestamp } safeBlock { number } finalizedBlock { number } finalitySource } }");
  return {
    chainId: indexingStatus.chainId,
    number: BigInt(indexingStatus.latestBlock.number),
    timestamp: indexingStatus.latestBlock.timestamp,
    safe: BigInt(indexingStatus.safeBlock.number),
    finalized: BigInt(indexingStatus.finalizedBlock.number),
    finality: indexingStatus.finalitySource === "CHAIN" ? "chain" : "depth",
  };
}

async function readAll<T>(read: GraphqlReader, field: string, selection: string): Promise<T[]> {
  const rows: T[] = [];
  for (let after: string | null = null; ; ) {
    const data: Record<string, Page<T>> = await read(`query ($first: Int!, $after: String) { page: ${field}(first: $first, after: $after) { edges { cursor node { ${selection} } } pageInfo { hasNextPage endCursor } } }`, {
      first: PAGE_SIZE,
      after,
    });
    const page = data.page!;
    rows.push(...page.edges.map((edge) => edge.node));
    if (!page.pageInfo.hasNextPage) return rows;
    after = page.pageInfo.endCursor;
  }
}

const seconds = (dateTime: string) => BigInt(Math.round(Date.parse(dateTime) / 1000));
const lower = (value: string) => value.toLowerCase();

export async function readIndexedStateGraphql(read: GraphqlReader): Promise<IndexedState> {
  type Overview = { totalSupply: string; totalStaked: string; lockPeriodSeconds: number; holderCount: number; stakerCount: number; revenueShareDistributed: string; revenueShareClaimed: string };
  const { stakingOverview, revenueSummary } = await read<{ stakingOverview: Overview | null; revenueSummary: { byStream: (Omit<RevenueTotals, "amount" | "usdValue"> & { amount: string; usdValue: string })[] } }>(
    "{ stakingOverview { totalSupply totalStaked lockPeriodSeconds holderCount stakerCount revenueShareDistributed revenueShareClaimed } revenueSummary { byStream { stream amount usdValue payoutCount } } }",
  );
  const accounts = await readAll<{ address: string; balance: string; escrow: { balance: string; escrowed: string; deposited: string } }>(
    read,
    "accounts",
    "address balance escrow { balance escrowed deposited }",
  );
  const stakers = await readAll<{ address: string; staked: string; unlockTime: string; claimableReward: string; claimableRevenueShare: string }>(
    read,
    "stakers",
    "address staked unlockTime claimableReward claimableRevenueShare",
  );
  const nodes = await readAll<{ address: string; owner: string; totalEarned: string; tasksCompleted: number; reliability: number; active: boolean; tasksFailed: number }>(
    read,
    "nodes",
    "address owner totalEarned tasksCompleted reliability active tasksFailed",
  );
  const tasks = await readAll<{ id: string; user: { address: string }; node: { address: string } | null; escrow: string; createdAt: string; status: string }>(
    read,
    "tasks",
    "id user { address } node { address } escrow createdAt status",
  );
  const payouts = await readAll<{ blockNumber: number; logIndex: number; stream: string; recipient: string; amount: string; transactionHash: string; usdValue: string; node: { address: string } | null }>(
    read,
    "payouts",
    "blockNumber logIndex stream recipient amount transactionHash usdValue node { address }",
  );
  return {
    stats: stakingOverview
      ? {
          totalSupply: BigInt(stakingOverview.totalSupply),
          totalStaked: BigInt(stakingOverview.totalStaked),
          lockPeriod: BigInt(stakingOverview.lockPeriodSeconds),
          holderCount: stakingOverview.holderCount,
          stakerCount: stakingOverview.stakerCount,
          revenueDistributed: BigInt(stakingOverview.revenueShareDistributed),
          revenueShareClaimed: BigInt(stakingOverview.revenueShareClaimed),
        }
      : undefined,
    accounts: accounts.map((row) => ({ address: lower(row.address), balance: BigInt(row.balance) })),
    stakers: stakers.map((row) => ({
      address: lower(row.address),
      staked: BigInt(row.staked),
      unlockTime: seconds(row.unlockTime),
      claimable: { reward: BigInt(row.claimableReward), revenueShare: BigInt(row.claimableRevenueShare) },
    })),
    // The API answers every address's escrow (zero if it never deposited); the table holds depositors.
    escrowAccounts: accounts
      .filter((row) => BigInt(row.escrow.deposited) > 0n || BigInt(row.escrow.balance) > 0n || BigInt(row.escrow.escrowed) > 0n)
      .map((row) => ({ user: lower(row.address), balance: BigInt(row.escrow.balance), escrowed: BigInt(row.escrow.escrowed) })),
    nodes: nodes.map((row) => ({
      address: lower(row.address),
      owner: lower(row.owner),
      totalEarned: BigInt(row.totalEarned),
      tasksCompleted: BigInt(row.tasksCompleted),
      reliability: BigInt(row.reliability),
      active: row.active,
      tasksFailed: BigInt(row.tasksFailed),
    })),
    tasks: tasks.map((row) => ({
      id: lower(row.id),
      user: lower(row.user.address),
      node: row.node ? lower(row.node.address) : null,
      escrow: BigInt(row.escrow),
      createdAt: seconds(row.createdAt),
      status: row.status,
    })),
    payouts: payouts.map((row) => ({
      blockNumber: BigInt(row.blockNumber),
      logIndex: row.logIndex,
      stream: row.stream,
      recipient: lower(row.recipient),
      amount: BigInt(row.amount),
      transactionHash: lower(row.transactionHash),
      usdValue: BigInt(row.usdValue),
      node: row.node ? lower(row.node.address) : null,
    })),
    revenue: [
      {
        source: "revenueSummary",
        byStream: revenueSummary.byStream.map((row) => ({ stream: row.stream, amount: BigInt(row.amount), usdValue: BigInt(row.usdValue), payoutCount: row.payoutCount })),
      },
    ],
  };
}
