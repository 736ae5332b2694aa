/** What a process's `/metrics` says, read as Prometheus would. */
import { waitUntil } from "./wait";

/** A metric's value in `baseUrl`'s Prometheus text exposition (the first series of that name). */
export async function metricValue(baseUrl: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${name} `) || candidate.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}

/**
 * Opens subscriptions with `open`, and resolves with what it returned once `baseUrl`'s change feed
 * counts `count` more subscribers (`graphql_feed_subscribers` counts one once it is registered).
 * A subscription without a cursor starts where the feed is when the server first serves it, which
 * on a busy machine can be well after the request: what a test sends before then may never reach it.
 */
export async function servedSubscriptions<T>(baseUrl: string, count: number, open: () => T): Promise<T> {
  const served = async () => (await metricValue(baseUrl, "graphql_feed_subscribers")) ?? 0;
  const before = await served();
  const opened = open();
  await waitUntil(async () => (await served()) >= before + count, `${count} feed subscription(s) to be served`);
  return opened;
}
