/**
 * A pass-through JSON-RPC proxy in front of the benchmark's anvil, with one rewrite.
 *
 * anvil's state dump keeps the blocks, transactions and logs but not the state at past blocks,
 * so a loaded chain refuses `eth_call` at any block but the latest. The indexer makes exactly one
 * such call on this history: PriceFeed `decimals()` at the block of the feed's first
 * AnswerUpdated. `decimals` is an immutable of the feed, so asking it at the latest block gives
 * the same answer; the proxy moves that call (and only that call) to "latest". Every variant of
 * the benchmark goes through the proxy, so its cost is paid alike. It counts the calls by method,
 * which tells a re-index on Ponder's warm RPC cache (no eth_getLogs) from a cold one.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { toFunctionSelector, type Address } from "viem";

type RpcCall = { method?: string; params?: unknown[] };

const DECIMALS = toFunctionSelector("decimals()");

export async function startRpcProxy(target: string, priceFeed: Address) {
  const upstream = new URL(target);
  let rewritten = 0;
  const calls = new Map<string, number>();
  const rewrite = (call: RpcCall) => {
    const [tx] = call.params ?? [];
    const { to, data, input } = (tx ?? {}) as { to?: string; data?: string; input?: string };
    if (call.method === "eth_call" && to?.toLowerCase() === priceFeed.toLowerCase() && (data ?? input)?.startsWith(DECIMALS) && call.params) {
      call.params[1] = "latest";
      rewritten += 1;
    }
  };
  const handle = (incoming: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
    incoming.on("end", () => {
      let body = Buffer.concat(chunks);
      const parsed = JSON.parse(body.toString()) as RpcCall | RpcCall[];
      const batch = Array.isArray(parsed) ? parsed : [parsed];
      for (const call of batch) calls.set(call.method ?? "?", (calls.get(call.method ?? "?") ?? 0) + 1);
      if (batch.some((call) => call.method === "eth_call")) {
        for (const call of batch) rewrite(call);
        body = Buffer.from(JSON.stringify(parsed));
      }
      const forward = request(
        { host: upstream.hostname, port: upstream.port, path: "/", method: "POST", headers: { "content-type": "application/json", "content-length": body.length } },
        (reply) => {
          response.writeHead(reply.statusCode ?? 502, reply.headers);
          reply.pipe(response);
        },
      );
      forward.on("error", (error) => response.destroy(error));
      forward.end(body);
    });
  };
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    rpcUrl: `http://127.0.0.1:${port}`,
    rewritten: () => rewritten,
    /** Calls so far by method: take the difference around a run for that run's. */
    calls: () => new Map(calls),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
