/**
 * Honest status: `indexingStatus.synced`, the replica's /ready and the embedded API's /synced
 * compare the indexed block with the chain's head block. A paused indexer (SIGSTOP) while the
 * chain moves on, or one that has not polled the new blocks yet, is reported behind, with the
 * reason; once it catches up, synced again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { post } from "../../harness/graphql";
import { waitUntil, patience } from "../../harness/wait";
import { startEdge, type Edge } from "./helpers";

const databaseUrl = process.env.DATABASE_URL;
const STATUS = `{ indexingStatus { latestBlock { number } headBlock lagBlocks synced } }`;
type Status = { latestBlock: { number: number }; headBlock: number | null; lagBlocks: number | null; synced: boolean };

describe.skipIf(!databaseUrl)("synced and readiness follow the chain's head", () => {
  let edge: Edge;
  let replica: Awaited<ReturnType<Edge["startReplica"]>>;
  const settings = { API_SYNCED_MAX_LAG_BLOCKS: "2" };

  beforeAll(async () => {
    // Ponder polls the chain every 10 s here: new blocks stay unindexed for a while.
    edge = await startEdge({ databaseUrl: databaseUrl!, ponderEnv: { ...settings, RPC_POLLING_INTERVAL_MS: "10000" } });
    replica = await edge.startReplica(settings);
  }, patience(600_000));
  afterAll(async () => {
    if (edge?.ponder.child.exitCode === null) edge.ponder.child.kill("SIGCONT");
    await edge?.stop();
  });

  let last: unknown;
  /** The status, kept for the failure message of a wait that never saw what it waited for. */
  const status = async (url: string) => {
    const reply = await post(url, STATUS);
    last = reply.body;
    return reply.body.data!.indexingStatus as Status;
  };
  const synced = async (url: string) => (await status(url)).synced;
  const mine = (blocks: number) => edge.chain.testClient.mine({ blocks });

  it("replica: a paused indexer is not synced and /ready answers 503 with the reason; resumed, both recover", { timeout: patience(400_000) }, async () => {
    await waitUntil(() => synced(replica.graphqlUrl), "synced before the pause", 120_000).catch((error: Error) => {
      throw new Error(`${error.message}; last seen ${JSON.stringify(last)}`);
    });
    expect((await fetch(`${replica.baseUrl}/ready`)).status).toBe(200);
    edge.ponder.child.kill("SIGSTOP");
    try {
      await mine(5);
      const head = Number(await edge.chain.publicClient.getBlockNumber());
      await waitUntil(async () => (await status(replica.graphqlUrl)).headBlock === head, "the replica to see the new head");
      const behind = await status(replica.graphqlUrl);
      expect(behind.synced).toBe(false);
      expect(behind.lagBlocks).toBe(head - behind.latestBlock.number);
      expect(behind.lagBlocks).toBeGreaterThanOrEqual(5);
      const ready = await fetch(`${replica.baseUrl}/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.text()).toContain(`blocks behind the chain's head ${head}`);
    } finally {
      edge.ponder.child.kill("SIGCONT");
    }
    await waitUntil(() => synced(replica.graphqlUrl), "synced after the resume", 120_000);
    expect((await fetch(`${replica.baseUrl}/ready`)).status).toBe(200);
  });

  it("embedded: blocks the indexer has not polled yet make it unsynced, and /synced 503; after its next poll, both recover", { timeout: patience(400_000) }, async () => {
    await waitUntil(() => synced(edge.embeddedUrl), "synced before mining", 120_000).catch((error: Error) => {
      throw new Error(`${error.message}; last seen ${JSON.stringify(last)}`);
    });
    expect((await fetch(`${edge.ponder.baseUrl}/synced`)).status).toBe(200);
    // Ponder may poll between the mining and the reads: then it is synced, and the next try mines again.
    let seen: { status: Status; synced: Response } | undefined;
    await waitUntil(async () => {
      await mine(5);
      await new Promise((resolve) => setTimeout(resolve, 1_100)); // the head is cached for a second
      const [now, synced] = await Promise.all([status(edge.embeddedUrl), fetch(`${edge.ponder.baseUrl}/synced`)]);
      if (now.synced || synced.status !== 503) return false;
      seen = { status: now, synced };
      return true;
    }, "the embedded API to report blocks the indexer has not polled");
    expect(seen!.status.lagBlocks).toBeGreaterThanOrEqual(3);
    expect(await seen!.synced.text()).toContain("blocks behind the chain's head");
    await waitUntil(async () => (await status(edge.embeddedUrl)).synced && (await fetch(`${edge.ponder.baseUrl}/synced`)).status === 200, "synced after Ponder's next poll", 120_000);
  });
});
