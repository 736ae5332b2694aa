/** What a task costs and how its node scores (oracle/pricing.ts), at the edges: rounding, caps and bounds. */
import { parseEther } from "viem";
import { describe, expect, it } from "vitest";
import { DEFAULT_MODELS, performanceScore, priceTask, type Model, type NodeMetrics } from "../../oracle/pricing";

const model = (pricePer1MTokens: bigint): Model => ({ pricePer1MTokens, tokensPerSecond: 50 });
const PLENTY = parseEther("1000000");

describe("priceTask", () => {
  it.each<[string, Model, bigint, bigint, bigint]>([
    // [what, model, tokens generated, escrow, price]
    ["a million tokens at the listed price", DEFAULT_MODELS["llama-70b"]!, 1_000_000n, PLENTY, parseEther("3")],
    ["one token: a millionth of the price", DEFAULT_MODELS["llama-70b"]!, 1n, PLENTY, 3_000_000_000_000n],
    ["the largest model", DEFAULT_MODELS["llama-405b"]!, 2_500_000n, PLENTY, parseEther("37.5")],
    ["nothing generated costs nothing", DEFAULT_MODELS["mixtral-8x22b"]!, 0n, PLENTY, 0n],
    ["rounded down to the wei, never up (999,999.999999)", model(1_000_001n), 999_999n, PLENTY, 999_999n],
    ["less than a wei is free", model(1n), 999_999n, PLENTY, 0n],
    ["exactly the escrow", model(parseEther("2")), 1_000_000n, parseEther("2"), parseEther("2")],
    ["one wei over the escrow: the escrow", model(parseEther("2") + 1n), 1_000_000n, parseEther("2"), parseEther("2")],
    ["no escrow: nothing", DEFAULT_MODELS["llama-70b"]!, 1_000_000n, 0n, 0n],
    ["far beyond 2^64 tokens, capped by the escrow", DEFAULT_MODELS["llama-405b"]!, 10n ** 30n, PLENTY, PLENTY],
  ])("%s", (_what, priced, tokensGenerated, escrow, expected) => {
    expect(priceTask({ model: priced, tokensGenerated, escrow })).toBe(expected);
  });

  it("lists each default model with a price in FAR per million tokens and its expected speed", () => {
    expect(DEFAULT_MODELS).toEqual({
      "llama-70b": { pricePer1MTokens: 3n * 10n ** 18n, tokensPerSecond: 50 },
      "mixtral-8x22b": { pricePer1MTokens: 5n * 10n ** 18n, tokensPerSecond: 40 },
      "llama-405b": { pricePer1MTokens: 15n * 10n ** 18n, tokensPerSecond: 30 },
    });
  });
});

describe("performanceScore", () => {
  const perfect: NodeMetrics = { uptime: 100, tokensPerSecond: 50, expectedTokensPerSecond: 50, accuracy: 1 };

  it.each<[string, bigint, NodeMetrics, number]>([
    // [what, reliability, metrics, score]: 0.7 × reliability + 10 × (uptime/100 + speed + accuracy)
    ["a perfect run at the initial reliability", 80n, perfect, 86],
    ["a perfect run at full reliability", 100n, perfect, 100],
    ["a perfect run from nothing", 0n, perfect, 30],
    ["reliability above 100 counts as 100", 250n, perfect, 100],
    ["reliability past 2^64 still counts as 100", 2n ** 70n, perfect, 100],
    ["half of everything", 80n, { uptime: 50, tokensPerSecond: 25, expectedTokensPerSecond: 50, accuracy: 0.5 }, 71],
    ["faster than expected earns no more than expected", 80n, { ...perfect, tokensPerSecond: 5_000 }, 86],
    ["no tokens per second", 80n, { ...perfect, tokensPerSecond: 0 }, 76],
    ["nothing at all", 0n, { uptime: 0, tokensPerSecond: 0, expectedTokensPerSecond: 50, accuracy: 0 }, 0],
    ["rounded to a whole point, up (56.7)", 81n, { uptime: 0, tokensPerSecond: 0, expectedTokensPerSecond: 50, accuracy: 0 }, 57],
    ["rounded to a whole point, down (57.4)", 82n, { uptime: 0, tokensPerSecond: 0, expectedTokensPerSecond: 50, accuracy: 0 }, 57],
    ["a speed ratio rounded with the rest", 50n, { uptime: 99, tokensPerSecond: 33, expectedTokensPerSecond: 40, accuracy: 0.95 }, 63],
  ])("%s", (_what, reliability, metrics, expected) => {
    const score = performanceScore({ reliability, metrics });
    expect(score).toBe(expected);
    expect(Number.isInteger(score)).toBe(true);
  });
});
