import { index, onchainTable } from "ponder";
import { bigints, integers, lastUpdate, logPosition, numbers } from "./columns";
import { stakingAction } from "./enums";

/**
 * One row per staker. `rewardsAccrued`/`revenueShareAccrued` grow at each on-chain accrual
 * (RewardsAccrued); the paid indices let readers compute what accrued since, exactly as the
 * contract's `claimable` view does.
 */
export const staker = onchainTable(
  "staker",
  (t) => ({
    address: t.hex().primaryKey(),
    staked: t.bigint().notNull(),
    unlockTime: t.int8({ mode: "number" }).notNull(),
    ...bigints(t, "rewardsAccrued", "rewardsClaimed", "revenueShareAccrued", "revenueShareClaimed", "rewardPerTokenPaid", "revenuePerTokenPaid"),
    ...numbers(t, "firstActionAt", "lastActionAt", "lastActionBlock"),
  }),
  (table) => ({ stakedIdx: index().on(table.staked) }),
);

export const stakingEvent = onchainTable(
  "staking_event",
  (t) => ({
    id: t.text().primaryKey(),
    staker: t.hex().notNull(),
    action: stakingAction("action").notNull(),
    ...bigints(t, "amount", "stakedAfter"),
    ...logPosition(t),
  }),
  (table) => ({
    stakerIdx: index().on(table.staker, table.blockNumber, table.logIndex),
    positionIdx: index().on(table.blockNumber, table.logIndex),
    txIdx: index().on(table.transactionHash),
  }),
);

/** The token's global state: one row keyed by the token's address. */
export const tokenStats = onchainTable("token_stats", (t) => ({
  token: t.hex().primaryKey(),
  ...bigints(t, "totalSupply", "totalStaked"),
  ...integers(t, "holderCount", "stakerCount"),
  rewardRate: t.bigint().notNull(),
  lockPeriod: t.int8({ mode: "number" }).notNull(),
  rewardPerTokenStored: t.bigint().notNull(),
  rewardUpdatedAt: t.int8({ mode: "number" }).notNull(),
  ...bigints(t, "revenuePerToken", "revenueDistributed", "revenueShareClaimed", "rewardsMinted"),
  ...lastUpdate(t),
}));
