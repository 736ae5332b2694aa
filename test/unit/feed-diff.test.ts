/**
 * The feed's step on rows in memory: what a reorg of every shape, finality and catching up turn
 * into, and, over random histories, that the events a client applies rebuild the indexer's table.
 */
import { describe, expect, it } from "vitest";
import type { Hex } from "viem";
import { blocksWithRows, confirmedFinalized, confirmedHeights, diffStep, initialState, locate, stepWindow, type FeedReaderState, type FeedStep, type FinalityHeights, type LocatedRow } from "../../api/feed/diff";
import type { FeedChange, FeedRow } from "../../api/feed/messages";
import { seededRandom } from "../../common/random";

const ZERO = "0x0000000000000000000000000000000000000000" as const;

/** A payout row at `block`:`logIndex`; its id is its name. */
function payout(id: string, block: number, logIndex = 0, blockHash: `0x${string}` = "0x02"): LocatedRow {
  const row: FeedRow<"payout"> = { id, stream: "NODE_PAYMENT", recipient: ZERO, amount: 1n, usdValue: 1n, farUsdPrice: 1n, taskId: null, node: null, blockNumber: block, logIndex, timestamp: block, transactionHash: "0x01", blockHash };
  return locate("payout", row);
}

function staking(id: string, block: number, logIndex = 0): LocatedRow {
  const row: FeedRow<"staking"> = { id, staker: ZERO, action: "STAKE", amount: 1n, stakedAfter: 1n, blockNumber: block, logIndex, timestamp: block, transactionHash: "0x01", blockHash: "0x02" };
  return locate("staking", row);
}

/** A task as the table holds it: one row per task, at the position of its last update. */
function task(id: string, block: number, logIndex = 0): LocatedRow {
  const row: FeedRow<"task"> = {
    id: id as `0x${string}`, user: ZERO, node: null, status: "CREATED", failed: false, escrow: 1n, actualCost: null, nodePayment: null, stakerPayment: null,
    treasuryPayment: null, refund: null, performanceScore: null, createdAt: block, createdBlock: block, createdTx: "0x01", settledAt: null, settledBlock: null,
    settledLogIndex: null, settledTx: null, durationSeconds: null, updatedBlock: block, updatedBlockHash: "0x02", updatedLogIndex: logIndex,
  };
  return locate("task", row);
}

/** A change as one word: `ADDED p7`, `ADDED! p3` (already final), `RETRACTED p7`, `FINALIZED p7`. */
const word = (change: FeedChange) => `${change.action}${change.action === "ADDED" && change.finalized ? "!" : ""} ${change.key}`;

type Step = { heights: FinalityHeights; rows: LocatedRow[]; expect: string[] };
type Case = { name: string; start: { heights: FinalityHeights; rows: LocatedRow[] }; maxBlocksPerStep?: number; steps: Step[] };

/** Heights where the indexer's own depth is all the finality there is (no chain tag). */
const h = (latest: number, finalized: number, finalizedByDepth = finalized): FinalityHeights => ({ latest, finalized, finalizedByDepth });

