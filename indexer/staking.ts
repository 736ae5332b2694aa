/**
 * FARToken's staking: positions, the reward and revenue indices, claims, and the staking
 * history. Every stake, unstake and claim first accrues the holder on chain (the contract's
 * `_accrueHolder`); the handlers mirror it so that readers can compute `claimable` exactly.
 */
import { ponder } from "ponder:registry";
import { staker, stakingEvent } from "ponder:schema";
import type { Address } from "viem";
import { logId, lower, positionOf, type ChainPosition, type Db } from "./context";
import { recordPayouts } from "./revenue";
import { rewardPerTokenAt } from "../domain/staking";
import { updateTokenStats } from "./token";

type StakerRow = typeof staker.$inferSelect;
type StakingAction = (typeof stakingEvent.$inferSelect)["action"];

/**
 * The contract's `_accrueHolder`: settle the global reward index to now and stamp the holder's
 * paid indices. Amounts accrued come separately, from RewardsAccrued.
 */
async function accrueHolder(
  db: Db,
  token: Address,
  holder: Address,
  position: ChainPosition,
  change: (row: StakerRow) => Partial<StakerRow>,
): Promise<{ before: StakerRow | null; after: StakerRow }> {
  const stats = await updateTokenStats(db, token, position, (row) => ({
    rewardPerTokenStored: rewardPerTokenAt(row, position.timestamp),
    rewardUpdatedAt: position.timestamp,
  }));
  const before = await db.find(staker, { address: holder });
  const base: StakerRow = before ?? {
    address: holder,
    staked: 0n,
    unlockTime: 0,
    rewardsAccrued: 0n,
    rewardsClaimed: 0n,
    revenueShareAccrued: 0n,
    revenueShareClaimed: 0n,
    rewardPerTokenPaid: 0n,
    revenuePerTokenPaid: 0n,
    firstActionAt: position.timestamp,
    lastActionAt: position.timestamp,
    lastActionBlock: position.blockNumber,
  };
  const stamped = {
    ...base,
    rewardPerTokenPaid: stats.rewardPerTokenStored,
    revenuePerTokenPaid: stats.revenuePerToken,
    lastActionAt: position.timestamp,
    lastActionBlock: position.blockNumber,
  };
  const after = { ...stamped, ...change(stamped) };
  await db.insert(staker).values(after).onConflictDoUpdate(after);
  return { before, after };
}

async function recordAction(db: Db, holder: Address, action: StakingAction, amount: bigint, stakedAfter: bigint, position: ChainPosition) {
  await db.insert(stakingEvent).values({ id: logId(position), staker: holder, action, amount, stakedAfter, ...position });
}

async function changeStake(db: Db, token: Address, holder: Address, delta: bigint, fields: Partial<StakerRow>, position: ChainPosition) {
  const { before, after } = await accrueHolder(db, token, holder, position, (row) => ({ staked: row.staked + delta, ...fields }));
  const stakerDelta = Number(after.staked > 0n) - Number((before?.staked ?? 0n) > 0n);
  await updateTokenStats(db, token, position, (row) => ({
    totalStaked: row.totalStaked + delta,
    stakerCount: row.stakerCount + stakerDelta,
  }));
  return after;
}

ponder.on("FARToken:Staked", async ({ event, context }) => {
  const position = positionOf(event);
  const holder = lower(event.args.user);
  const after = await changeStake(context.db, lower(event.log.address), holder, event.args.amount, { unlockTime: Number(event.args.unlockTime) }, position);
  await recordAction(context.db, holder, "STAKE", event.args.amount, after.staked, position);
});

ponder.on("FARToken:Unstaked", async ({ event, context }) => {
  const position = positionOf(event);
  const holder = lower(event.args.user);
  const after = await changeStake(context.db, lower(event.log.address), holder, -event.args.amount, {}, position);
  await recordAction(context.db, holder, "UNSTAKE", event.args.amount, after.staked, position);
});

ponder.on("FARToken:RewardsAccrued", async ({ event, context }) => {
  await accrueHolder(context.db, lower(event.log.address), lower(event.args.user), positionOf(event), (row) => ({
    rewardsAccrued: row.rewardsAccrued + event.args.stakingReward,
    revenueShareAccrued: row.revenueShareAccrued + event.args.revenueShare,
  }));
});

ponder.on("FARToken:RewardsClaimed", async ({ event, context }) => {
  const position = positionOf(event);
  const token = lower(event.log.address);
  const holder = lower(event.args.user);
  const { amount } = event.args;
  const { after } = await accrueHolder(context.db, token, holder, position, (row) => ({ rewardsClaimed: row.rewardsClaimed + amount }));
  await updateTokenStats(context.db, token, position, (row) => ({ rewardsMinted: row.rewardsMinted + amount }));
  await recordAction(context.db, holder, "REWARD_CLAIM", amount, after.staked, position);
  await recordPayouts(context, [{ stream: "STAKING_REWARD", recipient: holder, amount, taskId: null, node: null }], position);
});

ponder.on("FARToken:RevenueShareClaimed", async ({ event, context }) => {
  const position = positionOf(event);
  const token = lower(event.log.address);
  const holder = lower(event.args.user);
  const { amount } = event.args;
  const { after } = await accrueHolder(context.db, token, holder, position, (row) => ({
    revenueShareClaimed: row.revenueShareClaimed + amount,
  }));
  await updateTokenStats(context.db, token, position, (row) => ({ revenueShareClaimed: row.revenueShareClaimed + amount }));
  await recordAction(context.db, holder, "REVENUE_SHARE_CLAIM", amount, after.staked, position);
});

ponder.on("FARToken:RevenueDistributed", async ({ event, context }) => {
  await updateTokenStats(context.db, lower(event.log.address), positionOf(event), (row) => ({
    revenuePerToken: event.args.revenuePerToken,
    revenueDistributed: row.revenueDistributed + event.args.amount,
  }));
});
