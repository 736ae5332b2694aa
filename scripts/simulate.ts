/**
 * `npm run simulate`: the scheduler simulator as its own process, posting to the Redis stream
 * that a separately running oracle reads. (`npm start` runs it in process instead.)
 */
import { runCommand } from "../common/cli";
import { ConfigError } from "../common/errors";
import { loadSimulatorConfig } from "../oracle/config";
import { createLogger } from "../common/logger";
import { createOracleClient, openStream } from "../oracle/start-oracle";
import { runSimulator } from "../oracle/simulator";

runCommand(async () => {
  const config = loadSimulatorConfig();
  if (!config.REDIS_URL) throw new ConfigError("REDIS_URL is required: without it the simulator runs inside `npm start` on the in-process stream");
  const stream = openStream(config);
  try {
    await runSimulator({ config, publicClient: createOracleClient(config), stream, logger: createLogger({ level: config.LOG_LEVEL, name: "simulator" }) });
  } finally {
    await stream.close();
  }
});
