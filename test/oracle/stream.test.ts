/**
 * The result stream's dead letters, on both implementations: one entry per `sourceId` however
 * often it is dead-lettered. (Across real crashes: crash.test.ts.)
 */
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { createMemoryStream, createRedisStream, type ResultStream, type StreamEntry } from "../../oracle/stream";

const redisUrl = process.env.REDIS_URL;
const keys = { stream: `test:${randomUUID().slice(0, 8)}:results`, deadLetter: `test:${randomUUID().slice(0, 8)}:dead`, group: "oracle" };

const pairs = (flat: string[]) => Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i]!, flat[2 * i + 1]!] as const);

type Subject = { stream: ResultStream; deadLetters: () => Promise<StreamEntry[]> };

const subjects: [string, () => Subject][] = [
  [
    "memory",
    () => {
      const stream = createMemoryStream();
      return { stream, deadLetters: async () => stream.deadLetters };
    },
  ],
];
const redis = redisUrl ? new Redis(redisUrl) : undefined;
if (redis) {
  subjects.push([
    "redis",
    () => ({
      stream: createRedisStream({ url: redisUrl!, ...keys }),
      deadLetters: async () => (await redis.xrange(keys.deadLetter, "-", "+")).map(([id, flat]) => ({ id, fields: Object.fromEntries(pairs(flat)) })),
    }),
  ]);
}

afterAll(async () => {
  if (!redis) return;
  const markers = await redis.keys(`${keys.deadLetter}:seen:*`);
  await redis.del(keys.deadLetter, ...markers);
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
      const letters = (await deadLetters()).filter((entry) => entry.fields.sourceId?.includes(name));
      expect(letters.map((entry) => [entry.id, entry.fields])).toEqual([
        [first, { sourceId: `${name}-1`, code: "bad_task_id", reason: "first" }],
        [other, { sourceId: `job:${name}`, code: "task_not_found", reason: "other" }],
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
