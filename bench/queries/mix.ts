/**
 * The fixed query mix: four questions a frontend or analyst asks, each written for our API and,
 * where it can answer the same question, for Ponder's built-in GraphQL. Each side's answer is
 * reduced to one canonical form so that the two can be checked for equal data before any load.
 */

export type Target = "ours" | "ponder";

/** One GraphQL request as sent, and how its `data` reads as the canonical answer. */
type Operation = {
  query: string;
  variables: Record<string, unknown>;
  canonical: (data: Json) => unknown;
};

export type Question = {
  name: string;
  ours: Operation;
  /** Null where Ponder's GraphQL cannot answer it; `ponderGap` says why. */
  ponder: Operation | null;
  /** What of the question Ponder's GraphQL cannot answer (aggregates, zero-filled buckets, …). */
  ponderGap: string;
};

export type MixParameters = {
  /** Addresses that staked, claimed and created tasks (lowercase). */
  stakers: string[];
  /** The token's address: Ponder's `tokenStats` is keyed by it, our `stakingOverview` is not. */
  token: string;
  /** [from, to) of the revenue series, unix seconds on day boundaries. */
  revenueWindow: { from: number; to: number };
};

/**
 * A parsed GraphQL `data` value, walked by field name. Its leaves (strings, numbers, null) are
 * only copied into the canonical answer, never read as objects, so one recursive type serves.
 */
interface Json {
  readonly [field: string]: Json;
}

/** A connection (Relay edges or Ponder items) as a plain list; ISO dates as unix seconds. */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === "string" && /^\d{4}-\d\d-\d\dT/.test(value)) return Date.parse(value) / 1000;
  if (value === null || typeof value !== "object") return value;
  const object = value as Record<string, unknown>;
  if (Array.isArray(object.edges)) return object.edges.map((edge: { node: unknown }) => plain(edge.node));
  if (Array.isArray(object.items)) return object.items.map(plain);
  return Object.fromEntries(Object.entries(object).map(([key, inner]) => [key, plain(inner)]));
}

const ZERO_ESCROW = { balance: "0", escrowed: "0" };

type Positioned = { blockNumber: number; logIndex: number; id?: string };

/**
 * Newest first by chain position, as our API orders logs. Ponder's GraphQL orders by one column
 * (then the primary key, here "<tx hash>-<log index>"), so two logs of one block come back in
 * hash order: its client re-sorts by (block, log index), which is what this does, then drops the
 * sort fields it asked for only for that (`helpers`).
 */
function byPosition(rows: unknown, helpers: string[]): unknown[] {
  const sorted = [...(plain(rows) as Positioned[])].sort(
    (a, b) => b.blockNumber - a.blockNumber || b.logIndex - a.logIndex || (b.id ?? "").localeCompare(a.id ?? ""),
  );
  return sorted.map((row) => Object.fromEntries(Object.entries(row).filter(([key]) => !helpers.includes(key))));
}

