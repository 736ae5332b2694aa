/**
 * The metric names a PromQL expression selects, and the names a `/metrics` page exposes: what
 * the operators' rules and dashboard read, held against what the services serve. Not a PromQL
 * parser: it removes what holds no metric name (strings, label matchers, ranges, grouping label
 * lists, Grafana's `$variables`, numbers and durations) and keeps the identifiers that are neither
 * a function call nor a keyword. And where promtool, which checks them, is.
 */
import { existsSync } from "node:fs";

/** Prometheus's rule checker, from Debian's `prometheus` package (.ci/run installs it). */
export const PROMTOOL_PATH = "/usr/bin/promtool";
export const hasPromtool = existsSync(PROMTOOL_PATH);

const KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "inf", "nan", "atan2"]);

/** Every metric name `expression` selects, sorted, each once. */
export function selectedMetrics(expression: string): string[] {
  const stripped = expression
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, " ")
    .replace(/\$\{[^}]*\}|\$\w+/g, " ")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, " ");
  const names = new Set<string>();
  // Not inside a number or duration (the `e16` of `5e16`, the `m` of `15m`).
  for (const found of stripped.matchAll(/(?<![\w.:])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const [, name, call] = found;
    if (call || KEYWORDS.has(name!.toLowerCase())) continue;
    names.add(name!);
  }
  return [...names].sort();
}

/**
 * The sample names a Prometheus text exposition can carry: each family its `# TYPE` line
 * declares (present with no sample yet, as a labelled metric before its first observation), with
 * a histogram's `_bucket`, `_sum` and `_count` and a summary's `_sum` and `_count`.
 */
export function exposedMetrics(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${name}${suffix}`);
    if (type === "summary") for (const suffix of ["_sum", "_count"]) names.add(`${name}${suffix}`);
  }
  return names;
}
