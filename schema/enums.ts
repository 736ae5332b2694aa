import { onchainEnum } from "ponder";
import { STORED_INTERVALS } from "../domain/buckets";
import { INDEXED_TASK_STATUSES } from "../domain/tasks";

export const revenueStream = onchainEnum("revenue_stream", ["NODE_PAYMENT", "STAKER_SHARE", "TREASURY", "STAKING_REWARD"]);
export const taskStatus = onchainEnum("task_status", INDEXED_TASK_STATUSES);
export const stakingAction = onchainEnum("staking_action", ["STAKE", "UNSTAKE", "REWARD_CLAIM", "REVENUE_SHARE_CLAIM"]);
export const bucketInterval = onchainEnum("bucket_interval", STORED_INTERVALS);
export const ratingReason = onchainEnum("rating_reason", ["SETTLEMENT", "ORACLE"]);