function stakerDashboard(me: string, token: string): Omit<Question, "name"> {
  return {
    ours: {
      query: `query StakerDashboard($me: Address!) {
  account(address: $me) {
    balance
    escrow { balance escrowed }
    staker {
      staked unlockTime rewardsClaimed revenueShareClaimed
      history(first: 10) { edges { node { action amount stakedAfter timestamp } } }
    }
    payouts(first: 10, stream: STAKING_REWARD) { edges { node { amount usdValue timestamp } } }
  }
  stakingOverview { totalStaked totalSupply stakerCount }
}`,
      variables: { me },
      canonical: (data) => {
        const account = data.account!;
        const { history, ...staker } = (plain(account.staker) ?? { history: [] }) as Record<string, unknown>;
        return {
          balance: account.balance,
          escrow: account.escrow,
          staker: account.staker ? staker : null,
          history,
          rewards: plain(account.payouts),
          overview: data.stakingOverview,
        };
      },
    },
    ponder: {
      query: `query StakerDashboard($me: String!, $token: String!) {
  account(address: $me) { balance }
  escrowAccount(user: $me) { balance escrowed }
  staker(address: $me) { staked unlockTime rewardsClaimed revenueShareClaimed }
  stakingEvents(where: { staker: $me }, orderBy: "blockNumber", orderDirection: "desc", limit: 10) { items { action amount stakedAfter timestamp blockNumber logIndex } }
  payouts(where: { recipient: $me, stream: STAKING_REWARD }, orderBy: "blockNumber", orderDirection: "desc", limit: 10) { items { amount usdValue timestamp blockNumber logIndex id } }
  tokenStats(token: $token) { totalStaked totalSupply stakerCount }
}`,
      variables: { me, token },
      canonical: (data) => ({
        balance: data.account?.balance ?? "0",
        escrow: data.escrowAccount ?? ZERO_ESCROW,
        staker: data.staker,
        history: byPosition(data.stakingEvents, ["blockNumber", "logIndex"]),
        rewards: byPosition(data.payouts, ["blockNumber", "logIndex", "id"]),
        overview: data.tokenStats,
      }),
    },
    ponderGap:
      "claimable reward and revenue share (computed at the indexed block), APY: not stored, so not in Ponder's GraphQL; left out of both. " +
      "Newest-first by (block, log index) is one sort column too many for Ponder: it is asked for both and its client re-sorts",
  };
}

const NODE_ORDERS = [
  { ours: "EARNINGS_DESC", ponder: "totalEarned" },
  { ours: "RELIABILITY_DESC", ponder: "reliability" },
  { ours: "TASKS_COMPLETED_DESC", ponder: "tasksCompleted" },
] as const;

const NODE_FIELDS = "address owner active reliability tasksCompleted tasksFailed totalEarned";
const NODE_TASK_FIELDS = "id status escrow actualCost nodePayment performanceScore createdAt";

function nodeLeaderboard(order: (typeof NODE_ORDERS)[number]): Omit<Question, "name"> {
  return {
    ours: {
      query: `query NodeLeaderboard {
  nodes(first: 10, orderBy: ${order.ours}) { edges { node { ${NODE_FIELDS}
    tasks(first: 5) { edges { node { ${NODE_TASK_FIELDS} } } } } } }
}`,
      variables: {},
      canonical: (data) => plain(data.nodes),
    },
    ponder: {
      query: `query NodeLeaderboard {
  nodes(orderBy: "${order.ponder}", orderDirection: "desc", limit: 10) { items { ${NODE_FIELDS}
    tasks(orderBy: "createdAt", orderDirection: "desc", limit: 5) { items { ${NODE_TASK_FIELDS} } } } }
}`,
      variables: {},
      canonical: (data) => plain(data.nodes),
    },
    ponderGap: "none for this question (Ponder needs the node → tasks relation that bench/queries/ponder-api.ts declares)",
  };
}

const STREAM_ORDER = ["NODE_PAYMENT", "STAKER_SHARE", "TREASURY", "STAKING_REWARD"];
type BucketRow = { bucketStart: number; stream: string; amount: string; usdValue: string; payoutCount: number };
const byBucketAndStream = (a: BucketRow, b: BucketRow) => a.bucketStart - b.bucketStart || STREAM_ORDER.indexOf(a.stream) - STREAM_ORDER.indexOf(b.stream);

function revenueMonth({ from, to }: MixParameters["revenueWindow"]): Omit<Question, "name"> {
  return {
    ours: {
      query: `query RevenueMonth($from: DateTime!, $to: DateTime!) {
  revenueSeries(interval: DAY, from: $from, to: $to) { bucketStart byStream { stream amount usdValue payoutCount } }
}`,
      variables: { from: new Date(from * 1000).toISOString(), to: new Date(to * 1000).toISOString() },
      // Our series is zero-filled; Ponder has rows only where something was paid.
      canonical: (data) =>
        (plain(data.revenueSeries) as { bucketStart: number; byStream: Omit<BucketRow, "bucketStart">[] }[])
          .flatMap(({ bucketStart, byStream }) => byStream.map((row) => ({ bucketStart, ...row })))
          .filter((row) => row.payoutCount > 0)
          .sort(byBucketAndStream),
    },
    ponder: {
      query: `query RevenueMonth($from: Int!, $to: Int!) {
  revenueBuckets(where: { interval: DAY, bucketStart_gte: $from, bucketStart_lt: $to }, orderBy: "bucketStart", limit: 1000) {
    items { bucketStart stream amount usdValue payoutCount }
  }
}`,
      variables: { from, to },
      canonical: (data) => [...(plain(data.revenueBuckets) as BucketRow[])].sort(byBucketAndStream),
    },
    ponderGap:
      "per-day totals over streams, running cumulative, zero-filled days, WEEK buckets and UTC offsets, FAR/USD per node or recipient: " +
      "Ponder returns the stored (day, stream) rows and the client sums; both are asked only for those rows",
  };
}

