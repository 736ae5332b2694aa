/** Subscription cursors: every malformed one is INVALID_CURSOR, another feed's is CURSOR_EXPIRED, a good one gives its position. */
import { describe, expect, it } from "vitest";
import { ApiError } from "../../api/errors";
import { isCounterSeq, isStreamId } from "../../api/feed/log";
import { decodeCursor, encodeCursor } from "../../api/feed/messages";

const EPOCH = "3f0c2c2e-8d4e-4a4f-9a53-6a0b7d1c2e11";
const raw = (text: string) => Buffer.from(text).toString("base64url");

function outcome(cursor: string, isSeq: (text: string) => boolean): string {
  try {
    return `seq ${decodeCursor(cursor, EPOCH, isSeq)}`;
  } catch (error) {
    if (error instanceof ApiError) return error.code;
    throw error;
  }
}

describe("subscription cursors", () => {
  it.each([
    // [what, cursor, log's positions, outcome]
    ["a counter position", encodeCursor(EPOCH, "42"), isCounterSeq, "seq 42"],
    ["a stream id", encodeCursor(EPOCH, "1700000000000-3"), isStreamId, "seq 1700000000000-3"],
    ["not base64 at all", "not a cursor!", isCounterSeq, "INVALID_CURSOR"],
    ["empty", "", isCounterSeq, "INVALID_CURSOR"],
    ["another kind of cursor", raw(`page:${EPOCH}:1`), isCounterSeq, "INVALID_CURSOR"],
    ["no position", raw(`feed:${EPOCH}:`), isCounterSeq, "INVALID_CURSOR"],
    ["the right feed, a malformed counter", encodeCursor(EPOCH, "12abc"), isCounterSeq, "INVALID_CURSOR"],
    ["the right feed, a stream id where a counter belongs", encodeCursor(EPOCH, "1-2"), isCounterSeq, "INVALID_CURSOR"],
    ["the right feed, a malformed stream id", encodeCursor(EPOCH, "1700000000000-x"), isStreamId, "INVALID_CURSOR"],
    ["the right feed, a huge number", encodeCursor(EPOCH, "9".repeat(400)), isCounterSeq, "INVALID_CURSOR"],
    ["extra parts", raw(`feed:${EPOCH}:1:2`), isCounterSeq, "INVALID_CURSOR"],
    ["another feed's cursor", encodeCursor("another-epoch", "42"), isCounterSeq, "CURSOR_EXPIRED"],
  ])("%s", (_what, cursor, isSeq, expected) => {
    expect(outcome(cursor, isSeq)).toBe(expected);
  });
});
