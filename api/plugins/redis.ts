/**
 * The Redis connection of what a request consults on its way (the response cache, persisted
 * queries). Neither may hold a request up: a command that gets no answer within
 * COMMAND_TIMEOUT_MS fails, so does one issued while Redis is away, and each use treats a failure
 * as a miss.
 */
import { Redis } from "ioredis";
import type { Logger } from "pino";

const COMMAND_TIMEOUT_MS = 250;

/** `keyPrefix` starts every key the connection reads or writes. */
export function connectRedis(url: string, keyPrefix: string, logger: Logger): Redis {
  const redis = new Redis(url, { keyPrefix, commandTimeout: COMMAND_TIMEOUT_MS, maxRetriesPerRequest: 0 });
  // ioredis reports each failed reconnection here (at most every 2 s); without a listener it prints them itself.
  redis.on("error", (error: Error) => logger.warn({ msg: "Redis unavailable: requests are answered without it", prefix: keyPrefix, err: error }));
  return redis;
}
