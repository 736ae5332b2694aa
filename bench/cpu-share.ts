/**
 * `npx tsx bench/cpu-share.ts <seconds> [interval ms]`: where the machine's CPU goes while a bench
 * runs beside it, by process kind (Postgres, Ponder, anvil, Redis, other Node, the rest), from
 * /proc every interval. Its answer is in cores (1.00 = one core busy the whole time): on a
 * 2-core machine it shows whether the database, the API process or the load generator is the
 * limit of a run. Each interval's figures go to stderr with the time, to match a bench's runs.
 */
import { readdirSync, readFileSync } from "node:fs";

const [secondsArg, intervalArg] = process.argv.slice(2);
const seconds = Number(secondsArg);
const intervalMs = Number(intervalArg ?? 1_000);
if (!(seconds > 0) || !(intervalMs > 0)) throw new Error("usage: bench/cpu-share.ts <seconds> [interval ms]");
/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

function kindOf(pid: string): string {
  const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  if (/postgres/.test(args)) return "postgres";
  if (/ponder/.test(args)) return "ponder";
  if (/anvil/.test(args)) return "anvil";
  if (/redis-server/.test(args)) return "redis";
  if (/\bnode\b|tsx/.test(args)) return "other node (load generator, tests)";
  return "the rest";
}

/** CPU ticks used so far by every process alive now, by pid, with its kind. */
function sample(): Map<string, { kind: string; ticks: number }> {
  const processes = new Map<string, { kind: string; ticks: number }>();
  for (const pid of readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))) {
    try {
      // Fields after the parenthesised command: utime and stime are the 12th and 13th.
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      processes.set(pid, { kind: kindOf(pid), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // Gone while being read.
    }
  }
  return processes;
}

const cores: Record<string, number> = {};
let previous = sample();
const started = Date.now();
while (Date.now() - started < seconds * 1_000) {
  await new Promise((resolve) => setTimeout(resolve, intervalMs));
  const current = sample();
  const interval: Record<string, number> = {};
  for (const [pid, { kind, ticks }] of current) interval[kind] = (interval[kind] ?? 0) + ticks - (previous.get(pid)?.ticks ?? ticks);
  for (const [kind, ticks] of Object.entries(interval)) cores[kind] = (cores[kind] ?? 0) + ticks;
  previous = current;
  // Each interval on stderr, timestamped, to be matched with a bench's runs.
  const line = Object.entries(interval)
    .filter(([, ticks]) => ticks > 0)
    .map(([kind, ticks]) => `${kind.split(" ")[0]} ${(ticks / TICKS_PER_SECOND / (intervalMs / 1_000)).toFixed(2)}`)
    .join(", ");
  console.error(`${new Date().toISOString().slice(11, 19)} ${line}`);
}
const elapsed = (Date.now() - started) / 1_000;
console.log(`CPU by process kind over ${elapsed.toFixed(1)} s, in cores (load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}):`);
for (const [kind, ticks] of Object.entries(cores).sort((a, b) => b[1] - a[1])) console.log(`  ${kind.padEnd(36)} ${(ticks / TICKS_PER_SECOND / elapsed).toFixed(2)}`);
