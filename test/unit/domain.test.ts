/**
 * The domain module both the indexer and the API read: bucket alignment in any UTC offset,
 * FARToken's accrual arithmetic to the wei, Ponder's checkpoint strings and task ids, each
 * checked against the contracts' sources or Ponder's own encoder rather than against itself.
 */
import { readFileSync } from "node:fs";
import { concat, getAddress, keccak256, pad, toHex, type Address, type Hex } from "viem";
import { describe, expect, it } from "vitest";
import { bucketStart, DAY, HOUR, INTERVAL_SECONDS, type Interval } from "../../domain/buckets";
import { decodeCheckpoint, progressOf, readProgress } from "../../domain/progress";
import { BASIS_POINTS, claimableAt, DAYS_PER_YEAR, rewardPerTokenAt, type RewardIndexState, type StakerAccrualState } from "../../domain/staking";
import { INDEXED_TASK_STATUSES, TASK_STATUSES, taskIdOf, taskSalt } from "../../domain/tasks";
import { seededRandom } from "../../common/random";

/** Ponder's own encoder, which its package does not export (so it is loaded by path, typed from its declarations): the strings decodeCheckpoint must read. */
const { encodeCheckpoint } = (await import(`${"../../node_modules/ponder/dist/esm/utils/checkpoint.js"}`)) as typeof import("../../node_modules/ponder/dist/types/utils/checkpoint");

const at = (iso: string) => Date.parse(iso) / 1000;
const contract = (name: string) => readFileSync(`contracts/src/${name}.sol`, "utf8");

/** [what, time, offset hours, the start of its bucket], per interval. */
const BUCKET_CASES: Record<Interval, [string, string, number, string][]> = {
  HOUR: [
    ["an hour", "2025-01-31T10:59:59Z", 0, "2025-01-31T10:00:00Z"],
    ["an hour's first second is its own start", "2025-01-31T10:00:00Z", 0, "2025-01-31T10:00:00Z"],
    ["an hour ignores whole-hour offsets", "2025-01-31T10:30:00Z", 9, "2025-01-31T10:00:00Z"],
    ["before the epoch, rounded down, not towards zero", "1969-12-31T23:30:00Z", 0, "1969-12-31T23:00:00Z"],
  ],
  DAY: [
    ["a UTC day", "2025-01-31T23:59:59Z", 0, "2025-01-31T00:00:00Z"],
    ["a day east of UTC starts the evening before", "2025-01-31T10:00:00Z", 9, "2025-01-30T15:00:00Z"],
    ["east of UTC, from local midnight on", "2025-01-31T15:00:00Z", 9, "2025-01-31T15:00:00Z"],
    ["UTC+14, the first zone into a day", "2025-01-31T09:59:59Z", 14, "2025-01-30T10:00:00Z"],
    ["UTC-12, the last zone into a day", "2025-01-31T11:59:59Z", -12, "2025-01-30T12:00:00Z"],
  ],
  WEEK: [
    ["a week starts on Monday (2025-01-31 is a Friday)", "2025-01-31T12:00:00Z", 0, "2025-01-27T00:00:00Z"],
    ["a Sunday belongs to the week before", "2025-01-26T23:59:59Z", 0, "2025-01-20T00:00:00Z"],
    ["Sunday in UTC is Monday at UTC+14", "2025-01-26T12:00:00Z", 14, "2025-01-26T10:00:00Z"],
    ["Monday in UTC is still Sunday at UTC-5", "2025-01-27T03:00:00Z", -5, "2025-01-20T05:00:00Z"],
    ["the epoch's week began on Monday 1969-12-29", "1970-01-01T00:00:00Z", 0, "1969-12-29T00:00:00Z"],
  ],
};

