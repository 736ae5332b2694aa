/**
 * Public RPC realities (issue 17): Ponder and its embedded API reach anvil only through a proxy
 * that caps eth_getLogs ranges, then rate-limits with HTTP 429, then serves a stale head, with a
 * second RPC URL that refuses connections. Indexing slows but stays exact; indexingStatus says
 * how far behind and why; once the proxy behaves, the lag returns to ~0 and every value the API
 * serves equals the contracts' views.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployedChain } from "../../harness/chain";
import { createTestDatabase } from "../../harness/database";
import { post } from "../../harness/graphql";
import { startPonder, type PonderProcess } from "../../harness/ponder";
import { freePort } from "../../harness/ports";
import { startRpcProxy } from "../../harness/rpc-proxy";
import { runScenario } from "../../harness/scenario";
import { patience, waitUntil } from "../../harness/wait";
import { verifyIndexedState } from "../../ops/verify";
import { graphqlReader, readIndexedStateGraphql } from "../../ops/verify-graphql";
import { cleanupAfterAll } from "../helpers/cleanup";

const databaseUrl = process.env.DATABASE_URL;
const LOGS_RANGE = 5;
const MAX_LAG = 2;
const STATUS = `{ indexingStatus { latestBlock { number } headBlock lagBlocks synced lagCause lagCauseMessage } }`;
type Status = { latestBlock: { number: number }; headBlock: number | null; lagBlocks: number | null; synced: boolean; lagCause: string; lagCauseMessage: string | null };

describe.skipIf(!databaseUrl)("indexing through a throttling, range-capping, stale RPC", () => {
  const cleanup = cleanupAfterAll();
  let chain: Awaited<ReturnType<typeof startDeployedChain>>;
  let proxy: Awaited<ReturnType<typeof startRpcProxy>>;
  let ponder: PonderProcess;
  const seen: Status[] = [];
  const status = async () => {
    const reply = await post(`${ponder.baseUrl}/graphql`, STATUS);
    const now = reply.body.data!.indexingStatus as Status;
    seen.push(now);
    return now;
  };
  /** Waits for a status `accept`s, naming the last ones seen if it never comes. */
  const statusWhere = (accept: (status: Status) => boolean, what: string, timeoutMs = 60_000) =>
    waitUntil(async () => {
      const now = await status();
      return accept(now) && now;
    }, what, timeoutMs, 250).catch((error: Error) => {
      throw new Error(`${error.message}; last seen ${JSON.stringify(seen.slice(-3))}`);
    });
  const chainHead = async () => Number(await chain.publicClient.getBlockNumber());
  /** The chain moves on as a real one does: a block every 300 ms beside the scenario's transactions. */
  let ticker: NodeJS.Timeout | undefined;
  const stopTicker = () => clearInterval(ticker);

  beforeAll(async () => {
    chain = await startDeployedChain();
    cleanup.push(() => chain.anvil.stop());
    await runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient: chain.publicClient, manifest: chain.manifest, seed: 31, steps: 80 });
    proxy = await startRpcProxy({ upstream: chain.anvil.rpcUrl, maxLogsRange: LOGS_RANGE });
    cleanup.push(() => proxy.stop());
    // Nothing listens there: connections are refused.
    const deadUrl = `http://127.0.0.1:${await freePort()}`;
    const database = await createTestDatabase(databaseUrl!);
    cleanup.push(() => database.drop());
    ponder = await startPonder({
      rpcUrl: `${proxy.rpcUrl},${deadUrl}`,
      deploymentsDir: chain.deploymentsDir,
      databaseUrl: database.url,
      env: {
        API_LOG_LEVEL: "warn",
        RPC_GET_LOGS_BLOCK_RANGE: String(LOGS_RANGE),
        RPC_MAX_REQUESTS_PER_SECOND: "40",
        API_SYNCED_MAX_LAG_BLOCKS: String(MAX_LAG),
        API_HEAD_STALE_MS: "3000",
      },
    });
    cleanup.push(() => ponder.kill());
    cleanup.push(stopTicker);
    await ponder.waitForBlock(BigInt(await chainHead()), 240_000);
  }, patience(300_000));
  afterAll(stopTicker);

  it("asks eth_getLogs for at most RPC_GET_LOGS_BLOCK_RANGE blocks, which the proxy refuses beyond", async () => {
    // The backfill went in chunks: wider than one block, never wider than the cap, so nothing was refused.
    expect(proxy.stats.widestLogsRange).toBeGreaterThan(1);
    expect(proxy.stats.widestLogsRange).toBeLessThanOrEqual(LOGS_RANGE);
    expect(proxy.stats.logsRefused).toBe(0);
    // A wider range is refused as BSC's nodes refuse it.
    const probe = { jsonrpc: "2.0", id: 1, method: "eth_getLogs", params: [{ fromBlock: "0x1", toBlock: "0xa" }] };
    const refused = (await (await fetch(proxy.rpcUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(probe) })).json()) as { error?: { message: string } };
    expect(refused.error?.message).toBe(`exceed maximum block range: ${LOGS_RANGE}`);
    expect(proxy.stats.logsRefused).toBe(1);
  });

  it("rate-limited: behind, with the cause RPC_RATE_LIMITED; unthrottled, back to ~0 lag", { timeout: patience(120_000) }, async () => {
    ticker = setInterval(() => void chain.testClient.mine({ blocks: 1 }).catch(() => {}), 300);
    await statusWhere((now) => now.lagCause === "NONE" && now.synced, "synced with the chain moving");
    proxy.set({ rateLimit: 3 });
    const scenario = runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient: chain.publicClient, manifest: chain.manifest, seed: 32, steps: 40, label: "throttled" });
    try {
      const limited = await statusWhere((now) => now.lagCause === "RPC_RATE_LIMITED" && (now.lagBlocks ?? 0) > MAX_LAG, "RPC_RATE_LIMITED while behind");
      expect(limited.synced).toBe(false);
      expect(limited.lagCauseMessage).toMatch(/blocks behind the head .*HTTP 429/);
      expect(proxy.stats.rateLimited).toBeGreaterThan(0);
    } finally {
      proxy.set({ rateLimit: undefined });
      await scenario;
    }
    const recovered = await statusWhere((now) => now.lagCause === "NONE" && now.synced, "caught up once unthrottled");
    expect(recovered.lagBlocks).toBeLessThanOrEqual(MAX_LAG);
  });

  it("stale head: RPC_HEAD_STALE while the chain moves on; fresh again, back to ~0 lag", { timeout: patience(120_000) }, async () => {
    const frozen = await chainHead();
    proxy.freezeHead(BigInt(frozen));
    try {
      const stale = await statusWhere((now) => now.lagCause === "RPC_HEAD_STALE", "RPC_HEAD_STALE");
      expect(stale.headBlock).toBe(frozen);
      expect(stale.lagCauseMessage).toMatch(new RegExp(`head block ${frozen} has not moved for \\d+ s`));
      // The index is held at the stale head while the real chain is well ahead.
      expect((await chainHead()) - stale.latestBlock.number).toBeGreaterThan(MAX_LAG);
    } finally {
      proxy.thaw();
    }
    const head = await chainHead();
    const recovered = await statusWhere((now) => now.lagCause === "NONE" && now.synced && now.latestBlock.number >= head, "caught up with the real head");
    expect(recovered.lagBlocks).toBeLessThanOrEqual(MAX_LAG);
  });

  it("nothing lost or wrong: every value the API serves equals the contracts' views", { timeout: patience(120_000) }, async () => {
    stopTicker();
    const head = await chainHead();
    await ponder.waitForBlock(BigInt(head));
    const read = graphqlReader(`${ponder.baseUrl}/graphql`, (cause) => new Error("the API does not answer", { cause }));
    await statusWhere((now) => now.latestBlock.number === head, "the API to read at the head");
    const result = await verifyIndexedState({ publicClient: chain.publicClient, manifest: chain.manifest, state: await readIndexedStateGraphql(read), blockNumber: BigInt(head) });
    expect(result.differences).toEqual([]);
    // Rows of every kind were checked (verify also holds each table to the rows the chain's logs require).
    for (const table of ["account", "staker", "escrow_account", "node", "task", "payout"]) expect(result.rows[table], JSON.stringify(result.rows)).toBeGreaterThan(0);
    expect(result.checked).toBeGreaterThan(50);
  });
});
