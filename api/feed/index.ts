/**
 * The change feed as an API process uses it: the log its settings call for, the fan-out over it,
 * the indexer's commit signal, and (where API_FEED_WRITER says so) the feed writer.
 */
import type { PGlite } from "@electric-sql/pglite";
import type { Logger } from "pino";
import type { ChainFinality } from "../../common/finality";
import type { ApiConfig } from "../config";
import type { ApiDb } from "../db";
import { createPgliteCommitSignal, createPostgresCommitSignal } from "./commits";
import { createFeedFanout } from "./fanout";
import { createMemoryFeed, createRedisFeedLog, createRedisFeedWriterStore } from "./log";
import { createFeedWriter } from "./writer";

/** Where the indexer commits: its schema, in Ponder's own PGlite instance or in Postgres; unknown: the feed polls. */
export type IndexerDatabase = { schema: string } & ({ pglite: PGlite } | { databaseUrl: string });

function commitSignal(indexer: IndexerDatabase | undefined, writer: boolean, logger: Logger) {
  if (!indexer) return undefined;
  if ("pglite" in indexer) return createPgliteCommitSignal({ pglite: indexer.pglite, schema: indexer.schema, logger });
  // Only the writer gets a session that may write, to install the trigger; everything else listens.
  return createPostgresCommitSignal({ url: indexer.databaseUrl, writeUrl: writer ? indexer.databaseUrl : undefined, schema: indexer.schema, logger });
}

export function startFeed({ db, finality, config, logger, indexer }: { db: ApiDb; finality?: ChainFinality; config: ApiConfig; logger: Logger; indexer?: IndexerDatabase }) {
  const { log, store } = config.REDIS_URL
    ? {
        log: createRedisFeedLog({ url: config.REDIS_URL, prefix: config.API_FEED_PREFIX }),
        store: config.API_FEED_WRITER ? createRedisFeedWriterStore({ url: config.REDIS_URL, prefix: config.API_FEED_PREFIX, retain: config.API_FEED_RETAIN }) : undefined,
      }
    : createMemoryFeed({ retain: config.API_FEED_RETAIN });
  const commits = commitSignal(indexer, config.API_FEED_WRITER, logger);
  const writer = store && config.API_FEED_WRITER ? createFeedWriter({ db, finality, store, logger, pollMs: config.API_FEED_POLL_MS, commits }) : undefined;
  const fanout = createFeedFanout({
    db,
    finality,
    log,
    logger,
    pollMs: config.API_FEED_POLL_MS,
    commits,
    maxQueue: config.API_FEED_MAX_QUEUE,
    stallGraceMs: config.API_FEED_STALL_GRACE_MS,
  });
  return {
    ...fanout,
    async stop() {
      await writer?.stop();
      await fanout.stop();
      await commits?.close();
    },
  };
}
