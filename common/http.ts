/** Every HTTP server the project runs itself (the API replica, the oracle's): a Hono app on Node's server. */
import type { Server } from "node:http";
import { createAdaptorServer } from "@hono/node-server";
import type { Hono } from "hono";

/** Serves `app` at host:port; resolves once it listens, rejects when the address cannot be taken (in use, not local). */
export function listen(app: Pick<Hono, "fetch">, port: number, hostname: string): Promise<Server> {
  const server = createAdaptorServer({ fetch: app.fetch, hostname }) as Server;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}