describe("bucketStart", () => {
  it.each(Object.entries(BUCKET_CASES).flatMap(([interval, rows]) => rows.map((row) => [row[0], interval as Interval, ...row.slice(1)] as [string, Interval, string, number, string])))(
    "%s",
    (_what, interval, time, offsetHours, expected) => {
      expect(new Date(bucketStart(at(time), interval, offsetHours * HOUR) * 1000).toISOString()).toBe(new Date(at(expected) * 1000).toISOString());
    },
  );

  it("holds its time, starts at local midnight (Monday for weeks) and is the same for every time in it", () => {
    const random = seededRandom(14);
    for (let i = 0; i < 2_000; i++) {
      const time = random.int(4_000_000_000) - 1_000_000_000;
      const interval = random.pick(["HOUR", "DAY", "WEEK"] as const)!;
      const offset = (random.int(27) - 12) * HOUR;
      const start = bucketStart(time, interval, offset);
      const size = INTERVAL_SECONDS[interval];
      expect(start).toBeLessThanOrEqual(time);
      expect(time).toBeLessThan(start + size);
      const local = new Date((start + (interval === "HOUR" ? 0 : offset)) * 1000);
      expect([local.getUTCMinutes(), local.getUTCSeconds()]).toEqual([0, 0]);
      if (interval !== "HOUR") expect(local.getUTCHours()).toBe(0);
      if (interval === "WEEK") expect(local.getUTCDay()).toBe(1);
      expect(bucketStart(start + random.int(size), interval, offset)).toBe(start);
    }
  });

  it("sizes buckets in seconds", () => {
    expect(INTERVAL_SECONDS).toEqual({ HOUR: 3600, DAY: 86_400, WEEK: 604_800 });
    expect([DAY, HOUR]).toEqual([86_400, 3600]);
  });
});

describe("staking maths", () => {
  const YEAR = DAYS_PER_YEAR * DAY;
  const E18 = 10n ** 18n;
  const index = (rewardRate: bigint, overrides: Partial<RewardIndexState> = {}): RewardIndexState => ({
    rewardPerTokenStored: 0n,
    rewardUpdatedAt: 1_000,
    rewardRate,
    revenuePerToken: 0n,
    ...overrides,
  });
  const NOTHING_ACCRUED = { rewardsAccrued: 0n, rewardsClaimed: 0n, revenueShareAccrued: 0n, revenueShareClaimed: 0n, rewardPerTokenPaid: 0n, revenuePerTokenPaid: 0n };
  const staker = (staked: bigint, overrides: Partial<StakerAccrualState> = {}): StakerAccrualState => ({ staked, ...NOTHING_ACCRUED, ...overrides });

  it("has the contract's units: a year of 365 days, rates in basis points up to MAX_REWARD_RATE", () => {
    const source = contract("FARToken");
    expect(BASIS_POINTS).toBe(10_000n);
    expect(source).toContain("MAX_REWARD_RATE = 10_000;");
    expect(DAYS_PER_YEAR).toBe(365);
    expect(source).toContain("YEAR = 365 days;");
    expect(source).toContain("(rewardRate * (block.timestamp - rewardUpdatedAt) * ACC_PRECISION) / (YEAR * MAX_REWARD_RATE)");
  });

  it.each<[string, RewardIndexState, number, bigint]>([
    // [what, index, seconds after rewardUpdatedAt, reward per token (1e18 = one FAR per staked FAR)]
    ["100 % for a year: one FAR per FAR", index(10_000n), YEAR, E18],
    ["5 % for half a year", index(500n), YEAR / 2, 25_000_000_000_000_000n],
    ["10 % for a day", index(1_000n), DAY, 273_972_602_739_726n],
    ["1 bp for one second, rounded down", index(1n), 1, 3_170_979n],
    ["no time, nothing new", index(1_000n), 0, 0n],
    ["a time before the last update accrues nothing (never negative)", index(1_000n), -DAY, 0n],
    ["on top of what is stored", index(10_000n, { rewardPerTokenStored: 7n }), YEAR, E18 + 7n],
    ["rate zero", index(0n), YEAR, 0n],
  ])("reward per token: %s", (_what, state, elapsed, expected) => {
    expect(rewardPerTokenAt(state, state.rewardUpdatedAt + elapsed)).toBe(expected);
  });

  it.each<[string, StakerAccrualState, RewardIndexState, number, { reward: bigint; revenueShare: bigint }]>([
    // [what, staker, index, seconds after rewardUpdatedAt, claimable]
    ["100 FAR at 10 % for a year", staker(100n * E18), index(1_000n), YEAR, { reward: 10n * E18, revenueShare: 0n }],
    ["paid up to the current index: nothing pending", staker(100n * E18, { rewardPerTokenPaid: E18 }), index(10_000n), YEAR, { reward: 0n, revenueShare: 0n }],
    ["accrued minus claimed, plus pending", staker(E18, { rewardsAccrued: 50n, rewardsClaimed: 20n }), index(10_000n), YEAR, { reward: E18 + 30n, revenueShare: 0n }],
    ["a dust stake earns nothing", staker(3n), index(1n), 1, { reward: 0n, revenueShare: 0n }],
    // The contract rounds the index down before multiplying by the stake: 1,000 × 3,170,979, not 1e21 / 315,360,000,000 = 3,170,979,198.
    ["1,000 FAR at 1 bp for a second: the index is rounded first", staker(1_000n * E18), index(1n), 1, { reward: 3_170_979_000n, revenueShare: 0n }],
    [
      "revenue share: the index moved since the staker's last accrual",
      staker(2n * E18, { revenuePerTokenPaid: E18, revenueShareAccrued: 5n, revenueShareClaimed: 1n }),
      index(0n, { revenuePerToken: 3n * E18 }),
      YEAR,
      { reward: 0n, revenueShare: 4n * E18 + 4n },
    ],
    ["nothing staked: only what was accrued", staker(0n, { rewardsAccrued: 9n, revenueShareAccrued: 8n }), index(10_000n, { revenuePerToken: E18 }), YEAR, { reward: 9n, revenueShare: 8n }],
  ])("claimable: %s", (_what, account, state, elapsed, expected) => {
    expect(claimableAt(account, state, state.rewardUpdatedAt + elapsed)).toEqual(expected);
  });
});