const ACCOUNT_TASK_FIELDS = "id status escrow actualCost refund createdAt settledAt";
const ACCOUNT_PAYOUT_FIELDS = "stream amount usdValue blockNumber timestamp transactionHash";

function accountPage(address: string): Omit<Question, "name"> {
  return {
    ours: {
      query: `query AccountPage($address: Address!) {
  account(address: $address) {
    balance firstSeenBlock
    escrow { balance escrowed deposited withdrawn spent }
    tasks(first: 20) { edges { node { ${ACCOUNT_TASK_FIELDS} node { address reliability } } } }
    payouts(first: 20) { edges { node { ${ACCOUNT_PAYOUT_FIELDS} } } }
    nodesOwned { address active totalEarned }
  }
}`,
      variables: { address },
      canonical: (data) => {
        const { tasks, payouts, nodesOwned, escrow, ...account } = plain(data.account) as Record<string, unknown>;
        return { account, escrow, tasks, payouts, nodesOwned };
      },
    },
    ponder: {
      query: `query AccountPage($address: String!) {
  account(address: $address) { balance firstSeenBlock }
  escrowAccount(user: $address) { balance escrowed deposited withdrawn spent }
  tasks(where: { user: $address }, orderBy: "createdAt", orderDirection: "desc", limit: 20) {
    items { ${ACCOUNT_TASK_FIELDS} node: assignedNode { address reliability } }
  }
  payouts(where: { recipient: $address }, orderBy: "blockNumber", orderDirection: "desc", limit: 20) { items { ${ACCOUNT_PAYOUT_FIELDS} logIndex id } }
  nodes(where: { owner: $address }, orderBy: "totalEarned", orderDirection: "desc") { items { address active totalEarned } }
}`,
      variables: { address },
      canonical: (data) => ({
        account: data.account ?? { balance: "0", firstSeenBlock: null },
        escrow: data.escrowAccount ?? { ...ZERO_ESCROW, deposited: "0", withdrawn: "0", spent: "0" },
        tasks: plain(data.tasks),
        payouts: byPosition(data.payouts, ["logIndex", "id"]),
        nodesOwned: plain(data.nodes),
      }),
    },
    ponderGap: "none for these fields (the task → node relation is declared for Ponder in bench/queries/ponder-api.ts); payouts re-sorted by (block, log index) as above",
  };
}

export const QUESTION_NAMES = ["staker dashboard", "node leaderboard + tasks", "revenue, 30 days by day", "account page"] as const;

/**
 * The mix as the load generator cycles it: the four questions in turn, each with a different
 * address or ordering on every pass, so that no answer is served from one hot row.
 */
export function buildMix(parameters: MixParameters): Question[] {
  const passes = parameters.stakers.length;
  return Array.from({ length: passes }, (_, pass) => {
    const address = parameters.stakers[pass]!;
    return [
      { name: QUESTION_NAMES[0], ...stakerDashboard(address, parameters.token) },
      { name: QUESTION_NAMES[1], ...nodeLeaderboard(NODE_ORDERS[pass % NODE_ORDERS.length]!) },
      { name: QUESTION_NAMES[2], ...revenueMonth(parameters.revenueWindow) },
      { name: QUESTION_NAMES[3], ...accountPage(parameters.stakers[(pass + 1) % passes]!) },
    ];
  }).flat();
}
