/**
 * Payouts and the revenue buckets over them, priced in USD by the FAR/USD feed. One function,
 * `recordPayouts`, is the only writer of both, so buckets always sum to the payouts.
 */
import { ponder, type Context } from "ponder:registry";
import { nodeRevenueBucket, paymentSettings, payout, priceState, revenueBucket } from "ponder:schema";
import type { Address, Hex } from "viem";
import { bucketStart, STORED_INTERVALS } from "../domain/buckets";
import { logId, lower, positionOf, type ChainPosition } from "./context";

type PayoutInput = Pick<typeof payout.$inferInsert, "stream" | "recipient" | "amount" | "taskId" | "node">;
type IndexingContext = Pick<Context<"InferencePayment:TaskCompleted">, "db" | "client" | "contracts">;

/** The answer in force at this log: the last AnswerUpdated seen, or the feed read at this block. */
async function farUsdPrice(context: IndexingContext, position: ChainPosition) {
  const feed = lower(context.contracts.PriceFeed.address as Address);
  const known = await context.db.find(priceState, { feed });
  if (known) return known;
  const abi = context.contracts.PriceFeed.abi;
  const blockNumber = BigInt(position.blockNumber);
  const [[roundId, answer, , updatedAt], decimals] = await Promise.all([
    context.client.readContract({ abi, address: feed, functionName: "latestRoundData", blockNumber }),
    context.client.readContract({ abi, address: feed, functionName: "decimals", blockNumber }),
  ]);
  const row = { feed, answer, decimals, roundId: BigInt(roundId), updatedAt: Number(updatedAt), blockNumber: position.blockNumber };
  await context.db.insert(priceState).values(row);
  return row;
}

type BucketTotals = Pick<typeof revenueBucket.$inferSelect, "amount" | "usdValue" | "payoutCount">;

/** Totals per bucket key: payouts of one log that fall in the same bucket are added up first. */
function sumByBucket<Bucket extends BucketTotals>(buckets: Bucket[], keyOf: (bucket: Bucket) => string): Map<string, Bucket> {
  const sums = new Map<string, Bucket>();
  for (const bucket of buckets) {
    const key = keyOf(bucket);
    const sum = sums.get(key);
    sums.set(key, sum ? { ...sum, ...addTotals(sum, bucket) } : bucket);
  }
  return sums;
}

const addTotals = (row: BucketTotals, plus: BucketTotals): BucketTotals => ({
  amount: row.amount + plus.amount,
  usdValue: row.usdValue + plus.usdValue,
  payoutCount: row.payoutCount + plus.payoutCount,
});

const revenueKey = (bucket: Pick<typeof revenueBucket.$inferSelect, "interval" | "bucketStart" | "stream">) =>
  `${bucket.interval} ${bucket.bucketStart} ${bucket.stream}`;
const nodeRevenueKey = (bucket: Pick<typeof nodeRevenueBucket.$inferSelect, "interval" | "bucketStart" | "stream" | "node">) =>
  `${revenueKey(bucket)} ${bucket.node}`;

/**
 * Records the payouts of one log, all priced by the one answer in force there: looked up once
 * (not per payout), and only if some payout moves money. One store call per table, however many
 * payouts and buckets (a settlement's three payouts touch six buckets and six node buckets): each
 * call costs Ponder's store a lock, a copy and a round trip through the event loop, per call.
 */
export async function recordPayouts(context: IndexingContext, inputs: PayoutInput[], position: ChainPosition) {
  const paid = inputs.filter((input) => input.amount !== 0n);
  if (paid.length === 0) return;
  const price = await farUsdPrice(context, position);
  const priced = paid.map((input) => ({ ...input, usdValue: (input.amount * price.answer) / 10n ** BigInt(price.decimals) }));
  await context.db.insert(payout).values(priced.map((input) => ({ id: logId(position, input.stream), ...input, farUsdPrice: price.answer, ...position })));
  const added = priced.flatMap(({ stream, node, amount, usdValue }) =>
    STORED_INTERVALS.map((interval) => ({ interval, bucketStart: bucketStart(position.timestamp, interval), stream, node, amount, usdValue, payoutCount: 1 })),
  );
  const overall = sumByBucket(
    added.map(({ node: _node, ...bucket }) => bucket),
    revenueKey,
  );
  await context.db
    .insert(revenueBucket)
    .values([...overall.values()])
    .onConflictDoUpdate((row) => addTotals(row, overall.get(revenueKey(row))!));
  const byNode = sumByBucket(
    added.flatMap(({ node, ...bucket }) => (node ? [{ ...bucket, node }] : [])),
    nodeRevenueKey,
  );
  if (byNode.size === 0) return;
  await context.db
    .insert(nodeRevenueBucket)
    .values([...byNode.values()])
    .onConflictDoUpdate((row) => addTotals(row, byNode.get(nodeRevenueKey(row))!));
}

export async function treasuryOf(context: IndexingContext): Promise<Hex> {
  const contract = lower(context.contracts.InferencePayment.address as Address);
  const settings = await context.db.find(paymentSettings, { contract });
  if (settings) return settings.treasury;
  return lower(await context.client.readContract({ abi: context.contracts.InferencePayment.abi, address: contract, functionName: "treasury" }));
}

ponder.on("PriceFeed:AnswerUpdated", async ({ event, context }) => {
  const feed = lower(event.log.address);
  const position = positionOf(event);
  const known = await context.db.find(priceState, { feed });
  const decimals =
    known?.decimals ?? (await context.client.readContract({ abi: context.contracts.PriceFeed.abi, address: feed, functionName: "decimals" }));
  const row = { answer: event.args.current, decimals, roundId: event.args.roundId, updatedAt: Number(event.args.updatedAt), blockNumber: position.blockNumber };
  await context.db.insert(priceState).values({ feed, ...row }).onConflictDoUpdate(row);
});

ponder.on("InferencePayment:TreasuryUpdated", async ({ event, context }) => {
  const contract = lower(event.log.address);
  const treasury = lower(event.args.newTreasury);
  await context.db.insert(paymentSettings).values({ contract, treasury, taskTimeout: 0 }).onConflictDoUpdate({ treasury });
});

ponder.on("InferencePayment:TaskTimeoutUpdated", async ({ event, context }) => {
  const contract = lower(event.log.address);
  const taskTimeout = Number(event.args.newTimeout);
  const existing = await context.db.find(paymentSettings, { contract });
  const treasury = existing?.treasury ?? (await treasuryOf(context));
  await context.db.insert(paymentSettings).values({ contract, treasury, taskTimeout }).onConflictDoUpdate({ taskTimeout });
});
