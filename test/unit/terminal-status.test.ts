/** npm start's live status as text (ops/terminal-status.ts): rates, metrics, warnings, the panel and the line. */
import { describe, expect, it } from "vitest";
import { isWarning, keepWindow, metricSum, ratePerMinute, renderStatus, statusLine, warningText, type Sample, type StatusSnapshot } from "../../ops/terminal-status";

const AT = Date.parse("2026-12-03T07:00:05Z");
const samples = (...pairs: [seconds: number, value: number][]): Sample[] => pairs.map(([seconds, value]) => ({ at: AT + seconds * 1000, value }));

describe("rates per minute", () => {
  it.each<[string, Sample[], number | undefined]>([
    ["no sample", [], undefined],
    ["one sample", samples([0, 5]), undefined],
    ["samples a moment apart", samples([0, 5], [2, 9]), undefined],
    ["10 more in 30 s", samples([0, 5], [30, 15]), 20],
    ["only the last minute counts", samples([-120, 0], [-60, 100], [0, 130]), 30],
    ["an older sample than the window is left out", samples([-61, 0], [-30, 100], [0, 130]), 60],
    ["a count that went down (a reorg) is no traffic", samples([0, 10], [30, 8]), 0],
  ])("%s", (_what, given, expected) => {
    expect(ratePerMinute(given)).toBe(expected);
  });

  it.each<[string, Sample[], number]>([
    ["keeps the window", samples([-90, 1], [-60, 2], [-10, 3]), 2],
    ["drops everything older", samples([-90, 1], [-70, 2]), 0],
  ])("keepWindow %s", (_what, given, kept) => {
    expect(keepWindow(given, AT)).toHaveLength(kept);
  });
});

describe("a metric from Prometheus' text", () => {
  const text = [
    "# HELP graphql_feed_subscribers Subscribers",
    "# TYPE graphql_feed_subscribers gauge",
    'graphql_feed_subscribers{topic="payouts"} 3',
    'graphql_feed_subscribers{topic="tasks"} 2',
    "graphql_feed_subscribers_extra 100",
    "graphql_feed_groups 4",
  ].join("\n");
  it.each<[string, number | undefined]>([
    ["graphql_feed_subscribers", 5],
    ["graphql_feed_groups", 4],
    ["graphql_feed", undefined],
    ["absent_metric", undefined],
  ])("%s", (name, expected) => {
    expect(metricSum(text, name)).toBe(expected);
  });
});

describe("warnings in log lines", () => {
  it.each<[string, string, boolean, string]>([
    ["pino info", '{"level":30,"msg":"transaction confirmed"}', false, "INFO transaction confirmed"],
    ["pino warn", '{"level":40,"msg":"RPC slow","pid":1}', true, "WARN RPC slow"],
    ["pino error", '{"level":50,"msg":"settlement failed"}', true, "ERROR settlement failed"],
    ["Ponder's INFO", "07:00:01.123 INFO  Indexed block chain=anvil number=12", false, "07:00:01.123 INFO  Indexed block chain=anvil number=12"],
    ["Ponder's WARN", "07:00:01.123 WARN  Failed to fetch latest block", true, "07:00:01.123 WARN  Failed to fetch latest block"],
    ["Ponder's ERROR, coloured", "\u001b[2m07:00:01.123\u001b[22m \u001b[31mERROR\u001b[39m Failed to index block", true, "07:00:01.123 ERROR Failed to index block"],
    ["a word WARN later in a line", "07:00:01.123 INFO  a WARN inside", false, "07:00:01.123 INFO  a WARN inside"],
    ["broken JSON", '{"level":50', false, '{"level":50'],
    ["anvil's output", "eth_blockNumber", false, "eth_blockNumber"],
  ])("%s", (_what, line, warning, text) => {
    expect(isWarning(line)).toBe(warning);
    expect(warningText(line)).toBe(text);
  });
});

const base: StatusSnapshot = { at: AT, warnings: 0, logDir: ".data/logs" };
const indexing = { latestBlock: 1234, finalizedBlock: 1204, headBlock: 1235, lagBlocks: 1, lagSeconds: 2, synced: true };

describe("the panel and the line", () => {
  it.each<[string, StatusSnapshot, string[], string]>([
    [
      "before the API answers",
      { ...base, apiError: "fetch failed" },
      [
        "── live status ──",
        "  indexed    waiting for the API (fetch failed)",
        "  finality   …",
        "  traffic    … payouts/min, … tasks settled/min, … subscribers",
        "  warnings   none",
        "  logs       .data/logs (npm start -- --verbose shows them here)",
        "  at         07:00:05 UTC",
      ],
      "status: waiting for the API (fetch failed); … payouts/min, … tasks settled/min, … subscribers; 0 warnings",
    ],
    [
      "running",
      { ...base, indexing, payoutsPerMinute: 42.4, settledPerMinute: 3.25, subscribers: 1, warnings: 2, lastWarning: "oracle: WARN RPC slow" },
      [
        "── live status ──",
        "  indexed    block 1234, 1 behind the head 1235, 2 s old, synced",
        "  finality   finalized block 1204 (30 below the indexed one)",
        "  traffic    42 payouts/min, 3.3 tasks settled/min, 1 subscriber",
        "  warnings   2, the last: oracle: WARN RPC slow",
        "  logs       .data/logs (npm start -- --verbose shows them here)",
        "  at         07:00:05 UTC",
      ],
      "status: block 1234 (1 behind), finalized 1204, synced; 42 payouts/min, 3.3 tasks settled/min, 1 subscriber; 2 warnings",
    ],
    [
      "lagging, head unknown",
      { ...base, indexing: { ...indexing, headBlock: null, lagBlocks: null, synced: false }, payoutsPerMinute: 0, settledPerMinute: 0, subscribers: 0, warnings: 1, lastWarning: "ponder: x" },
      [
        "── live status ──",
        "  indexed    block 1234, head unknown, 2 s old, NOT synced",
        "  finality   finalized block 1204 (30 below the indexed one)",
        "  traffic    0.0 payouts/min, 0.0 tasks settled/min, 0 subscribers",
        "  warnings   1, the last: ponder: x",
        "  logs       .data/logs (npm start -- --verbose shows them here)",
        "  at         07:00:05 UTC",
      ],
      "status: block 1234 (? behind), finalized 1204, not synced; 0.0 payouts/min, 0.0 tasks settled/min, 0 subscribers; 1 warning",
    ],
  ])("%s", (_what, snapshot, panel, line) => {
    expect(renderStatus(snapshot)).toEqual(panel);
    expect(statusLine(snapshot)).toBe(line);
  });

  it("cuts lines to the terminal's width, so a redraw never wraps", () => {
    const lines = renderStatus({ ...base, warnings: 1, lastWarning: `oracle: ${"x".repeat(300)}` }, 40);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(40);
    expect(lines[4]).toMatch(/…$/);
  });
});
