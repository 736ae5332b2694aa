import { onchainEnum } from "ponder";

export const revenueStream = onchainEnum("revenue_stream", ["NODE_PAYMENT", "STAKER_SHARE", "TREASURY", "STAKING_REWARD"]);
export const taskStatus = onchainEnum("task_status", ["CREATED", "COMPLETED", "CANCELLED"]);
export const stakingAction = onchainEnum("staking_action", ["STAKE", "UNSTAKE", "REWARD_CLAIM", "REVENUE_SHARE_CLAIM"]);
export const bucketInterval = onchainEnum("bucket_interval", ["HOUR", "DAY"]);
export const ratingReason = onchainEnum("rating_reason", ["SETTLEMENT", "ORACLE"]);
