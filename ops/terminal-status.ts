/**
 * `npm start`'s live status, as text: pure functions from what was measured to what the
 * terminal shows (scripts/terminal.ts measures and draws). The panel is redrawn in place on a
 * terminal; elsewhere (a pipe, CI) one line is printed now and then.
 */

/** What the status shows, measured at `at` (ms since the epoch); a part left out was not measured. */
export type StatusSnapshot = {
  at: number;
  /** From the API's `indexingStatus`. */
  indexing?: { latestBlock: number; finalizedBlock: number; headBlock: number | null; lagBlocks: number | null; lagSeconds: number; synced: boolean };
  /** Why the API could not be read, when it could not. */
  apiError?: string;
  payoutsPerMinute?: number;
  settledPerMinute?: number;
  subscribers?: number;
  warnings: number;
  lastWarning?: string;
  /** Where the processes' logs are written. */
  logDir: string;
};

export type Sample = { at: number; value: number };

/** Rates are measured over the last minute. */
const RATE_WINDOW_MS = 60_000;
/** Below this span a rate is noise (two samples a moment apart). */
const MIN_RATE_SPAN_MS = 5_000;

/**
 * Per minute, from a running count's samples (oldest first) over the last `windowMs`; undefined
 * until they span long enough. A count that went down (a reorg retracted payouts) counts as no change.
 */
export function ratePerMinute(samples: readonly Sample[], windowMs = RATE_WINDOW_MS): number | undefined {
  const last = samples.at(-1);
  if (!last) return undefined;
  const first = samples.find((sample) => sample.at >= last.at - windowMs)!;
  const span = last.at - first.at;
  if (span < MIN_RATE_SPAN_MS) return undefined;
  return (Math.max(0, last.value - first.value) * 60_000) / span;
}

/** The samples still needed for `ratePerMinute`: the window's and the one just before it. */
export function keepWindow(samples: readonly Sample[], now: number, windowMs = RATE_WINDOW_MS): Sample[] {
  const inside = samples.findIndex((sample) => sample.at >= now - windowMs);
  return inside < 0 ? [] : samples.slice(inside);
}

/** The sum of a metric's samples (every label set) in Prometheus' text format; undefined when absent. */
export function metricSum(text: string, name: string): number | undefined {
  let sum: number | undefined;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name) || !/^[{ ]/.test(line.slice(name.length, name.length + 1))) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (Number.isFinite(value)) sum = (sum ?? 0) + value;
  }
  return sum;
}

/** ESC [ … letter: colours and cursor moves, which a log line may carry. */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, "g");

/**
 * Whether a log line is a warning or an error: a pino JSON line (ours, and Ponder's in JSON
 * mode) at level 40 or above, or a line of Ponder's pretty format (`12:00:00.000 WARN  …`).
 */
export function isWarning(line: string): boolean {
  const plain = line.replace(ANSI, "").trim();
  if (plain.startsWith("{")) {
    try {
      const level = (JSON.parse(plain) as { level?: unknown }).level;
      return typeof level === "number" && level >= 40;
    } catch {
      return false;
    }
  }
  return /^\S+ +(WARN|ERROR)\b/.test(plain);
}

/** What the status panel quotes of a warning: a JSON line's level and message, any other line as it is. */
export function warningText(line: string): string {
  const plain = line.replace(ANSI, "").trim();
  if (!plain.startsWith("{")) return plain;
  try {
    const { level, msg } = JSON.parse(plain) as { level?: unknown; msg?: unknown };
    const label = typeof level !== "number" ? "?" : level >= 50 ? "ERROR" : level >= 40 ? "WARN" : "INFO";
    return `${label} ${typeof msg === "string" ? msg : plain}`;
  } catch {
    return plain;
  }
}

const rate = (perMinute: number | undefined, what: string) =>
  perMinute === undefined ? `… ${what}/min` : `${perMinute < 10 ? perMinute.toFixed(1) : Math.round(perMinute)} ${what}/min`;

const clock = (at: number) => new Date(at).toISOString().slice(11, 19);

const plural = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

function indexed(snapshot: StatusSnapshot): string {
  const { indexing, apiError } = snapshot;
  if (!indexing) return `waiting for the API${apiError ? ` (${apiError})` : ""}`;
  const head = indexing.headBlock === null ? "head unknown" : `${indexing.lagBlocks} behind the head ${indexing.headBlock}`;
  return `block ${indexing.latestBlock}, ${head}, ${indexing.lagSeconds} s old, ${indexing.synced ? "synced" : "NOT synced"}`;
}

function finality(snapshot: StatusSnapshot): string {
  const { indexing } = snapshot;
  if (!indexing) return "…";
  return `finalized block ${indexing.finalizedBlock} (${indexing.latestBlock - indexing.finalizedBlock} below the indexed one)`;
}

const traffic = (snapshot: StatusSnapshot) =>
  `${rate(snapshot.payoutsPerMinute, "payouts")}, ${rate(snapshot.settledPerMinute, "tasks settled")}, ${snapshot.subscribers === undefined ? "… subscribers" : plural(snapshot.subscribers, "subscriber")}`;

const warnings = (snapshot: StatusSnapshot) => (snapshot.warnings === 0 ? "none" : `${snapshot.warnings}, the last: ${snapshot.lastWarning ?? "?"}`);

/** Cut to the terminal's width, so that a redraw never wraps (a wrapped line would scroll the panel). */
const fit = (line: string, width: number) => (line.length <= width ? line : `${line.slice(0, Math.max(0, width - 1))}…`);

/** The panel drawn in place under the banner, one line per concern. */
export function renderStatus(snapshot: StatusSnapshot, width = 100): string[] {
  return [
    "── live status ──",
    `  indexed    ${indexed(snapshot)}`,
    `  finality   ${finality(snapshot)}`,
    `  traffic    ${traffic(snapshot)}`,
    `  warnings   ${warnings(snapshot)}`,
    `  logs       ${snapshot.logDir} (npm start -- --verbose shows them here)`,
    // Last: a redraw rewrites only the lines that changed, from the first one that did.
    `  at         ${clock(snapshot.at)} UTC`,
  ].map((line) => fit(line, width));
}

/** The same in one line, printed every so often where the output is not a terminal. */
export function statusLine(snapshot: StatusSnapshot): string {
  const { indexing } = snapshot;
  const where = indexing ? `block ${indexing.latestBlock} (${indexing.lagBlocks ?? "?"} behind), finalized ${indexing.finalizedBlock}, ${indexing.synced ? "synced" : "not synced"}` : indexed(snapshot);
  return `status: ${where}; ${traffic(snapshot)}; ${plural(snapshot.warnings, "warning")}`;
}
