/** The change feed as an API process uses it: the log its settings call for, and the hub over it. */
import type { Logger } from "pino";
import type { ApiConfig } from "../config";
import type { ApiDb } from "../db";
import { createFeedHub } from "./hub";
import { createMemoryFeedLog, createRedisFeedLog } from "./log";

export function startFeed({ db, config, logger }: { db: ApiDb; config: ApiConfig; logger: Logger }) {
  const log = config.REDIS_URL
    ? createRedisFeedLog({ url: config.REDIS_URL, prefix: config.API_FEED_PREFIX, retain: config.API_FEED_RETAIN })
    : createMemoryFeedLog({ retain: config.API_FEED_RETAIN });
  return createFeedHub({ db, log, logger, pollMs: config.API_FEED_POLL_MS, maxQueue: config.API_FEED_MAX_QUEUE });
}
