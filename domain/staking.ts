/**
 * FARToken's staking: its reward rate's units and its accrual arithmetic, so readers can answer
 * `claimable(user)` at any timestamp from indexed state alone. Integer operations in the
 * contract's order: results are exact.
 */
import { DAY } from "./buckets";

/** The reward rate is in basis points per year: 10 000 (the contract's `MAX_REWARD_RATE`) is 100 %. */
export const BASIS_POINTS = 10_000n;
/** The contract's year: 365 days, no leap days. */
export const DAYS_PER_YEAR = 365;
const YEAR = BigInt(DAYS_PER_YEAR * DAY);
const ACC_PRECISION = 10n ** 18n;

export type RewardIndexState = { rewardPerTokenStored: bigint; rewardUpdatedAt: number; rewardRate: bigint; revenuePerToken: bigint };
export type StakerAccrualState = {
  staked: bigint;
  rewardsAccrued: bigint;
  rewardsClaimed: bigint;
  revenueShareAccrued: bigint;
  revenueShareClaimed: bigint;
  rewardPerTokenPaid: bigint;
  revenuePerTokenPaid: bigint;
};

export function rewardPerTokenAt(state: RewardIndexState, timestamp: number): bigint {
  const elapsed = BigInt(Math.max(0, timestamp - state.rewardUpdatedAt));
  return state.rewardPerTokenStored + (state.rewardRate * elapsed * ACC_PRECISION) / (YEAR * BASIS_POINTS);
}

/** What `FARToken.claimable(user)` returns at `timestamp`: (staking reward, revenue share). */
export function claimableAt(staker: StakerAccrualState, state: RewardIndexState, timestamp: number) {
  const pendingReward = (staker.staked * (rewardPerTokenAt(state, timestamp) - staker.rewardPerTokenPaid)) / ACC_PRECISION;
  const pendingShare = (staker.staked * (state.revenuePerToken - staker.revenuePerTokenPaid)) / ACC_PRECISION;
  return {
    reward: staker.rewardsAccrued - staker.rewardsClaimed + pendingReward,
    revenueShare: staker.revenueShareAccrued - staker.revenueShareClaimed + pendingShare,
  };
}

