/**
 * `npm run webhooks`: the webhook deliverer, until SIGINT/SIGTERM. Endpoints come from
 * WEBHOOKS_ENDPOINTS and `npm run far -- webhooks add`; see README, "Webhooks".
 */
import { runCommand } from "../common/cli";
import { createLogger } from "../common/logger";
import { loadWebhooksConfig } from "../webhooks/config";
import { startDeliverer } from "../webhooks/deliverer";

if (process.argv.length > 2) {
  console.error(`unexpected argument ${process.argv[2]}: the deliverer takes none (endpoints: npm run far -- webhooks add|list|remove|…)`);
  process.exit(2);
}

runCommand(async () => {
  const config = loadWebhooksConfig();
  const logger = createLogger({ level: config.LOG_LEVEL, name: "webhooks" });
  const deliverer = await startDeliverer(config, logger);
  const stop = () => {
    logger.info({ msg: "shutting down" });
    void deliverer.stop().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
});
