import { index, onchainTable } from "ponder";
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
    rewardsAccrued: t.bigint().notNull(),
    rewardsClaimed: t.bigint().notNull(),
    revenueShareAccrued: t.bigint().notNull(),
    revenueShareClaimed: t.bigint().notNull(),
    rewardPerTokenPaid: t.bigint().notNull(),
    revenuePerTokenPaid: t.bigint().notNull(),
    firstActionAt: t.int8({ mode: "number" }).notNull(),
    lastActionAt: t.int8({ mode: "number" }).notNull(),
    lastActionBlock: t.int8({ mode: "number" }).notNull(),
  }),
  (table) => ({ stakedIdx: index().on(table.staked) }),
);

export const stakingEvent = onchainTable(
  "staking_event",
  (t) => ({
    id: t.text().primaryKey(),
    staker: t.hex().notNull(),
    action: stakingAction("action").notNull(),
    amount: t.bigint().notNull(),
    stakedAfter: t.bigint().notNull(),
    blockNumber: t.int8({ mode: "number" }).notNull(),
    logIndex: t.integer().notNull(),
    timestamp: t.int8({ mode: "number" }).notNull(),
    transactionHash: t.hex().notNull(),
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
  totalSupply: t.bigint().notNull(),
  totalStaked: t.bigint().notNull(),
  holderCount: t.integer().notNull(),
  stakerCount: t.integer().notNull(),
  rewardRate: t.bigint().notNull(),
  lockPeriod: t.int8({ mode: "number" }).notNull(),
  rewardPerTokenStored: t.bigint().notNull(),
  rewardUpdatedAt: t.int8({ mode: "number" }).notNull(),
  revenuePerToken: t.bigint().notNull(),
  revenueDistributed: t.bigint().notNull(),
  revenueShareClaimed: t.bigint().notNull(),
  rewardsMinted: t.bigint().notNull(),
  updatedBlock: t.int8({ mode: "number" }).notNull(),
  updatedAt: t.int8({ mode: "number" }).notNull(),
}));