describe("indexing progress", () => {
  const point = (blockTimestamp: number, blockNumber: number, chainId = 31337) =>
    encodeCheckpoint({ blockTimestamp: BigInt(blockTimestamp), chainId: BigInt(chainId), blockNumber: BigInt(blockNumber), transactionIndex: 7n, eventType: 5, eventIndex: 3n });

  it.each([
    // [what, timestamp, block number, chain id]
    ["a local chain", 1_700_000_000, 42, 31337],
    ["block zero at time zero", 0, 0, 1],
    ["the largest block and chain id that fit", 9_999_999_999, 9_007_199_254_740_991, 9_007_199_254_740_991],
    ["BSC", 1_738_000_000, 46_000_000, 56],
  ])("decodes Ponder's encoding: %s", (_what, timestamp, number, chainId) => {
    expect(decodeCheckpoint(point(timestamp, number, chainId))).toEqual({ timestamp, number });
  });

  it("reads each chain's latest, safe and finalized points from its row, whichever driver's column names", async () => {
    const row = { chain_name: "anvil", chain_id: "31337", latest_checkpoint: point(300, 30), safe_checkpoint: point(200, 20), finalized_checkpoint: point(100, 10) };
    const queries: string[] = [];
    const progress = await readProgress(async (sql) => (queries.push(sql), [row]));
    expect(progress).toEqual([
      { chainName: "anvil", chainId: 31337, latest: { number: 30, timestamp: 300 }, safe: { number: 20, timestamp: 200 }, finalized: { number: 10, timestamp: 100 } },
    ]);
    expect(queries).toHaveLength(1);
    expect(progressOf({ chainName: "bsc", chainId: 56, latestCheckpoint: point(9, 3), safeCheckpoint: point(8, 2), finalizedCheckpoint: point(7, 1) })).toMatchObject({
      latest: { number: 3 },
      safe: { number: 2 },
      finalized: { number: 1, timestamp: 7 },
    });
  });
});

describe("tasks", () => {
  const creator: Address = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";

  it.each<[string, Hex]>([
    ["a zero salt", pad("0x", { size: 32 })],
    ["a labelled salt", taskSalt("sim:run:1")],
    ["an all-ones salt", `0x${"ff".repeat(32)}`],
  ])("derives ids as keccak256(abi.encode(creator, salt)): %s", (_what, salt) => {
    // abi.encode of (address, bytes32): the address left-padded to a 32-byte word, then the salt.
    expect(taskIdOf(creator, salt)).toBe(keccak256(concat([pad(creator, { size: 32 }), salt])));
    expect(taskIdOf(getAddress(creator), salt)).toBe(taskIdOf(creator, salt));
  });

  it("gives different creators or salts different ids, and salts from labels", () => {
    const salt = taskSalt("a");
    expect(salt).toBe(keccak256(toHex("a")));
    expect(taskIdOf(creator, salt)).not.toBe(taskIdOf("0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc", salt));
    expect(taskIdOf(creator, salt)).not.toBe(taskIdOf(creator, taskSalt("b")));
    expect(contract("InferencePayment")).toContain("return keccak256(abi.encode(creator, salt));");
  });

  it("lists the statuses in InferencePayment.TaskStatus's order, and indexes all but NONE", () => {
    const declared = /enum TaskStatus \{([^}]*)\}/.exec(contract("InferencePayment"))![1]!.split(",").map((name) => name.trim().toUpperCase());
    expect(TASK_STATUSES).toEqual(declared);
    expect(INDEXED_TASK_STATUSES).toEqual(TASK_STATUSES.filter((status) => status !== "NONE"));
  });
});
