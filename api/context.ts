/**
 * Everything a resolver may use, created once per request: a database view that counts its
 * statements, the request's DataLoaders, and the indexer's progress read at most once.
 */
import type { ServerResponse } from "node:http";
import DataLoader from "dataloader";
import type { PublicClient } from "viem";
import type { WebSocket } from "ws";
import type { ChainFinality } from "../common/finality";
import type { ApiConfig } from "./config";
import { countingDb, readIndexingStatus, type ApiDb, type IndexingStatus } from "./db";
import { ApiError } from "./errors";
import type { FeedFanout } from "./feed/fanout";
import { headFor, judgeSync, type SyncState } from "./status";

/** Enough of a chain client to tell at which block a transaction was mined, and where the chain's head is. */
type ChainReader = Pick<PublicClient, "getTransactionReceipt" | "getBlockNumber">;

export type ApiDependencies = {
  db: ApiDb;
  config: ApiConfig;
  chain?: ChainReader;
  /** The chain's finality tags, which safe and finalized follow where the chain answers them; absent: Ponder's fixed depth. */
  finality?: ChainFinality;
  /** The change feed behind subscriptions; absent where the server offers none. */
  feed?: FeedFanout;
};

/**
 * What Yoga's server context says about the connection a request came on: Node's response for
 * HTTP and SSE (the replica's server, or Ponder's through Hono), the socket for graphql-ws.
 */
export type Connection = {
  res?: ServerResponse;
  socket?: WebSocket;
  /** The graphql-ws operation this context serves, on `socket`. */
  operationId?: string;
  /** Its signal ends the request's work when the client goes away (no further statement starts; a running one is cancelled). */
  request?: Request;
  /** Tells the HTTP server that `res` is written by the API from now on, not from Yoga's response (api/http.ts). */
  takeOver?: () => void;
};

export type ApiContext = {
  db: ApiDb;
  config: ApiConfig;
  chain: ChainReader | undefined;
  sqlStatements: () => number;
  status: () => Promise<IndexingStatus>;
  /** Whether that progress keeps up with the chain's head (api/status.ts). */
  sync: (status: IndexingStatus) => Promise<SyncState>;
  /** The request's loader for `name`; `name` must include any arguments the batch depends on. */
  loader: <V>(name: string, batch: (keys: readonly string[]) => Promise<V[]>) => DataLoader<string, V>;
  /** Whether a block is finalized (by the chain's tag, else Ponder's fixed depth), so its rows can no longer be reorged out. */
  isFinalized: (blockNumber: number) => Promise<boolean>;
  feed: FeedFanout | undefined;
  /** The connection the request came on. */
  connection: Connection;
  /** Counts revenue-series points against the request's one budget (API_MAX_SERIES_POINTS), across aliases and nodes. */
  spendSeriesPoints: (points: number) => void;
  /** Drops the connection this request came on: for a subscriber that stopped reading. */
  dropConnection: () => void;
  /** A new context over the same dependencies: fresh loaders, for a subscription that re-reads. */
  renew: () => ApiContext;
};

/**
 * A query reads the indexer's progress once; a subscription's context lives on, so the cached
 * progress is renewed after this long to keep `finalized` flags current on later events.
 */
const STATUS_TTL_MS = 1_000;

async function readStatus(db: ApiDb, finality: ChainFinality | undefined): Promise<IndexingStatus> {
  const status = await readIndexingStatus(db, finality);
  if (!status) throw new ApiError("INDEXER_NOT_READY", "The indexer has not written its first checkpoint yet");
  return status;
}

/**
 * `indexingStatus`: the progress already read for this request before its context existed (the
 * response cache's key, api/plugins/use-response-cache.ts), so that its resolvers answer from the
 * block the answer is cached under.
 */
export function createContext(dependencies: ApiDependencies, connection: Connection = {}, indexingStatus?: IndexingStatus): ApiContext {
  let statements = 0;
  const db = countingDb(dependencies.db, () => (statements += 1), connection.request?.signal);
  const loaders = new Map<string, DataLoader<string, unknown>>();
  let status = indexingStatus && Promise.resolve(indexingStatus);
  let statusReadAt = Date.now();
  let seriesPoints = 0;
  const context: ApiContext = {
    db,
    config: dependencies.config,
    chain: dependencies.chain,
    sqlStatements: () => statements,
    status: () => {
      if (!status || Date.now() - statusReadAt > STATUS_TTL_MS) {
        statusReadAt = Date.now();
        status = readStatus(db, dependencies.finality);
      }
      return status;
    },
    sync: async (progress) => judgeSync(progress, await headFor(dependencies.chain), dependencies.config.API_SYNCED_MAX_LAG_BLOCKS),
    loader: <V>(name: string, batch: (keys: readonly string[]) => Promise<V[]>) => {
      let loader = loaders.get(name);
      if (!loader) {
        loader = new DataLoader<string, V>(batch);
        loaders.set(name, loader);
      }
      return loader as DataLoader<string, V>;
    },
    isFinalized: async (blockNumber) => blockNumber <= (await context.status()).finalized.number,
    feed: dependencies.feed,
    connection,
    spendSeriesPoints: (points) => {
      const budget = dependencies.config.API_MAX_SERIES_POINTS;
      if (seriesPoints + points > budget) {
        throw new ApiError("TOO_MANY_SERIES_POINTS", `This request asks for more than ${budget} revenue-series points in all; ask for fewer series or shorter ranges`);
      }
      seriesPoints += points;
    },
    dropConnection: () => {
      connection.res?.destroy();
      connection.socket?.terminate();
    },
    renew: () => createContext(dependencies, connection),
  };
  return context;
}