const cases: Case[] = [
  {
    name: "nothing new: no changes, the same state",
    start: { heights: h(7, 5), rows: [payout("p6", 6), payout("p7", 7)] },
    steps: [{ heights: h(7, 5), rows: [payout("p6", 6), payout("p7", 7)], expect: [] }],
  },
  {
    name: "new blocks: ADDED in chain order, across topics",
    start: { heights: h(5, 3), rows: [] },
    steps: [{ heights: h(7, 3), rows: [payout("p7", 7, 1), staking("s7", 7, 1), task("0xt7", 7, 1), payout("p6", 6, 4)], expect: ["ADDED p6", "ADDED 0xt7@7:1", "ADDED s7", "ADDED p7"] }],
  },
  {
    name: "a reorg that ends shorter: what is past the new head is retracted, newest first",
    start: { heights: h(8, 5), rows: [payout("p6", 6), payout("p7", 7), payout("p8", 8)] },
    steps: [{ heights: h(6, 5), rows: [payout("p6", 6)], expect: ["RETRACTED p8", "RETRACTED p7"] }],
  },
  {
    name: "a reorg that ends shorter with new content",
    start: { heights: h(8, 5), rows: [payout("p6", 6), payout("p7", 7), payout("p8", 8)] },
    steps: [{ heights: h(7, 5), rows: [payout("p6", 6), payout("p7b", 7)], expect: ["RETRACTED p8", "RETRACTED p7", "ADDED p7b"] }],
  },
  {
    name: "a reorg that ends longer",
    start: { heights: h(7, 5), rows: [payout("p6", 6), payout("p7", 7)] },
    steps: [{ heights: h(9, 5), rows: [payout("p6", 6), payout("p7b", 7), payout("p8", 8), payout("p9", 9)], expect: ["RETRACTED p7", "ADDED p7b", "ADDED p8", "ADDED p9"] }],
  },
  {
    name: "a reorg that ends at the same height",
    start: { heights: h(7, 5), rows: [payout("p6", 6), staking("s7", 7), payout("p7", 7, 1)] },
    steps: [{ heights: h(7, 5), rows: [payout("p6", 6), payout("p7b", 7, 2)], expect: ["RETRACTED p7", "RETRACTED s7", "ADDED p7b"] }],
  },
  {
    name: "a reorg across the finality boundary: what became final is added final; at or below finality nothing is retracted",
    start: { heights: h(7, 5), rows: [payout("p5", 5), payout("p6", 6), payout("p7", 7)] },
    steps: [
      { heights: h(8, 6), rows: [payout("p5", 5), payout("p6b", 6), payout("p7b", 7), payout("p8", 8)], expect: ["RETRACTED p7", "RETRACTED p6", "ADDED! p6b", "ADDED p7b", "ADDED p8"] },
      // Rows at or below block 6 that differ now are not the feed's business any more.
      { heights: h(8, 8), rows: [payout("p5x", 5), payout("p6x", 6), payout("p7b", 7), payout("p8", 8)], expect: ["FINALIZED p7b", "FINALIZED p8"] },
      // Finality does not move back, even if the indexer's number did.
      { heights: h(8, 4), rows: [payout("p7b", 7), payout("p8", 8)], expect: [] },
    ],
  },
  {
    name: "catching up in bounded steps",
    start: { heights: h(0, 0), rows: [] },
    maxBlocksPerStep: 3,
    steps: [
      ...[
        ["ADDED! p1", "ADDED! p2", "ADDED! p3"],
        ["ADDED! p4", "ADDED p5", "ADDED p6"],
        ["ADDED p7", "ADDED p8", "ADDED p9"],
        ["ADDED p10"],
        [],
      ].map((expected) => ({ heights: h(10, 4), rows: Array.from({ length: 10 }, (_, index) => payout(`p${index + 1}`, index + 1)), expect: expected })),
    ],
  },
  {
    name: "finalization without new blocks: FINALIZED in chain order",
    start: { heights: h(9, 5), rows: [payout("p6", 6), task("0xt7", 7), payout("p8", 8), payout("p9", 9)] },
    steps: [{ heights: h(9, 8), rows: [payout("p6", 6), task("0xt7", 7), payout("p8", 8), payout("p9", 9)], expect: ["FINALIZED p6", "FINALIZED 0xt7@7:0", "FINALIZED p8"] }],
  },
  {
    name: "task rows are keyed by update position: an update after the last one was final is one ADDED",
    start: { heights: h(6, 5), rows: [task("0xt", 5)] },
    steps: [{ heights: h(7, 5), rows: [task("0xt", 7, 3)], expect: ["ADDED 0xt@7:3"] }],
  },
  {
    // The table keeps one row per task: an update that is not final yet is replaced by the next one.
    name: "task rows are keyed by update position: an update replaced before it was final is retracted",
    start: { heights: h(6, 5), rows: [task("0xt", 6)] },
    steps: [{ heights: h(7, 5), rows: [task("0xt", 7, 3)], expect: ["RETRACTED 0xt@6:0", "ADDED 0xt@7:3"] }],
  },
];

