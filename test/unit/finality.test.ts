/** The chain's finality tags as common/finality.ts reads them: cached, never moving back, kept through RPC failures. */
import { BlockNotFoundError, HttpRequestError, type PublicClient } from "viem";
import { describe, expect, it } from "vitest";
import { createChainFinality } from "../../common/finality";
import { withChainFinality, type ChainProgress } from "../../domain/progress";

type Answer = { safe: number; finalized: number } | "no tags" | "down" | "stalled";

/** A chain whose tags answer whatever `answer` holds; counts the reads. */
function fakeChain(initial: Answer) {
  const state = { answer: initial, reads: 0 };
  const getBlock = (async ({ blockTag }: { blockTag: "safe" | "finalized" }) => {
    state.reads += 1;
    if (state.answer === "stalled") return new Promise(() => {});
    if (state.answer === "down") throw new HttpRequestError({ url: "http://fake-chain", details: "fetch failed" });
    if (state.answer === "no tags") throw new BlockNotFoundError({});
    const number = state.answer[blockTag];
    return { number: BigInt(number), timestamp: BigInt(1_000 + number) };
  }) as unknown as PublicClient["getBlock"];
  return { state, chain: { getBlock } };
}

const logger = { warn: () => {}, debug: () => {} };
const block = (number: number) => ({ number, timestamp: 1_000 + number });
const tick = () => new Promise((resolve) => setTimeout(resolve, 2));
/** A read once the refresh that a read starts has settled: reads answer the last settled refresh. */
const readAfterRefresh = async (finality: ReturnType<typeof createChainFinality>) => {
  await finality.read();
  await tick();
  return finality.read();
};

/** Finality that re-reads at every read (no TTL), having read the chain once at safe 9, finalized 8. */
async function followedChain() {
  const { state, chain } = fakeChain({ safe: 9, finalized: 8 });
  const finality = createChainFinality({ chain, logger, ttlMs: 0 });
  await finality.read();
  return { state, finality };
}

/** What finality answers once the chain it follows has started answering `answer`. */
async function answerAfter({ state, finality }: Awaited<ReturnType<typeof followedChain>>, answer: Answer) {
  state.answer = answer;
  await tick();
  return readAfterRefresh(finality);
}

describe("the chain's finality", () => {
  it("answers a finalized block's hash without waiting: undefined while read, then kept; a failed read is asked again", async () => {
    let down = true;
    let reads = 0;
    const getBlock = (async ({ blockNumber }: { blockNumber: bigint }) => {
      reads += 1;
      if (down) throw new HttpRequestError({ url: "http://fake-chain", details: "fetch failed" });
      return { number: blockNumber, hash: `0x${blockNumber.toString(16).padStart(64, "0")}` };
    }) as unknown as PublicClient["getBlock"];
    const finality = createChainFinality({ chain: { getBlock }, logger });
    expect(finality.finalizedHash(7)).toBeUndefined();
    await tick();
    expect(finality.finalizedHash(7)).toBeUndefined();
    down = false;
    await tick();
    expect(finality.finalizedHash(7)).toBeUndefined();
    await tick();
    expect(finality.finalizedHash(7)).toBe(`0x${"7".padStart(64, "0")}`);
    expect(finality.finalizedHash(7)).toBe(`0x${"7".padStart(64, "0")}`);
    expect(reads).toBe(3);
  });

  it("reads both tags, and reuses one answer for ttlMs", async () => {
    const { state, chain } = fakeChain({ safe: 9, finalized: 8 });
    const finality = createChainFinality({ chain, logger, ttlMs: 60_000 });
    expect(await finality.read()).toEqual({ safe: block(9), finalized: block(8) });
    state.answer = { safe: 20, finalized: 19 };
    expect(await finality.read()).toEqual({ safe: block(9), finalized: block(8) });
    expect(state.reads).toBe(2);
  });

  it("never moves back, whatever a lagging node answers", async () => {
    const followed = await followedChain();
    expect(await answerAfter(followed, { safe: 5, finalized: 7 })).toEqual({ safe: block(9), finalized: block(8) });
  });

  it("never says safe below finalized, though the two tags are two calls a busy RPC may answer blocks apart", async () => {
    const followed = await followedChain();
    expect(await answerAfter(followed, { safe: 5, finalized: 10 })).toEqual({ safe: block(10), finalized: block(10) });
  });

  it("keeps the last answer while the RPC fails, and follows the chain again once it answers", async () => {
    const followed = await followedChain();
    expect(await answerAfter(followed, "down")).toEqual({ safe: block(9), finalized: block(8) });
    expect(await answerAfter(followed, { safe: 12, finalized: 11 })).toEqual({ safe: block(12), finalized: block(11) });
  });

  it("never waits on a stalled RPC once the chain has answered: the last answer, at once", async () => {
    const { state, finality } = await followedChain();
    state.answer = "stalled";
    await tick();
    const reads = state.reads;
    expect(await finality.read()).toEqual({ safe: block(9), finalized: block(8) });
    expect(state.reads).toBeGreaterThan(reads);
  });

  it("is undefined for a chain without the tags, and while the RPC has never answered", async () => {
    expect(await createChainFinality({ chain: fakeChain("no tags").chain, logger }).read()).toBeUndefined();
    expect(await createChainFinality({ chain: fakeChain("down").chain, logger }).read()).toBeUndefined();
  });
});

describe("a progress with the chain's tags applied", () => {
  const progress: ChainProgress = { chainName: "bsc-local", chainId: 56, latest: block(100), safe: block(85), finalized: block(70) };

  it("follows the tags below the committed block", () => {
    expect(withChainFinality(progress, { safe: block(99), finalized: block(98) })).toEqual({ ...progress, safe: block(99), finalized: block(98), finality: "chain", finalizedByDepth: progress.finalized });
  });

  it("never runs ahead of the committed block", () => {
    expect(withChainFinality(progress, { safe: block(120), finalized: block(118) })).toMatchObject({ safe: block(100), finalized: block(100), finality: "chain" });
  });

  it("never falls behind the indexer's fixed depth, and is that depth without tags", () => {
    expect(withChainFinality(progress, { safe: block(50), finalized: undefined })).toMatchObject({ safe: block(85), finalized: block(70), finality: "chain" });
    expect(withChainFinality(progress, undefined)).toEqual({ ...progress, finality: "depth", finalizedByDepth: progress.finalized });
  });
});
