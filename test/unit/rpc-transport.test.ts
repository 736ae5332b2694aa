/**
 * RPC_URL's list and the transport built from it: one URL is plain http, several fall back in
 * order past a dead or rate-limiting one, and a cap holds requests to so many a second.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createPublicClient } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadChainConfig, loadIndexerConfig } from "../../common/config";
import { ConfigError } from "../../common/errors";
import { rpcTransport, rpcUrls } from "../../common/rpc";

/** A JSON-RPC server answering eth_blockNumber with `head`, or HTTP 429 while `limited`. */
function fakeRpc(head: number) {
  const state = { limited: false };
  const server = createServer(async (request, response) => {
    const body = JSON.parse(Buffer.concat(await request.toArray()).toString()) as { id: number };
    if (state.limited) return response.writeHead(429).end("Too Many Requests");
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: body.id, result: `0x${head.toString(16)}` }));
  });
  return { server, state, url: () => `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const listen = (server: Server) => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
/** A port nothing listens on: a server that was closed. */
async function deadUrl() {
  const server = createServer();
  await listen(server);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await new Promise((resolve) => server.close(resolve));
  return url;
}

describe("RPC_URL", () => {
  it("splits a comma-separated list, trimming blanks", () => {
    expect(rpcUrls("http://a:8545")).toEqual(["http://a:8545"]);
    expect(rpcUrls(" http://a:8545 , https://b/key,")).toEqual(["http://a:8545", "https://b/key"]);
  });

  it.each([
    ["http://a:8545,http://b:8545", "accepted"],
    ["http://a:8545,b", "Invalid setting RPC_URL: must be a URL or a comma-separated list of URLs"],
    [",", "Invalid setting RPC_URL: must be a URL or a comma-separated list of URLs"],
  ])("%s: %s", (value, expected) => {
    let outcome = "accepted";
    try {
      loadChainConfig({ RPC_URL: value });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      outcome = error.message;
    }
    expect(outcome).toBe(expected);
  });

  it("reads the indexer's caps", () => {
    expect(loadIndexerConfig({ RPC_MAX_REQUESTS_PER_SECOND: "25", RPC_GET_LOGS_BLOCK_RANGE: "5000" })).toMatchObject({ RPC_MAX_REQUESTS_PER_SECOND: 25, RPC_GET_LOGS_BLOCK_RANGE: 5000 });
    expect(() => loadIndexerConfig({ RPC_GET_LOGS_BLOCK_RANGE: "0" })).toThrow(/^Invalid setting RPC_GET_LOGS_BLOCK_RANGE: /);
  });
});

describe("rpcTransport", () => {
  const first = fakeRpc(7);
  const second = fakeRpc(9);
  let dead: string;
  beforeAll(async () => {
    await Promise.all([listen(first.server), listen(second.server)]);
    dead = await deadUrl();
  });
  afterAll(async () => {
    for (const { server } of [first, second]) await new Promise((resolve) => server.close(resolve));
  });
  const head = (list: string, options: Parameters<typeof rpcTransport>[1] = {}) =>
    createPublicClient({ transport: rpcTransport(list, { retryCount: 0, ...options }) }).getBlockNumber({ cacheTime: 0 });

  it("one URL is plain http", async () => {
    expect(rpcTransport(first.url())({}).config.type).toBe("http");
    expect(await head(first.url())).toBe(7n);
  });

  it("several: the first that answers, past a dead one and one that answers 429", async () => {
    expect(rpcTransport(`${dead},${first.url()}`)({}).config.type).toBe("fallback");
    expect(await head(`${dead},${first.url()}`)).toBe(7n);
    first.state.limited = true;
    const statuses: number[] = [];
    try {
      expect(await head(`${first.url()},${second.url()}`, { onFetchResponse: (response) => void statuses.push(response.status) })).toBe(9n);
    } finally {
      first.state.limited = false;
    }
    expect(statuses).toEqual([429, 200]);
    await expect(head(`${dead},${dead}`)).rejects.toThrow();
  });

  it("a cap holds requests to that many a second, queued rather than refused", async () => {
    const client = createPublicClient({ transport: rpcTransport(second.url(), { maxRequestsPerSecond: 4, retryCount: 0 }) });
    const started = Date.now();
    // Raw requests: getBlockNumber would share one request among concurrent callers.
    const heads = await Promise.all(Array.from({ length: 10 }, () => client.request({ method: "eth_blockNumber" })));
    expect(heads).toEqual(Array(10).fill("0x9"));
    // 10 requests at 4 a second: the 9th and 10th leave no earlier than 2 s after the first (a busy machine only adds).
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
  });
});