describe("the feed's step", () => {
  it.each(cases)("$name", ({ start, steps, maxBlocksPerStep = 5_000 }) => {
    let state = initialState(start.heights, start.rows);
    for (const step of steps) {
      const next = diffStep(state, step.heights, step.rows, maxBlocksPerStep);
      expect(next.changes.map(word)).toEqual(step.expect);
      if (step.expect.length === 0) expect(next.state).toBe(state);
      state = next.state;
    }
  });

  it("starts with what is committed above finality as announced and not final", () => {
    const state = initialState(h(7, 5), [payout("p5", 5), payout("p7", 7), payout("p6", 6), payout("p8", 8)]);
    expect(state).toMatchObject({ announcedBlock: 7, finalizedBlock: 5 });
    expect(state.pending.map(word)).toEqual(["ADDED p6", "ADDED p7"]);
  });
});

/**
 * A chain the indexer follows: blocks of rows, a finalized height, and the operations that change
 * them. A reorg replaces blocks above finality (fewer, as many, or more); the table is every row
 * of every block.
 */
function randomHistory(seed: number) {
  const random = seededRandom(seed);
  const blocks: LocatedRow[][] = [[]];
  let finalized = 0;
  let nextId = 0;
  const topics = [payout, staking, (id: string, block: number, logIndex: number) => task(`0x${id}`, block, logIndex)];
  const newBlock = (number: number) => Array.from({ length: random.int(4) }, (_, logIndex) => topics[random.int(3)]!(`r${nextId++}`, number, logIndex));
  const append = (count: number) => {
    for (let index = 0; index < count; index += 1) blocks.push(newBlock(blocks.length));
  };
  return {
    heights: (): FinalityHeights => h(blocks.length - 1, finalized),
    rows: () => blocks.flat(),
    finalRows: () => blocks.slice(0, finalized + 1).flat(),
    operate() {
      const latest = blocks.length - 1;
      const choice = random.next();
      if (choice < 0.5) append(1 + random.int(3));
      else if (choice < 0.75 && latest > finalized) {
        const depth = 1 + random.int(latest - finalized);
        blocks.length -= depth;
        append(depth - 1 + random.int(3));
      } else finalized = Math.min(latest, finalized + 1 + random.int(3));
    },
  };
}

/**
 * Plays a random history: `operations` changes, the feed stepping after some of them (it misses
 * commits: it steps when it gets to it, in bounded steps), then the history settles and the feed
 * steps until it has nothing left to announce. `apply` checks and applies each step's changes.
 */
function play(random: ReturnType<typeof seededRandom>, operations: number, history: { operate: () => void; settle?: () => void }, next: (state: FeedReaderState) => FeedStep, apply: (changes: FeedChange[]) => void, initial: FeedReaderState) {
  let state = initial;
  const step = () => {
    const result = next(state);
    apply(result.changes);
    const moved = result.state !== state;
    state = result.state;
    return moved;
  };
  for (let operation = 0; operation < operations; operation += 1) {
    history.operate();
    if (random.next() < 0.6) step();
  }
  history.settle?.();
  while (step());
}

