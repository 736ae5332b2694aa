/**
 * The events the indexer handles, as one list shared by the history generator (what it counts),
 * the empty-handler Ponder project (what it registers) and the raw baseline (what it fetches), so
 * the three compare the same logs. The runner checks the list against indexer/*.ts.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { toEventSelector, type Abi, type AbiEvent, type Hex } from "viem";
import { farTokenAbi, inferencePaymentAbi, mockPriceFeedAbi } from "../../abis";

const HANDLED_EVENTS = {
  FARToken: [
    "Transfer",
    "RewardRateUpdated",
    "LockPeriodUpdated",
    "Staked",
    "Unstaked",
    "RewardsAccrued",
    "RewardsClaimed",
    "RevenueShareClaimed",
    "RevenueDistributed",
  ],
  InferencePayment: [
    "Deposited",
    "Withdrawn",
    "NodeRegistered",
    "NodeDeactivated",
    "NodeRatingUpdated",
    "TreasuryUpdated",
    "TaskTimeoutUpdated",
    "TaskCreated",
    "TaskCompleted",
    "TaskCancelled",
  ],
  PriceFeed: ["AnswerUpdated"],
} as const;

type IndexedContract = keyof typeof HANDLED_EVENTS;

const ABIS: Record<IndexedContract, Abi> = { FARToken: farTokenAbi, InferencePayment: inferencePaymentAbi, PriceFeed: mockPriceFeedAbi };

/** `Contract:Event` names, the form `ponder.on` takes. */
export const handledEventNames: string[] = Object.entries(HANDLED_EVENTS).flatMap(([contract, events]) =>
  events.map((event) => `${contract}:${event}`),
);

/** topic0 → `Contract:Event` for every handled event. */
export function handledTopics(): Map<Hex, string> {
  const topics = new Map<Hex, string>();
  for (const [contract, events] of Object.entries(HANDLED_EVENTS) as [IndexedContract, readonly string[]][]) {
    for (const name of events) {
      const item = ABIS[contract].find((entry): entry is AbiEvent => entry.type === "event" && entry.name === name);
      if (!item) throw new Error(`${contract} has no event ${name} in abis/`);
      topics.set(toEventSelector(item), `${contract}:${name}`);
    }
  }
  return topics;
}

/** The `ponder.on("…")` registrations in indexer/: the list above must be exactly these. */
export function registeredByIndexer(indexerDir: string): string[] {
  const names = new Set<string>();
  for (const file of readdirSync(indexerDir).filter((name) => name.endsWith(".ts"))) {
    for (const match of readFileSync(join(indexerDir, file), "utf8").matchAll(/ponder\.on\(\s*"([^"]+)"/g)) names.add(match[1]!);
  }
  return [...names].sort();
}
