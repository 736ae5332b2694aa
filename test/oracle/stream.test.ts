/**
 * The result stream's dead letters, on both implementations: one entry per `sourceId` however
 * often it is dead-lettered. (Across real crashes: crash.test.ts.)
 */
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { createMemoryStream, createRedisStream, type ResultStream } from "../../oracle/stream";
import { deleteStreamKeys, readDeadLetters } from "./helpers";

const redisUrl = process.env.REDIS_URL;
const keys = { stream: `test:${randomUUID().slice(0, 8)}:results`, deadLetter: `test:${randomUUID().slice(0, 8)}:dead`, group: "oracle" };

type Subject = { stream: ResultStream; deadLetters: () => Promise<Record<string, string>[]> };

const subjects: [string, () => Subject][] = [
  [
    "memory",
    () => {
      const stream = createMemoryStream();
      return { stream, deadLetters: async () => stream.deadLetters.map((entry) => entry.fields) };
    },
  ],
];
const redis = redisUrl ? new Redis(redisUrl) : undefined;
if (redis) {
  subjects.push([
    "redis",
    () => ({
      stream: createRedisStream({ url: redisUrl!, ...keys }),
      deadLetters: () => readDeadLetters(redis, keys.deadLetter),
    }),
  ]);
}

afterAll(async () => {
  if (!redis) return;
  await deleteStreamKeys(redis, keys);
  redis.disconnect();
});

describe.each(subjects)("dead letters on the %s stream", (name, create) => {
  it("publishes each source once, whatever is republished", async () => {
    const { stream, deadLetters } = create();
    try {
      const first = await stream.deadLetter({ sourceId: `${name}-1`, code: "bad_task_id", reason: "first" });
      const again = await stream.deadLetter({ sourceId: `${name}-1`, code: "bad_task_id", reason: "republished" });
      const other = await stream.deadLetter({ sourceId: `job:${name}`, code: "task_not_found", reason: "other" });
      expect(first).toMatch(/^\d+-\d+$/);
      expect(again).toBeUndefined();
      expect(other).toMatch(/^\d+-\d+$/);
      expect((await deadLetters()).filter((fields) => fields.sourceId?.includes(name))).toEqual([
        { sourceId: `${name}-1`, code: "bad_task_id", reason: "first" },
        { sourceId: `job:${name}`, code: "task_not_found", reason: "other" },
      ]);
    } finally {
      await stream.close();
    }
  });
});

describe.skipIf(!redis)("dead-letter markers on Redis", () => {
  it("expire, so remembering sources does not grow without bound", async () => {
    const stream = createRedisStream({ url: redisUrl!, ...keys });
    try {
      await stream.deadLetter({ sourceId: "ttl", code: "bad_task_id", reason: "r" });
      const ttl = await redis!.ttl(`${keys.deadLetter}:seen:ttl`);
      expect(ttl).toBeGreaterThan(24 * 3600);
      expect(ttl).toBeLessThanOrEqual(7 * 24 * 3600);
    } finally {
      await stream.close();
    }
  });
});
