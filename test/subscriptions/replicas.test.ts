/**
 * Two stateless API replicas sharing one change feed through Redis: a subscriber over SSE on
 * one and a subscriber over WebSocket (graphql-ws) on the other receive the same sequence —
 * same events, same order, same cursors — and it equals the payouts table.
 */
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { startDeployedChain } from "../../harness/chain";
import { createTestDatabase } from "../../harness/database";
import { subscribeSse, subscribeWs } from "../../harness/graphql";
import { waitUntil } from "../../harness/wait";
import { startPonder } from "../../harness/ponder";
import { startReplica as startReplicaProcess } from "../../harness/replica";
import { runScenario } from "../../harness/scenario";
import { netPayouts, PAYOUTS, payoutTable, type PayoutEvent } from "./helpers";
import { cleanupAfterAll } from "../helpers/cleanup";

const { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl } = process.env;

describe.skipIf(!databaseUrl || !redisUrl)("subscriptions across two API replicas sharing Redis", () => {
  const cleanup = cleanupAfterAll();

  it("gives subscribers on both replicas the same sequence, over SSE and over WebSocket", async () => {
    const chain = await startDeployedChain();
    cleanup.push(() => chain.anvil.stop());
    const database = await createTestDatabase(databaseUrl!);
    cleanup.push(() => database.drop());
    const ponder = await startPonder({ rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir, databaseUrl: database.url });
    cleanup.push(() => ponder.kill());
    await ponder.waitForBlock(await chain.publicClient.getBlockNumber());
    cleanup.push(async () => {
      const redis = new Redis(redisUrl!);
      const keys = await redis.keys(`far-test-${ponder.schema}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    });

    const startReplica = async () => {
      const replica = await startReplicaProcess(
        { DATABASE_URL: database.url, DATABASE_SCHEMA: ponder.schema, API_HOST: "127.0.0.1", API_FEED_POLL_MS: "100", API_FEED_PREFIX: `far-test-${ponder.schema}` },
        cleanup,
      );
      return replica.graphqlUrl;
    };
    const [first, second] = [await startReplica(), await startReplica()];

    const overSse = subscribeSse<PayoutEvent>(first, PAYOUTS);
    cleanup.push(() => overSse.close());
    const overWs = subscribeWs<PayoutEvent>(second, PAYOUTS);
    cleanup.push(() => overWs.close());
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    await runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient: chain.publicClient, manifest: chain.manifest, seed: 21, steps: 200 });
    await ponder.waitForBlock(await chain.publicClient.getBlockNumber());
    const table = await payoutTable(first);
    expect(table.length).toBeGreaterThan(30);
    await waitUntil(() => netPayouts(overSse.received).length >= table.length && netPayouts(overWs.received).length >= table.length, "both subscribers to catch up");

    expect(overSse.errors).toEqual([]);
    expect(overWs.errors).toEqual([]);
    const sequence = (events: PayoutEvent[]) => events.map((event) => `${event.cursor} ${event.action} ${event.payout.id}`);
    expect(sequence(overWs.received)).toEqual(sequence(overSse.received));
    expect(netPayouts(overSse.received)).toEqual(table);

    // One WebSocket may carry only so many operations at once (20 by default).
    const crowded = Array.from({ length: 21 }, () => overWs.client);
    const errors: unknown[] = [];
    for (const client of crowded) client.subscribe({ query: PAYOUTS }, { next: () => {}, error: (error) => errors.push(error), complete: () => {} });
    await waitUntil(() => errors.length > 0, "the operation over the limit to be refused");
    expect(JSON.stringify(errors)).toContain("TOO_MANY_SUBSCRIPTIONS");
  });
});
