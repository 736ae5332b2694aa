/** Message parsing, pricing and the performance score: pure functions, no chain. */
import { describe, expect, it } from "vitest";
import { parseEther } from "viem";
import { parseMessage } from "../../oracle/message";
import { DEFAULT_MODELS, performanceScore, priceTask } from "../../oracle/pricing";
import { bumpedFees } from "../../oracle/txm/fees";

const good = {
  taskId: `0x${"ab".repeat(32)}`,
  node: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  model: "llama-70b",
  tokensGenerated: "2000000",
  status: "completed",
  uptime: "99",
  tokensPerSecond: "60",
  expectedTokensPerSecond: "50",
  accuracy: "0.95",
  reportedAt: "1700000000000",
  extra: "ignored",
};

describe("oracle message and pricing", () => {
  it("parses a good message into a settlement job, ignoring unknown fields", () => {
    const parsed = parseMessage(good, DEFAULT_MODELS);
    expect(parsed).toMatchObject({ ok: true, job: { operation: "completeTask", taskId: good.taskId, node: good.node.toLowerCase(), tokensGenerated: 2_000_000n } });
    expect(parseMessage({ ...good, status: "failed" }, DEFAULT_MODELS)).toMatchObject({ ok: true, job: { operation: "failTask" } });
  });

  it.each([
    ["missing_field", { ...good, taskId: undefined }],
    ["bad_task_id", { ...good, taskId: "0x12" }],
    ["bad_address", { ...good, node: "0x123" }],
    ["unknown_model", { ...good, model: "nope" }],
    ["bad_integer", { ...good, tokensGenerated: "1e6" }],
    ["negative_number", { ...good, tokensGenerated: "-1" }],
    ["bad_status", { ...good, status: "COMPLETED" }],
    ["uptime_out_of_range", { ...good, uptime: "100.5" }],
    ["accuracy_out_of_range", { ...good, accuracy: "2" }],
    ["bad_number", { ...good, accuracy: "high" }],
    ["bad_timestamp", { ...good, reportedAt: "soon" }],
    ["unknown_op", { op: "burn" }],
    ["rating_out_of_range", { op: "updateNodeRating", opId: "1", node: good.node, rating: "101" }],
  ])("rejects %s", (code, fields) => {
    const parsed = parseMessage(Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Record<string, string>, DEFAULT_MODELS);
    expect(parsed).toMatchObject({ ok: false, code });
    expect(parsed.ok === false && parsed.reason.length).toBeGreaterThan(5);
  });

  it("prices from the model table and caps at the escrow", () => {
    const model = DEFAULT_MODELS["llama-405b"]!;
    expect(priceTask({ model, tokensGenerated: 1_000_000n, escrow: parseEther("100") })).toBe(parseEther("15"));
    expect(priceTask({ model, tokensGenerated: 10_000_000n, escrow: parseEther("100") })).toBe(parseEther("100"));
  });

  it("scores as the spec, bounded to 0..100", () => {
    const metrics = { uptime: 100, tokensPerSecond: 80, expectedTokensPerSecond: 50, accuracy: 1 };
    expect(performanceScore({ reliability: 80n, metrics })).toBe(86);
    expect(performanceScore({ reliability: 100n, metrics })).toBe(100);
    expect(performanceScore({ reliability: 0n, metrics: { uptime: 0, tokensPerSecond: 0, expectedTokensPerSecond: 50, accuracy: 0 } })).toBe(0);
  });

  it("bumps both fee fields by at least 10%, and gives up at the cap", () => {
    const settings = { bumpPercent: 20, maxFee: 100n } as Parameters<typeof bumpedFees>[2];
    expect(bumpedFees({ maxFee: 50n, priorityFee: 10n }, { maxFee: 1n, priorityFee: 1n }, settings)).toEqual({ maxFee: 60n, priorityFee: 12n });
    expect(bumpedFees({ maxFee: 95n, priorityFee: 10n }, { maxFee: 1n, priorityFee: 1n }, settings)).toBeUndefined();
  });
});
