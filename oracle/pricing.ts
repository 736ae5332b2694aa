/**
 * What a finished task costs and how well its node did (spec §5.1, MODEL_REGISTRY and
 * update_node_score). Prices are FAR (18 decimals) per million generated tokens.
 */
import { parseEther } from "viem";

export type Model = { pricePer1MTokens: bigint; tokensPerSecond: number };
export type ModelTable = Record<string, Model>;

export const DEFAULT_MODELS: ModelTable = {
  "llama-70b": { pricePer1MTokens: parseEther("3"), tokensPerSecond: 50 },
  "mixtral-8x22b": { pricePer1MTokens: parseEther("5"), tokensPerSecond: 40 },
  "llama-405b": { pricePer1MTokens: parseEther("15"), tokensPerSecond: 30 },
};

const MAX_SCORE = 100;

/** The price of the work, never more than the user escrowed (the contract would revert). */
export function priceTask(parameters: { model: Model; tokensGenerated: bigint; escrow: bigint }): bigint {
  const cost = (parameters.tokensGenerated * parameters.model.pricePer1MTokens) / 1_000_000n;
  return cost < parameters.escrow ? cost : parameters.escrow;
}

export type NodeMetrics = {
  uptime: number;
  tokensPerSecond: number;
  expectedTokensPerSecond: number;
  accuracy: number;
};

/**
 * The spec's score: 70% of the node's standing reliability plus up to 10 points each for
 * uptime, speed against the model's expected speed (capped at 1) and accuracy; whole points in
 * 0..100 because the contract takes an integer score and reverts above 100.
 */
export function performanceScore(parameters: { reliability: bigint; metrics: NodeMetrics }): number {
  const { metrics } = parameters;
  const base = Math.min(Number(parameters.reliability), MAX_SCORE);
  const speed = Math.min(1, metrics.tokensPerSecond / metrics.expectedTokensPerSecond);
  const score = base * 0.7 + (metrics.uptime / 100) * 10 + speed * 10 + metrics.accuracy * 10;
  return Math.min(MAX_SCORE, Math.max(0, Math.round(score)));
}