describe("the feed's step over random histories", () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])("seed %i: the applied events are the table, final rows are final and never retracted", (seed) => {
    const history = randomHistory(seed);
    const random = seededRandom(seed * 7919);
    const maxBlocksPerStep = 1 + random.int(4);
    const live = new Set<string>();
    const final = new Set<string>();
    const apply = (changes: FeedChange[]) => {
      for (const change of changes) {
        if (change.action === "ADDED") {
          expect(live.has(change.key), `${change.key} added twice`).toBe(false);
          live.add(change.key);
          if (change.finalized) final.add(change.key);
        } else if (change.action === "RETRACTED") {
          expect(live.has(change.key) && !final.has(change.key), `${change.key} retracted while not live or final`).toBe(true);
          live.delete(change.key);
        } else {
          expect(live.has(change.key) && !final.has(change.key), `${change.key} finalized while not live or already final`).toBe(true);
          final.add(change.key);
        }
      }
    };
    play(random, 200, history, (state) => diffStep(state, history.heights(), history.rows(), maxBlocksPerStep), apply, initialState(history.heights(), history.rows()));
    expect([...live].sort()).toEqual(history.rows().map((row) => row.key).sort());
    expect([...final].sort()).toEqual(history.finalRows().map((row) => row.key).sort());
  });
});

describe("finality from the chain's tag, held to the fork the indexer read", () => {
  type Blocks = { number: number; indexedHash: Hex; chainHash: Hex | undefined }[];
  const cases: { name: string; from?: number; finalized: number; blocks: Blocks; expect: number; waiting?: boolean }[] = [
    { name: "no block with rows: where it was (an empty block proves nothing)", finalized: 9, blocks: [], expect: 3 },
    { name: "every hash the chain's: up to the last block with rows", finalized: 9, blocks: [{ number: 5, indexedHash: "0xa5", chainHash: "0xa5" }, { number: 8, indexedHash: "0xa8", chainHash: "0xa8" }], expect: 8 },
    { name: "a block from another fork: the last matching block below it", finalized: 9, blocks: [{ number: 5, indexedHash: "0xa5", chainHash: "0xa5" }, { number: 8, indexedHash: "0xa8", chainHash: "0xb8" }], expect: 5 },
    { name: "the first of two stale blocks: where it was", finalized: 9, blocks: [{ number: 6, indexedHash: "0xa6", chainHash: "0xb6" }, { number: 8, indexedHash: "0xa8", chainHash: "0xb8" }], expect: 3 },
    { name: "a hash not read yet: the last match below it, waiting", finalized: 9, blocks: [{ number: 5, indexedHash: "0xa5", chainHash: "0xa5" }, { number: 7, indexedHash: "0xa7", chainHash: undefined }], expect: 5, waiting: true },
    { name: "a stale block above the tag does not count", finalized: 6, blocks: [{ number: 5, indexedHash: "0xa5", chainHash: "0xa5" }, { number: 8, indexedHash: "0xa8", chainHash: "0xb8" }], expect: 5 },
    { name: "blocks at or below where it was are not looked at again", from: 5, finalized: 9, blocks: [{ number: 4, indexedHash: "0xa4", chainHash: "0xb4" }, { number: 7, indexedHash: "0xa7", chainHash: "0xa7" }], expect: 7 },
  ];
  for (const c of cases) it(c.name, () => expect(confirmedFinalized(c.from ?? 3, c.finalized, c.blocks)).toEqual({ finalized: c.expect, waiting: c.waiting ?? false }));

  it("lists each block with rows in the window once, in chain order, with its indexed hash", () => {
    const rows = [payout("p9", 9, 0, "0xa9"), payout("p5", 5, 1, "0xa5"), payout("q5", 5, 2, "0xa5"), payout("p2", 2, 0, "0xa2"), payout("p12", 12, 0, "0xac")];
    expect(blocksWithRows(rows, 2, 10)).toEqual([{ number: 5, indexedHash: "0xa5" }, { number: 9, indexedHash: "0xa9" }]);
  });

  /** One step of the reader: the chain's tag confirmed on the rows, then the diff. */
  const step = (state: FeedReaderState, heights: FinalityHeights, rows: LocatedRow[], chainHash: (block: number) => Hex | undefined, maxBlocksPerStep = 100) =>
    diffStep(state, confirmedHeights(state, heights, rows, stepWindow(state, heights, maxBlocksPerStep).upper, chainHash).heights, rows, maxBlocksPerStep);
  // The chain replaced block 5 (hash 0xa5, then 0xb5) and finalized the replacement; the indexer's own depth is at 3.
  const chainHash = (block: number) => (block === 5 ? "0xb5" : `0xa${block}`) as Hex;

  it("announces a payout the indexer read from a stale fork RETRACTED, never FINALIZED, once the chain finalized the height", () => {
    let state = initialState(h(5, 3), [payout("old", 5, 0, "0xa5")]);
    // The indexer has not seen the reorg yet: its block 5 is still the old one.
    let next = step(state, h(6, 6, 3), [payout("old", 5, 0, "0xa5")], chainHash);
    expect(next.changes.map(word)).toEqual([]);
    expect(next.state.finalizedBlock).toBe(3);
    state = next.state;
    // The indexer replaced block 5: the old payout goes, the new one comes, and it is final.
    next = step(state, h(7, 7, 3), [payout("new", 5, 0, "0xb5")], chainHash);
    expect(next.changes.map(word)).toEqual(["RETRACTED old", "ADDED! new"]);
  });

  it("does not finalize past a block the indexer reverted and has not re-indexed (its checkpoint still counts it)", () => {
    let state = initialState(h(5, 3), [payout("old", 5, 0, "0xa5")]);
    // Ponder's revert leaves its checkpoint at 5 while block 5's rows are gone; the chain's tag is past 5.
    let next = step(state, h(5, 5, 3), [], chainHash);
    expect(next.changes.map(word)).toEqual(["RETRACTED old"]);
    expect(next.state.finalizedBlock).toBe(3);
    state = next.state;
    next = step(state, h(6, 6, 3), [payout("new", 5, 0, "0xb5")], chainHash);
    expect(next.changes.map(word)).toEqual(["ADDED! new"]);
  });

  it("does not finalize an empty block the indexer holds from a stale fork where the chain's block has rows", () => {
    let state = initialState(h(5, 3), []);
    // The indexer's block 5 had no rows; the chain's replacement has a payout and is final.
    let next = step(state, h(6, 6, 3), [], chainHash);
    expect(next.state.finalizedBlock).toBe(3);
    state = next.state;
    next = step(state, h(6, 6, 3), [payout("new", 5, 0, "0xb5")], chainHash);
    expect(next.changes.map(word)).toEqual(["ADDED! new"]);
  });

  it("starts with only what the indexer's depth and the confirmed blocks make final", () => {
    const rows = [payout("p4", 4, 0, "0xa4"), payout("old", 5, 0, "0xa5"), payout("p6", 6, 0, "0xa6")];
    // The hash at 4 is the chain's; block 5 is stale: nothing from 5 on is final.
    const state = initialState(h(6, 6, 3), rows, chainHash);
    expect(state).toMatchObject({ announcedBlock: 6, finalizedBlock: 4 });
    expect(state.pending.map(word)).toEqual(["ADDED old", "ADDED p6"]);
  });
});

