/**
 * Subscription groups over real HTTP and WebSocket, without a chain: the API (Yoga, the feed
 * fan-out, the plugin) over an in-process feed log whose entries the test appends. Subscribers
 * asking the same operation and variables form one group and receive the same bytes; filters
 * reach only the subscribers they match; the per-subscriber path (Yoga executing each, as over
 * `yoga.fetch`) delivers the same events; a cursor resumes exactly after itself.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PGlite } from "@electric-sql/pglite";
import { serve } from "@hono/node-server";
import { drizzle } from "drizzle-orm/pglite";
import { Hono } from "hono";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Hex } from "viem";
import { WebSocketServer } from "ws";
import { loadApiConfig } from "../../api/config";
import { createApi } from "../../api/create-api";
import type { ApiDb } from "../../api/db";
import { createFeedFanout, type FeedFanout } from "../../api/feed/fanout";
import { createMemoryFeed, type FeedLog, type FeedWriterStore } from "../../api/feed/log";
import type { FeedChange } from "../../api/feed/messages";
import { mountApi } from "../../api/http";
import { serveGraphqlWs } from "../../api/websocket";
import { subscribeSse, subscribeWs } from "../../harness/graphql";
import { waitUntil } from "../../harness/wait";

/** No indexer behind: an empty database (the feed is fed by the test; the fan-out's progress reads find nothing). */
const emptyDb: ApiDb = drizzle(new PGlite());

const ALICE: Hex = "0x00000000000000000000000000000000000a11ce";
const BOB: Hex = "0x0000000000000000000000000000000000000b0b";
const NODE: Hex = "0x00000000000000000000000000000000000000d0";

let block = 100;
function payoutChange(recipient: Hex, stream: "NODE_PAYMENT" | "TREASURY" = "NODE_PAYMENT"): FeedChange {
  block += 1;
  const id = `0x${block.toString(16).padStart(64, "0")}-0-${stream}`;
  return {
    topic: "payout",
    action: "ADDED",
    key: id,
    blockNumber: block,
    logIndex: 0,
    finalized: false,
    row: {
      id,
      stream,
      recipient,
      amount: 10n ** 18n + BigInt(block),
      usdValue: 25n * 10n ** 16n,
      farUsdPrice: 25_000_000n,
      taskId: null,
      node: NODE,
      blockNumber: block,
      logIndex: 0,
      timestamp: 1_700_000_000 + block,
      transactionHash: `0x${block.toString(16).padStart(64, "f")}`,
      blockHash: `0x${block.toString(16).padStart(64, "b")}`,
    },
  };
}

const PAYOUTS = `subscription ($recipient: Address, $after: String) { payouts(recipient: $recipient, after: $after) { cursor action blockNumber payout { id recipient amount } } }`;
type Event = { cursor: string; action: string; blockNumber: number; payout: { id: string; recipient: string; amount: string } };

/** Raw SSE bytes of one subscriber: what exactly its socket received. */
async function rawSse(url: string, variables: Record<string, unknown>) {
  const abort = new AbortController();
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", accept: "text/event-stream" }, body: JSON.stringify({ query: PAYOUTS, variables }), signal: abort.signal });
  let text = "";
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) text += decoder.decode(chunk as Uint8Array, { stream: true });
  })().catch(() => {});
  return { frames: () => text.split("\n\n").filter((frame) => frame.startsWith("event: next")), close: () => abort.abort(), reading };
}

