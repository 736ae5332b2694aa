/** FARToken's ERC-20 side and its parameters: balances, supply, holders, rate, lock period. */
import { ponder } from "ponder:registry";
import { account, tokenStats } from "ponder:schema";
import { zeroAddress, type Address } from "viem";
import { lower, positionOf, type ChainPosition, type Db } from "./context";
import { rewardPerTokenAt } from "../domain/staking";

type TokenStatsRow = typeof tokenStats.$inferSelect;

/**
 * One upsert: `change` applies to the stored row, or to zeroed stats for the first event (it is
 * called for both, so it must be pure). The row exists from the token's constructor events on;
 * the zeroed stats only cover a later start.
 */
export async function updateTokenStats(
  db: Db,
  token: Address,
  position: ChainPosition,
  change: (row: TokenStatsRow) => Partial<TokenStatsRow>,
): Promise<TokenStatsRow> {
  const updated = { updatedBlock: position.blockNumber, updatedAt: position.timestamp };
  const zeroed: TokenStatsRow = {
    token,
    totalSupply: 0n,
    totalStaked: 0n,
    holderCount: 0,
    stakerCount: 0,
    rewardRate: 0n,
    lockPeriod: 0,
    rewardPerTokenStored: 0n,
    rewardUpdatedAt: position.timestamp,
    revenuePerToken: 0n,
    revenueDistributed: 0n,
    revenueShareClaimed: 0n,
    rewardsMinted: 0n,
    ...updated,
  };
  return db
    .insert(tokenStats)
    .values({ ...zeroed, ...change(zeroed), ...updated })
    .onConflictDoUpdate((row) => ({ ...change(row), ...updated }));
}

/**
 * Applies each holder's delta to their balance, in one upsert for all of them (a transfer moves
 * two), and returns how the holder count changes. Adding to the stored row, not a find then a
 * write: a holder's balance before is the balance after minus the delta (zero for a new holder).
 */
async function moveBalances(db: Db, deltas: Map<Address, bigint>, position: ChainPosition): Promise<number> {
  if (deltas.size === 0) return 0;
  const updated = { updatedBlock: position.blockNumber, updatedAt: position.timestamp };
  const after = await db
    .insert(account)
    .values([...deltas].map(([address, delta]) => ({ address, balance: delta, firstSeenBlock: position.blockNumber, ...updated })))
    .onConflictDoUpdate((row) => ({ balance: row.balance + deltas.get(row.address)!, ...updated }));
  return after.reduce((holders, { address, balance }) => holders + Number(balance > 0n) - Number(balance - deltas.get(address)! > 0n), 0);
}

ponder.on("FARToken:Transfer", async ({ event, context }) => {
  const position = positionOf(event);
  const from = lower(event.args.from);
  const to = lower(event.args.to);
  const { value } = event.args;
  // A transfer to oneself nets to zero on the one row.
  const deltas = new Map<Address, bigint>();
  if (from !== zeroAddress) deltas.set(from, -value);
  if (to !== zeroAddress) deltas.set(to, (deltas.get(to) ?? 0n) + value);
  const holders = await moveBalances(context.db, deltas, position);
  const supplyDelta = (from === zeroAddress ? value : 0n) - (to === zeroAddress ? value : 0n);
  if (holders !== 0 || supplyDelta !== 0n) {
    await updateTokenStats(context.db, lower(event.log.address), position, (row) => ({
      holderCount: row.holderCount + holders,
      totalSupply: row.totalSupply + supplyDelta,
    }));
  }
});

ponder.on("FARToken:RewardRateUpdated", async ({ event, context }) => {
  const position = positionOf(event);
  await updateTokenStats(context.db, lower(event.log.address), position, (row) => ({
    // The contract settles the index at the old rate before switching.
    rewardPerTokenStored: rewardPerTokenAt(row, position.timestamp),
    rewardUpdatedAt: position.timestamp,
    rewardRate: event.args.newRate,
  }));
});

ponder.on("FARToken:LockPeriodUpdated", async ({ event, context }) => {
  await updateTokenStats(context.db, lower(event.log.address), positionOf(event), () => ({
    lockPeriod: Number(event.args.newPeriod),
  }));
});