/**
 * A chain with its own finalized tag and an indexer that follows it late. The chain reorgs above
 * its tag; the indexer may still hold a fork the chain has left (below the tag too), reverts it
 * the way Ponder does (its rows go, its checkpoint stays where it was) and re-indexes the chain's
 * blocks later. Its own fixed-depth finality covers only blocks it shares with the chain's final part.
 */
function laggingIndexer(seed: number) {
  const random = seededRandom(seed);
  type Block = { hash: Hex; rows: LocatedRow[] };
  let nextId = 0;
  const newBlock = (number: number): Block => {
    const hash = `0x${(nextId++).toString(16)}` as Hex;
    return { hash, rows: Array.from({ length: random.int(3) }, (_, logIndex) => payout(`r${nextId++}`, number, logIndex, hash)) };
  };
  // Genesis has no rows: a feed starting at a height counts what is at or below it as announced.
  const chain: Block[] = [{ hash: "0x0", rows: [] }];
  let tag = 0;
  const indexed: Block[] = [chain[0]!];
  let checkpoint = 0;
  let byDepth = 0;
  /** The last height where the indexer holds the chain's block. */
  const shared = () => {
    let height = 0;
    while (height + 1 < indexed.length && indexed[height + 1] === chain[height + 1]) height += 1;
    return height;
  };
  const grow = (count: number) => {
    for (let index = 0; index < count; index += 1) chain.push(newBlock(chain.length));
  };
  const index = (count: number) => {
    if (shared() !== indexed.length - 1) return;
    indexed.push(...chain.slice(indexed.length, indexed.length + count));
    checkpoint = indexed.length - 1;
  };
  return {
    heights: (): FinalityHeights => ({ latest: checkpoint, finalized: Math.max(byDepth, Math.min(tag, checkpoint)), finalizedByDepth: byDepth }),
    rows: () => indexed.flatMap((block) => block.rows),
    chainHash: (number: number) => (number <= tag ? chain[number]?.hash : undefined),
    chainRows: () => chain.flatMap((block) => block.rows),
    finalRows: () => chain.slice(0, tag + 1).flatMap((block) => block.rows),
    operate() {
      const choice = random.next();
      if (choice < 0.3) grow(1 + random.int(3));
      else if (choice < 0.45 && chain.length - 1 > tag) {
        const depth = 1 + random.int(chain.length - 1 - tag);
        chain.length -= depth;
        grow(depth + random.int(3));
      } else if (choice < 0.6) tag = Math.min(chain.length - 1, tag + 1 + random.int(3));
      // Ponder's revert: the stale blocks' rows go, the checkpoint stays.
      else if (choice < 0.75) indexed.length = shared() + 1;
      else if (choice < 0.95) index(1 + random.int(3));
      else byDepth = Math.max(byDepth, Math.min(tag, shared()) - random.int(3));
    },
    /** The indexer catches up and the chain finalizes everything. */
    settle() {
      tag = chain.length - 1;
      indexed.length = shared() + 1;
      index(chain.length);
    },
  };
}

