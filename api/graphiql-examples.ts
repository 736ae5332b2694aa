/**
 * What GraphiQL opens on: a first tab over what is indexed now, then api/README.md's other
 * example queries, one tab each (test/unit/graphiql-examples.test.ts holds every one valid
 * against the schema, its variables included, and equal to the README's text). Their variables
 * name `npm start`'s local chain: the simulator's first user and node, and the last week.
 */
import { createRequire } from "node:module";
import type { renderGraphiQL as RenderGraphiQL } from "@graphql-yoga/render-graphiql";
import type { GraphiQLOptions } from "graphql-yoga";
import { nodeAddresses, userAccounts } from "../common/chain";

export type GraphiqlExample = { query: string; variables?: Record<string, unknown> };

const DAY_MS = 24 * 3600 * 1000;

export function graphiqlExamples(now = new Date()): GraphiqlExample[] {
  return [
    {
      query: `query Overview {
  indexingStatus { latestBlock { number timestamp } finalizedBlock { number } synced }
  payouts(first: 5) { edges { node { stream recipient amount usdValue timestamp finalized } } }
  stakingOverview { totalStaked stakerCount rewardRateBps apy }
  nodes(first: 5) { edges { node { address active reliability tasksCompleted totalEarned } } }
  revenueSummary { total { amount usdValue payoutCount } byStream { stream amount usdValue } }
}`,
    },
    {
      query: `query StakerDashboard($me: Address!) {
  account(address: $me) {
    balance
    escrow { balance escrowed }
    staker {
      staked unlockTime claimableReward claimableRevenueShare rewardsClaimed
      history(first: 10) { edges { node { action amount timestamp finalized } } }
    }
    payouts(first: 10, stream: STAKING_REWARD) { edges { node { amount usdValue timestamp } } }
  }
  stakingOverview { totalStaked rewardRateBps apy }
  indexingStatus { latestBlock { number timestamp } synced }
}`,
      variables: { me: userAccounts(1)[0]!.address },
    },
    {
      query: `query NodeEarnings($node: Address!, $from: DateTime!, $to: DateTime!) {
  node(address: $node) {
    active reliability tasksCompleted tasksFailed totalEarned
    earnings(interval: DAY, from: $from, to: $to) { bucketStart amount usdValue cumulativeAmount }
    tasks(first: 20, status: COMPLETED) { edges { node { id actualCost nodePayment performanceScore settledAt finalized } } }
    ratingHistory(first: 5) { edges { node { oldRating newRating reason timestamp } } }
  }
}`,
      variables: { node: nodeAddresses(1)[0], from: new Date(now.getTime() - 7 * DAY_MS).toISOString(), to: new Date(now.getTime() + DAY_MS).toISOString() },
    },
    {
      query: `query MonthlyRevenue {
  revenueSeries(interval: DAY, from: "2026-01-01T00:00:00+08:00", to: "2026-02-01T00:00:00+08:00", utcOffsetHours: 8) {
    bucketStart usdValue cumulativeUsdValue
    byStream { stream usdValue payoutCount }
  }
  revenueSummary(from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z") {
    total { amount usdValue payoutCount }
    byStream { stream amount usdValue }
    topNodes(limit: 10) { node { address owner reliability } amount usdValue }
  }
}`,
    },
    {
      query: `query ReadYourWrite($hash: Bytes32!) { transaction(hash: $hash) { indexed blockNumber finalized payouts { stream amount } } }`,
      variables: { hash: `0x${"0".repeat(64)}` },
    },
  ];
}

/** Yoga's GraphiQL settings, asked for each page load (the node's earnings: the last week, up to tomorrow). */
export const graphiqlOptions = (): GraphiQLOptions => ({
  title: "FAR data service",
  defaultTabs: graphiqlExamples().map(({ query, variables }) => ({ query, variables: variables && JSON.stringify(variables, null, 2) })),
});

const requireNative = createRequire(import.meta.url);
let renderer: typeof RenderGraphiQL | undefined;

/**
 * GraphiQL's page. Its renderer holds the whole GraphiQL bundle as one 17 MB string, so it is
 * loaded on the first page request, and through Node's own require: imported, inside Ponder it
 * would go through vite-node, which transforms it (hundreds of MB of garbage while starting)
 * and keeps it three times over (executed source, transformed code, source map): ~60 MB of
 * heap in every API process whether or not anyone opens GraphiQL (bench/README.md, "Issue 15:
 * memory of npm start").
 */
export function renderGraphiQL(options: GraphiQLOptions): string {
  renderer ??= (requireNative("@graphql-yoga/render-graphiql") as { renderGraphiQL: typeof RenderGraphiQL }).renderGraphiQL;
  return renderer(options);
}
