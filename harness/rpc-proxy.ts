/**
 * A JSON-RPC proxy in front of anvil that behaves like a public RPC provider when told to:
 * HTTP 429 beyond `rateLimit` requests a second (all clients together), eth_getLogs refused
 * over more than `maxLogsRange` blocks with the message BSC's nodes give, and a stale head
 * (eth_blockNumber and the "latest" block held at one block while the chain moves on).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

type RpcRequest = { jsonrpc: "2.0"; id: number | string; method: string; params?: unknown[] };

export type RpcProxySettings = {
  /** Requests a second served; beyond that HTTP 429. Undefined: no limit. */
  rateLimit?: number;
  /** eth_getLogs ranges of more blocks than this are refused. Undefined: no cap. */
  maxLogsRange?: number;
};

export async function startRpcProxy(parameters: { upstream: string } & RpcProxySettings) {
  const settings: RpcProxySettings = { rateLimit: parameters.rateLimit, maxLogsRange: parameters.maxLogsRange };
  /** The head served while stale: undefined when the real head is served. */
  let frozenHead: bigint | undefined;
  const stats = { requests: 0, rateLimited: 0, logsRefused: 0, widestLogsRange: 0 };
  let second = 0;
  let servedThisSecond = 0;

  const upstream = async (request: RpcRequest) => {
    const response = await fetch(parameters.upstream, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request) });
    return (await response.json()) as { result?: unknown; error?: unknown };
  };

  /** One request's answer (the JSON-RPC response object). */
  async function answer(request: RpcRequest): Promise<object> {
    const reply = (body: object) => ({ jsonrpc: "2.0", id: request.id, ...body });
    if (request.method === "eth_getLogs") {
      const filter = (request.params?.[0] ?? {}) as { fromBlock?: string; toBlock?: string; blockHash?: string };
      if (filter.fromBlock?.startsWith("0x") && filter.toBlock?.startsWith("0x")) {
        const range = Number(BigInt(filter.toBlock) - BigInt(filter.fromBlock)) + 1;
        stats.widestLogsRange = Math.max(stats.widestLogsRange, range);
        if (settings.maxLogsRange !== undefined && range > settings.maxLogsRange) {
          stats.logsRefused += 1;
          return reply({ error: { code: -32000, message: `exceed maximum block range: ${settings.maxLogsRange}` } });
        }
      }
    }
    if (frozenHead !== undefined) {
      if (request.method === "eth_blockNumber") return reply({ result: `0x${frozenHead.toString(16)}` });
      if (request.method === "eth_getBlockByNumber" && request.params?.[0] === "latest") {
        return reply(await upstream({ ...request, params: [`0x${frozenHead.toString(16)}`, ...(request.params ?? []).slice(1)] }));
      }
    }
    return reply(await upstream(request));
  }

  const server = createServer(async (incoming, response) => {
    const body = Buffer.concat(await incoming.toArray()).toString();
    stats.requests += 1;
    const now = Math.floor(Date.now() / 1000);
    if (now !== second) [second, servedThisSecond] = [now, 0];
    if (settings.rateLimit !== undefined && servedThisSecond >= settings.rateLimit) {
      stats.rateLimited += 1;
      response.writeHead(429, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: 429, message: "Too Many Requests" } }));
      return;
    }
    servedThisSecond += 1;
    try {
      const parsed = JSON.parse(body) as RpcRequest | RpcRequest[];
      const result = Array.isArray(parsed) ? await Promise.all(parsed.map(answer)) : await answer(parsed);
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(result));
    } catch {
      response.writeHead(502).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));

  return {
    rpcUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    /** Changes the limits from now on. */
    set(next: RpcProxySettings) {
      Object.assign(settings, next);
    },
    /** Serves `head` as the latest block until `thaw`. */
    freezeHead(head: bigint) {
      frozenHead = head;
    },
    thaw() {
      frozenHead = undefined;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
