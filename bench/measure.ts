/**
 * What the load benches measure with: when each block was mined and when the indexer committed
 * it (as the bench sees them, by polling), CPU seconds of a process, and percentiles.
 */
import { readFile } from "node:fs/promises";
import type { PublicClient } from "viem";
import { readProgress, type QueryRows } from "../domain/progress";
import { waitUntil } from "../harness/wait";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The value at percentile `p` (nearest rank) of ascending `sorted`; NaN when empty. */
export const percentile = (sorted: ArrayLike<number>, p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;

/** CPU seconds (user + system) from /proc/<pid>/stat, in clock ticks of 10 ms. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Blocks as one poller sees them appear, every `intervalMs`: `seenAt` is, per block number, the
 * start of the first poll that showed it (every block a poll jumped over gets that poll's time).
 */
function watchBlocks(read: () => Promise<number | undefined>, intervalMs: number) {
  const seenAt = new Map<number, number>();
  let latest = -1;
  let running = true;
  const loop = (async () => {
    while (running) {
      const asked = Date.now();
      const number = await read().catch(() => undefined);
      if (number !== undefined && number > latest) {
        for (let block = latest + 1; block <= number; block++) seenAt.set(block, asked);
        latest = number;
      }
      await sleep(intervalMs);
    }
  })();
  return {
    seenAt,
    latest: () => latest,
    waitFor: (block: number, what: string, timeoutMs = 120_000) => waitUntil(() => latest >= block, what, timeoutMs, 20),
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/**
 * Commit times: the start of the first poll of Ponder's checkpoint row (written in the same
 * transaction as the rows) that showed the block. `query` should be a connection of its own,
 * apart from the API under test.
 */
export function watchCommits(query: QueryRows, intervalMs = 10) {
  const watcher = watchBlocks(async () => (await readProgress(query))[0]?.latest.number, intervalMs);
  return { committedAt: watcher.seenAt, committed: watcher.latest, waitCommitted: (block: number, timeoutMs?: number) => watcher.waitFor(block, `block ${block} to be committed`, timeoutMs), stop: watcher.stop };
}

/** Mining times: the start of the first `eth_blockNumber` poll that showed the block. */
export function watchHead(publicClient: PublicClient, intervalMs = 20) {
  const watcher = watchBlocks(async () => Number(await publicClient.getBlockNumber({ cacheTime: 0 })), intervalMs);
  return { minedAt: watcher.seenAt, head: watcher.latest, stop: watcher.stop };
}
