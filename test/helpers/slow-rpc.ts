/** A JSON-RPC endpoint in front of anvil that answers every HTTP request `delayMs` late: a slow RPC. */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export async function startSlowRpc(parameters: { upstream: string; delayMs: number }) {
  const server = createServer(async (incoming, response) => {
    const body = Buffer.concat(await incoming.toArray());
    await sleep(parameters.delayMs);
    try {
      const answer = await fetch(parameters.upstream, { method: "POST", headers: { "content-type": "application/json" }, body });
      response.writeHead(answer.status, { "content-type": "application/json" }).end(Buffer.from(await answer.arrayBuffer()));
    } catch {
      response.writeHead(502).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    rpcUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
