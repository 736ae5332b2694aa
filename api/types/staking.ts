/** Staking: positions with what they can claim now, their history, and the token's totals. */
import { staker, stakingEvent } from "../../schema";
import { BASIS_POINTS, claimableAt, DAYS_PER_YEAR } from "../../domain/staking";
import { builder } from "../builder";
import type { ApiContext } from "../context";
import { ApiError } from "../errors";
import { loadTokenStats } from "../loaders";
import { loadPage, paginate, sortedBy } from "../pagination";
import {
  AccountRef,
  StakerConnection,
  StakerRef,
  StakingActionEnum,
  StakingChangeConnection,
  StakingChangeRef,
  StakingOverviewRef,
  logFields,
  pageArgs,
  rowByKeyField,
  type StakerRow,
} from "./refs";

const historyNewestFirst = sortedBy("staking:position", "desc", stakingEvent.blockNumber, stakingEvent.logIndex);

const STAKER_ORDERINGS = {
  STAKED_DESC: staker.staked,
  REWARDS_CLAIMED_DESC: staker.rewardsClaimed,
  LAST_ACTION_DESC: staker.lastActionAt,
} as const;

const StakerOrder = builder.enumType("StakerOrder", { values: Object.keys(STAKER_ORDERINGS) as (keyof typeof STAKER_ORDERINGS)[] });

/**
 * What `FARToken.claimable(staker)` returns at the latest indexed block: computed from the
 * indexed accrual state with the contract's own integer arithmetic.
 */
async function claimable(row: StakerRow, context: ApiContext) {
  const [stats, status] = await Promise.all([loadTokenStats(context), context.status()]);
  if (!stats) return { reward: 0n, revenueShare: 0n };
  return claimableAt(row, stats, status.latest.timestamp);
}

StakingChangeRef.implement({
  description: "A stake, unstake or claim.",
  fields: (t) => ({
    id: t.exposeID("id"),
    staker: t.expose("staker", { type: "Address" }),
    action: t.field({ type: StakingActionEnum, resolve: (row) => row.action }),
    amount: t.expose("amount", { type: "BigInt" }),
    stakedAfter: t.expose("stakedAfter", { type: "BigInt" }),
    ...logFields(t),
  }),
});

StakerRef.implement({
  description: "A staking position, as FARToken's views report it.",
  fields: (t) => ({
    address: t.expose("address", { type: "Address" }),
    account: t.field({ type: AccountRef, resolve: (row) => ({ address: row.address }) }),
    staked: t.expose("staked", { type: "BigInt", description: "`stakingBalance(staker)`." }),
    unlockTime: t.expose("unlockTime", { type: "DateTime", description: "When the stake may be withdrawn." }),
    rewardsClaimed: t.expose("rewardsClaimed", { type: "BigInt" }),
    revenueShareClaimed: t.expose("revenueShareClaimed", { type: "BigInt" }),
    claimableReward: t.field({
      type: "BigInt",
      description: "The staking reward `claimable(staker)` reports at the latest indexed block.",
      resolve: async (row, _args, context) => (await claimable(row, context)).reward,
    }),
    claimableRevenueShare: t.field({
      type: "BigInt",
      description: "The revenue share `claimable(staker)` reports at the latest indexed block.",
      resolve: async (row, _args, context) => (await claimable(row, context)).revenueShare,
    }),
    firstActionAt: t.expose("firstActionAt", { type: "DateTime" }),
    lastActionAt: t.expose("lastActionAt", { type: "DateTime" }),
    history: t.field({
      type: StakingChangeConnection,
      args: pageArgs,
      resolve: (row, args, context) =>
        loadPage(context, { table: stakingEvent, group: stakingEvent.staker, key: row.address, ordering: historyNewestFirst, args, cacheKey: "" }),
    }),
  }),
});

StakingOverviewRef.implement({
  fields: (t) => ({
    totalStaked: t.expose("totalStaked", { type: "BigInt" }),
    totalSupply: t.expose("totalSupply", { type: "BigInt" }),
    stakerCount: t.exposeInt("stakerCount", { description: "Addresses with a non-zero stake." }),
    holderCount: t.exposeInt("holderCount", { description: "Addresses with a non-zero FAR balance." }),
    rewardRateBps: t.int({ description: "The staking reward rate, basis points per year.", resolve: (row) => Number(row.rewardRate) }),
    apr: t.float({ description: "The reward rate as a yearly fraction (0.05 = 5 %), without compounding.", resolve: (row) => Number(row.rewardRate) / Number(BASIS_POINTS) }),
    apy: t.float({
      description: "The yearly yield if rewards are claimed and restaked daily. Excludes the revenue share, which depends on usage.",
      resolve: (row) => (1 + Number(row.rewardRate) / Number(BASIS_POINTS) / DAYS_PER_YEAR) ** DAYS_PER_YEAR - 1,
    }),
    lockPeriodSeconds: t.exposeInt("lockPeriod"),
    rewardsPaid: t.expose("rewardsMinted", { type: "BigInt", description: "Staking rewards claimed (minted) so far." }),
    revenueShareDistributed: t.expose("revenueDistributed", { type: "BigInt", description: "Task revenue credited to stakers so far." }),
    revenueShareClaimed: t.expose("revenueShareClaimed", { type: "BigInt" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

rowByKeyField("staker", StakerRef, staker, staker.address, { name: "address", type: "Address" });

builder.queryFields((t) => ({
  stakers: t.field({
    type: StakerConnection,
    description: "Everyone who ever staked; STAKED_DESC is the leaderboard.",
    args: { ...pageArgs, orderBy: t.arg({ type: StakerOrder, required: true, defaultValue: "STAKED_DESC" }) },
    resolve: (_root, { orderBy, ...args }, context) =>
      paginate(context, { table: staker, ordering: sortedBy(`staker:${orderBy}`, "desc", STAKER_ORDERINGS[orderBy], staker.address), args }),
  }),
  stakingOverview: t.field({
    type: StakingOverviewRef,
    resolve: async (_root, _args, context) => {
      const stats = await loadTokenStats(context);
      if (!stats) throw new ApiError("INDEXER_NOT_READY", "The token's first events are not indexed yet");
      return stats;
    },
  }),
}));
