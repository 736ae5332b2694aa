/**
 * The change feed's messages: what happened to which row, at which chain position, and the
 * cursor a client keeps to resume. Rows are the indexer's own table rows.
 */
import { getTableColumns } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import { payout, stakingEvent, task } from "../../schema";
import { ApiError } from "../errors";

const FEED_TABLES = { payout, task, staking: stakingEvent } as const;
export type FeedTopic = keyof typeof FEED_TABLES;
export type FeedRow<T extends FeedTopic = FeedTopic> = (typeof FEED_TABLES)[T]["$inferSelect"];

/** ADDED: committed by the indexer. RETRACTED: a reorg removed it. FINALIZED: past the finality depth. */
type FeedAction = "ADDED" | "RETRACTED" | "FINALIZED";

export type FeedChange<T extends FeedTopic = FeedTopic> = {
  topic: T;
  action: FeedAction;
  /** Identifies the change: a row id, or for tasks the row id at its update position. */
  key: string;
  blockNumber: number;
  logIndex: number;
  /** Already past the finality depth when the feed first carried it. */
  finalized: boolean;
  row: FeedRow<T>;
};

/** A change as stored in the feed log, with its place in the log. */
export type FeedEntry = FeedChange & { seq: string };

type Column = { dataType: string };

/** Rows cross Redis as JSON: bigint columns go as decimal strings and come back as bigint. */
export function stringifyWithBigints(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => (typeof item === "bigint" ? item.toString() : item));
}

export function encodeChange(change: FeedChange): string {
  return stringifyWithBigints(change);
}

export function decodeChange(text: string): FeedChange {
  return reviveChange(JSON.parse(text) as FeedChange);
}

export function reviveChange(change: FeedChange): FeedChange {
  const columns = getTableColumns(FEED_TABLES[change.topic] as PgTable) as Record<string, Column>;
  const row = change.row as Record<string, unknown>;
  for (const [name, column] of Object.entries(columns)) {
    if (column.dataType === "bigint" && row[name] !== null && row[name] !== undefined) row[name] = BigInt(row[name] as string);
  }
  return change;
}

/**
 * A cursor names the feed log it came from (its epoch) and a place in it. A log that was
 * recreated (an in-process log after a restart) has a new epoch, and old cursors are refused
 * rather than silently replaying the wrong thing.
 */
export function encodeCursor(epoch: string, seq: string): string {
  return Buffer.from(`feed:${epoch}:${seq}`).toString("base64url");
}

export function decodeCursor(cursor: string, epoch: string, isSeq: (text: string) => boolean): string {
  const text = Buffer.from(cursor, "base64url").toString();
  const [kind, cursorEpoch, seq, ...rest] = text.split(":");
  if (kind !== "feed" || !cursorEpoch || !seq || rest.length > 0) throw new ApiError("INVALID_CURSOR", "This is not a subscription cursor");
  if (cursorEpoch !== epoch) {
    throw new ApiError("CURSOR_EXPIRED", "This cursor belongs to a feed that no longer exists (the server restarted without Redis); re-query, then subscribe without `after`");
  }
  if (!isSeq(seq)) throw new ApiError("INVALID_CURSOR", "This cursor names no position of this feed");
  return seq;
}