describe("the feed's step beside a lagging indexer and the chain's own finality", () => {
  it.each(Array.from({ length: 16 }, (_, index) => index + 1))("seed %i: nothing is final before the chain finalized it, and every row of the chain arrives", (seed) => {
    const history = laggingIndexer(seed);
    const random = seededRandom(seed * 104_729);
    const maxBlocksPerStep = 1 + random.int(4);
    const live = new Set<string>();
    const final = new Set<string>();
    const next = (state: FeedReaderState) => {
      const heights = history.heights();
      const rows = history.rows();
      const confirmed = confirmedHeights(state, heights, rows, stepWindow(state, heights, maxBlocksPerStep).upper, history.chainHash);
      return diffStep(state, confirmed.heights, rows, maxBlocksPerStep);
    };
    const apply = (changes: FeedChange[]) => {
      const finalOnChain = new Set(history.finalRows().map((row) => row.key));
      for (const change of changes) {
        expect(final.has(change.key), `${change.action} ${change.key} after it was final`).toBe(false);
        if (change.action === "RETRACTED") {
          expect(live.delete(change.key), `${change.key} retracted while not live`).toBe(true);
          continue;
        }
        if (change.action === "ADDED") live.add(change.key);
        else expect(live.has(change.key), `${change.key} finalized while not live`).toBe(true);
        if (change.finalized) {
          expect(finalOnChain.has(change.key), `${change.key} final before the chain finalized it`).toBe(true);
          final.add(change.key);
        }
      }
    };
    play(random, 400, history, next, apply, initialState(history.heights(), history.rows(), history.chainHash));
    const rows = history.chainRows().map((row) => row.key).sort();
    expect([...live].sort()).toEqual(rows);
    expect([...final].sort()).toEqual(rows);
  });
});
