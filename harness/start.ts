/** `npm start`, the README's first command, as tests and benchmarks run it beside other runs. */
import { join } from "node:path";
import { freePort } from "./ports";

/**
 * Settings of the developer's shell that would turn the embedded system into something else
 * (an external database, Redis or chain; an admin token; other stop timings or Node flags):
 * `npm start` on a fresh machine has none of them.
 */
const NOT_INHERITED = ["DATABASE_URL", "REDIS_URL", "RPC_URL", "ORACLE_ADMIN_TOKEN", "STOP_TIMEOUT_MS", "NODE_OPTIONS"];

export type NpmStartEnv = { env: NodeJS.ProcessEnv; port: number; anvilPort: number; oraclePort: number };

/**
 * The environment of one `npm start` on `dataDir` (its deployments inside it), on ports free right
 * now, so that runs beside each other never collide; `overrides` come last.
 */
export async function npmStartEnv(dataDir: string, overrides: NodeJS.ProcessEnv = {}): Promise<NpmStartEnv> {
  const [port, anvilPort, oraclePort] = [await freePort(), await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    ANVIL_PORT: String(anvilPort),
    ORACLE_HTTP_PORT: String(oraclePort),
    DATA_DIR: dataDir,
    DEPLOYMENTS_DIR: join(dataDir, "deployments"),
  };
  for (const name of NOT_INHERITED) delete env[name];
  return { env: { ...env, ...overrides }, port, anvilPort, oraclePort };
}