describe("subscription groups", () => {
  let server: Server;
  let url: string;
  let log: FeedLog;
  let store: FeedWriterStore;
  let feed: FeedFanout;
  let yoga: ReturnType<typeof createApi>["yoga"];
  const append = (changes: FeedChange[]) => store.append("memory", changes, { announcedBlock: block, finalizedBlock: 0, pending: [] });

  beforeAll(async () => {
    const config = loadApiConfig({ API_LOG_LEVEL: "silent" });
    const logger = pino({ level: process.env.TEST_LOG ?? "silent" });
    ({ log, store } = createMemoryFeed());
    feed = createFeedFanout({ db: emptyDb, log, logger, pollMs: 500, maxQueue: config.API_FEED_MAX_QUEUE, stallGraceMs: config.API_FEED_STALL_GRACE_MS });
    const api = createApi({ db: emptyDb, feed, config, logger, registry: new Registry() });
    yoga = api.yoga;
    const app = new Hono();
    mountApi(app, { yoga, config, logger, db: emptyDb });
    server = await new Promise<Server>((resolve) => {
      const listening = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(listening as Server));
    });
    serveGraphqlWs({ yoga, sockets: new WebSocketServer({ server, path: "/graphql" }), config, maskError: api.maskError });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await feed.stop();
  });

  it("executes once per group and writes the same bytes to every member; filters reach only their matches", async () => {
    const everyone = await Promise.all([0, 1, 2].map(() => rawSse(url, {})));
    const alice = await rawSse(url, { recipient: ALICE });
    const overWs = subscribeWs<Event>(url, PAYOUTS, {});
    await waitUntil(() => feed.subscriberCount() === 5, "five subscribers");
    // Three SSE members and one WebSocket member share the unfiltered group; Alice's filter is its own.
    expect(feed.groupCount()).toBe(2);

    await append([payoutChange(ALICE), payoutChange(BOB), payoutChange(ALICE, "TREASURY")]);
    await waitUntil(() => everyone.every((subscriber) => subscriber.frames().length === 3) && alice.frames().length === 2 && overWs.received.length === 3, "every delivery");
    const [first, ...others] = everyone.map((subscriber) => subscriber.frames());
    for (const frames of others) expect(frames).toEqual(first);
    expect(first!.map((frame) => (JSON.parse(frame.split("data: ")[1]!) as { data: { payouts: Event } }).data.payouts.payout.recipient)).toEqual([ALICE, BOB, ALICE]);
    expect(alice.frames()).toEqual([first![0], first![2]]);
    expect(overWs.received.map((event) => event.cursor)).toEqual(first!.map((frame) => (JSON.parse(frame.split("data: ")[1]!) as { data: { payouts: Event } }).data.payouts.cursor));
    expect(overWs.errors).toEqual([]);

    for (const subscriber of [...everyone, alice]) subscriber.close();
    overWs.close();
    await waitUntil(() => feed.subscriberCount() === 0 && feed.groupCount() === 0, "every member and group to be freed");
  });

  it("gives a subscriber Yoga executes by itself (no socket to write) the same events, and resumes from a cursor", async () => {
    const grouped = subscribeSse<Event>(url, PAYOUTS, {});
    const leave = new AbortController();
    const response = await yoga.fetch(
      new Request(url, { method: "POST", headers: { "content-type": "application/json", accept: "text/event-stream" }, body: JSON.stringify({ query: PAYOUTS }), signal: leave.signal }),
    );
    const alone: Event[] = [];
    void (async () => {
      let buffer = "";
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += new TextDecoder().decode(chunk as Uint8Array);
        for (let boundary = buffer.indexOf("\n\n"); boundary >= 0; boundary = buffer.indexOf("\n\n")) {
          const frame = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          if (frame.startsWith("event: next")) alone.push((JSON.parse(frame.split("data: ")[1]!) as { data: { payouts: Event } }).data.payouts);
        }
      }
    })().catch(() => {});
    await waitUntil(() => feed.subscriberCount() === 2, "both subscribers");
    expect(feed.groupCount()).toBe(1);
    await append([payoutChange(BOB), payoutChange(ALICE), payoutChange(BOB)]);
    await waitUntil(() => grouped.received.length === 3 && alone.length === 3, "every delivery");
    expect(alone).toEqual(grouped.received);

    // Resuming after the first event replays exactly the other two, then goes on live.
    const resumed = subscribeSse<Event>(url, PAYOUTS, { after: grouped.received[0]!.cursor });
    await waitUntil(() => resumed.received.length === 2, "the replay");
    await append([payoutChange(ALICE)]);
    await waitUntil(() => resumed.received.length === 3 && grouped.received.length === 4, "the live event");
    expect(resumed.received).toEqual(grouped.received.slice(1));
    expect(resumed.errors).toEqual([]);

    const bad = subscribeSse<Event>(url, PAYOUTS, { after: "not-a-cursor" });
    await bad.ended;
    expect(JSON.stringify(bad.errors)).toContain("INVALID_CURSOR");
    for (const subscriber of [grouped, resumed]) subscriber.close();
    leave.abort();
    await waitUntil(() => feed.subscriberCount() === 0, "every subscriber to be freed");
  });
});
