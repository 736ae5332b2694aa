/** The metric-name extraction the operators' rules test relies on (harness/promql.ts). */
import { describe, expect, it } from "vitest";
import { exposedMetrics, selectedMetrics } from "../../harness/promql";

describe("selectedMetrics", () => {
  it("finds selectors inside functions, aggregations and binary operations, and nothing else", () => {
    const expression = `sum by (job, le) (rate(graphql_errors_total{code=~"INTERNAL_SERVER_ERROR|FEED_UNAVAILABLE", job!="x"}[5m]))
      / on (job) group_left (instance) sum without (operation) (rate(graphql_requests_total[5m] offset 1h)) > bool 0.01`;
    expect(selectedMetrics(expression)).toEqual(["graphql_errors_total", "graphql_requests_total"]);
  });

  it("skips numbers, durations, keywords and Grafana's variables", () => {
    expect(selectedMetrics("oracle_signer_balance_wei / 1e18 < 0.1 and up{job=\"oracle\"} == 1 or vector(1) unless +Inf > NaN")).toEqual(["oracle_signer_balance_wei", "up"]);
    expect(selectedMetrics("histogram_quantile(0.95, sum by (le) (rate(graphql_request_duration_seconds_bucket{job=~\"$job\"}[$__rate_interval])))")).toEqual([
      "graphql_request_duration_seconds_bucket",
    ]);
    expect(selectedMetrics("x offset 15m unless changes(y[1h:5m]) > 3 * 86400")).toEqual(["x", "y"]);
  });

  it("ignores what strings say, even metric-like names", () => {
    expect(selectedMetrics(`label_replace(far_webhook_pending, "dst", "not_a_metric", "src", "(.*)")`)).toEqual(["far_webhook_pending"]);
  });
});

describe("exposedMetrics", () => {
  it("names every family its TYPE lines declare, with a histogram's series, samples or not", () => {
    const exposition = [
      "# HELP a_total A counter",
      "# TYPE a_total counter",
      "# TYPE h_seconds histogram",
      'h_seconds_bucket{le="+Inf"} 0',
      "# TYPE s summary",
      "# TYPE g gauge",
      "g 1",
      "untyped_sample 3",
    ].join("\n");
    expect([...exposedMetrics(exposition)].sort()).toEqual(["a_total", "g", "h_seconds", "h_seconds_bucket", "h_seconds_count", "h_seconds_sum", "s", "s_count", "s_sum"]);
  });
});
