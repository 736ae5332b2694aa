/**
 * What `npm start` shows, and where the rest goes: each process's output in its own file under
 * DATA_DIR/logs (written there directly by Ponder and anvil, through pino by the oracle and the
 * simulator), followed from those files so that warnings and errors still reach the terminal,
 * and a live status (ops/terminal-status.ts) measured from the API's public endpoints and the
 * oracle's own counters: redrawn in place on a terminal, one line every STATUS_INTERVAL_MS
 * elsewhere (a pipe, CI). Verbose, every line of every file is streamed as well, as before
 * there were files, and no panel is drawn.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { createLogUpdate } from "log-update";
import { post } from "../harness/graphql";
import { isWarning, keepWindow, metricSum, ratePerMinute, renderStatus, statusLine, warningText, type Sample, type StatusSnapshot } from "../ops/terminal-status";

type LogName = "anvil" | "ponder" | "oracle" | "simulator";

/** How often a log file is read for new lines; the pause between two measures of the status. */
const FOLLOW_MS = 250;
const MEASURE_MS = 2_000;
/**
 * Only a safety net: a measure waits for its answers (one at a time), since a request given up
 * on a busy machine would be logged by the API as a failure, a warning of our own making.
 */
const MEASURE_TIMEOUT_MS = 60_000;
/** At most this much of a file is read per look, so a burst cannot hold the event loop. */
const READ_CHUNK = 256 * 1024;

const STATUS_QUERY = `{ indexingStatus { latestBlock { number } finalizedBlock { number } headBlock lagBlocks lagSeconds synced } revenueSummary { total { payoutCount } } }`;
type StatusData = {
  indexingStatus: { latestBlock: { number: number }; finalizedBlock: { number: number }; headBlock: number | null; lagBlocks: number | null; lagSeconds: number; synced: boolean };
  revenueSummary: { total: { payoutCount: number } };
};

/** Calls `onLine` with each complete line appended to `path` from now on; `look` reads what is there now. */
function follow(path: string, onLine: (line: string) => void) {
  const fd = openSync(path, "r");
  const decoder = new StringDecoder("utf8");
  const buffer = Buffer.alloc(READ_CHUNK);
  let position = 0;
  let partial = "";
  const look = () => {
    const bytes = readSync(fd, buffer, 0, buffer.length, position);
    if (bytes === 0) return;
    position += bytes;
    const lines = (partial + decoder.write(buffer.subarray(0, bytes))).split("\n");
    partial = lines.pop()!;
    for (const line of lines) if (line.trim()) onLine(line);
  };
  const timer = setInterval(look, FOLLOW_MS);
  timer.unref();
  return {
    look,
    close() {
      clearInterval(timer);
      closeSync(fd);
    },
  };
}

export function createTerminal({ verbose, logDir, stdout = process.stdout }: { verbose: boolean; logDir: string; stdout?: NodeJS.WriteStream }) {
  const draw = stdout.isTTY && !verbose ? createLogUpdate(stdout) : undefined;
  let frame: string | undefined;
  let warnings = 0;
  let lastWarning: string | undefined;
  const followed: ReturnType<typeof follow>[] = [];
  const paths: string[] = [];

  /** A line that stays, above the panel if one is drawn. */
  const print = (text: string) => {
    if (draw && frame !== undefined) {
      draw.persist(text);
      draw(frame);
    } else stdout.write(`${text}\n`);
  };
  // What was written just before an exit (the error that ended Ponder's start) is shown too.
  // A terminal that went away (EIO, EPIPE) must not end the stop it caused (SIGHUP).
  stdout.on("error", () => {});
  process.once("exit", () => {
    for (const file of followed) file.look();
    draw?.done();
  });

  return {
    say: (line: string) => print(`[far] ${line}`),

    /** Creates (or empties) `<name>.log` and follows it; its descriptor is for the process that writes it. */
    openLog(name: LogName): { fd: number; path: string } {
      const path = join(logDir, `${name}.log`);
      const fd = openSync(path, "w");
      paths.push(path);
      followed.push(
        follow(path, (line) => {
          const warning = isWarning(line);
          if (warning) {
            warnings += 1;
            lastWarning = `${name}: ${warningText(line)}`;
          }
          if (verbose) print(line);
          else if (warning) print(`[${name}] ${line}`);
        }),
      );
      return { fd, path };
    },

    /** The log files opened so far. */
    logPaths: () => [...paths],

    /**
     * Measures every MEASURE_MS and shows it: the panel, or one line every `lineEveryMs`.
     * `settled` is the oracle's count of tasks it settled; `apiUrl` the server's origin.
     */
    startStatus({ apiUrl, settled, lineEveryMs }: { apiUrl: string; settled: () => Promise<number>; lineEveryMs: number }) {
      const payouts: Sample[] = [];
      const settlements: Sample[] = [];
      let lastLine = Date.now();
      const measure = async (): Promise<StatusSnapshot> => {
        const at = Date.now();
        const signal = AbortSignal.timeout(MEASURE_TIMEOUT_MS);
        const [answer, metrics, settledCount] = await Promise.allSettled([
          post<StatusData>(`${apiUrl}/graphql`, STATUS_QUERY, { signal }),
          fetch(`${apiUrl}/metrics`, { signal }).then((response) => response.text()),
          settled(),
        ]);
        const snapshot: StatusSnapshot = { at, warnings, lastWarning, logDir };
        const data = answer.status === "fulfilled" ? answer.value.body.data : undefined;
        if (data) {
          const { latestBlock, finalizedBlock, ...rest } = data.indexingStatus;
          snapshot.indexing = { latestBlock: latestBlock.number, finalizedBlock: finalizedBlock.number, ...rest };
          payouts.push({ at, value: data.revenueSummary.total.payoutCount });
        } else {
          snapshot.apiError = answer.status === "rejected" ? String(answer.reason) : (answer.value.body.errors?.[0]?.message ?? `HTTP ${answer.value.status}`);
        }
        if (settledCount.status === "fulfilled") settlements.push({ at, value: settledCount.value });
        if (metrics.status === "fulfilled") snapshot.subscribers = metricSum(metrics.value, "graphql_feed_subscribers");
        payouts.splice(0, payouts.length, ...keepWindow(payouts, at));
        settlements.splice(0, settlements.length, ...keepWindow(settlements, at));
        snapshot.payoutsPerMinute = ratePerMinute(payouts);
        snapshot.settledPerMinute = ratePerMinute(settlements);
        return snapshot;
      };
      let stopped = false;
      const show = (snapshot: StatusSnapshot) => {
        if (stopped) return;
        if (draw) {
          frame = renderStatus(snapshot, stdout.columns).join("\n");
          draw(frame);
        } else if (!verbose && snapshot.at - lastLine >= lineEveryMs) {
          lastLine = snapshot.at;
          print(`[far] ${statusLine(snapshot)}`);
        }
      };
      let timer: NodeJS.Timeout | undefined;
      const next = () => {
        timer = setTimeout(() => void measure().then(show).finally(() => stopped || next()), MEASURE_MS);
      };
      next();
      return async () => {
        stopped = true;
        clearTimeout(timer);
        // The panel goes: what follows (stopping…) is printed where it was.
        if (draw && frame !== undefined) {
          draw.clear();
          frame = undefined;
        }
      };
    },
  };
}
