/**
 * Tasks per bucket (api/task-series.ts) on the indexer's task table in an in-memory PGlite: each
 * bucket's created and ended-by-outcome counts equal the tasks counted here, whatever the
 * interval and UTC offset; open tasks count only at creation; every bucket is present.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiError } from "../../api/errors";
import { taskSeries, type TaskPoint } from "../../api/task-series";
import { seriesBuckets, type SeriesSpec } from "../../api/time";
import { seededRandom } from "../../common/random";
import { bucketStart } from "../../domain/buckets";
import { task } from "../../schema";
import { tablesInMemory } from "./indexer-tables";

type Task = typeof task.$inferSelect;

const H = 3600;
const D = 24 * H;
/** Saturday 2025-01-25, 00:00 UTC. */
const T0 = Date.parse("2025-01-25T00:00:00Z") / 1000;
const OUTCOMES = ["completed", "failed", "expired", "open"] as const;

/** Ten days of tasks, each ending up to six hours after it was created (or still open). */
function tasks(count: number, seed: number): (Task & { outcome: (typeof OUTCOMES)[number] })[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const createdAt = T0 + random.int(10 * D);
    const outcome = random.pick(OUTCOMES)!;
    const settledAt = outcome === "open" ? null : createdAt + random.int(6 * H);
    return {
      outcome,
      id: `0x${i.toString(16).padStart(64, "0")}`,
      user: "0x00000000000000000000000000000000000000a1",
      node: outcome === "expired" || outcome === "open" ? null : "0x00000000000000000000000000000000000000b1",
      status: outcome === "completed" ? "COMPLETED" : outcome === "open" ? "CREATED" : "CANCELLED",
      failed: outcome === "failed",
      escrow: 10n ** 18n,
      actualCost: null,
      nodePayment: null,
      stakerPayment: null,
      treasuryPayment: null,
      refund: null,
      performanceScore: null,
      createdAt,
      createdBlock: i,
      createdTx: "0x01",
      settledAt,
      settledBlock: settledAt === null ? null : i + 1,
      settledLogIndex: settledAt === null ? null : 0,
      settledTx: settledAt === null ? null : "0x02",
      durationSeconds: settledAt === null ? null : settledAt - createdAt,
      updatedBlock: i,
      updatedBlockHash: "0x02",
      updatedLogIndex: 0,
    };
  });
}

const TASKS = tasks(300, 7);

/** The series counted here: `count` buckets of `size` seconds from `origin`. */
function expectedSeries(origin: number, size: number, count: number): TaskPoint[] {
  const within = (time: number | null, start: number) => time !== null && time >= start && time < start + size;
  return Array.from({ length: count }, (_, index) => {
    const start = origin + index * size;
    const ended = (outcome: string) => TASKS.filter((row) => row.outcome === outcome && within(row.settledAt, start)).length;
    return {
      bucketStart: start,
      created: TASKS.filter((row) => within(row.createdAt, start)).length,
      completed: ended("completed"),
      failed: ended("failed"),
      expired: ended("expired"),
    };
  });
}

let tables: Awaited<ReturnType<typeof tablesInMemory>>;

beforeAll(async () => {
  tables = await tablesInMemory([task]);
  await tables.db.insert(task).values(TASKS.map(({ outcome: _, ...row }) => row));
});
afterAll(async () => {
  await tables?.close();
});

describe("series buckets (api/time.ts)", () => {
  it.each<[string, SeriesSpec, { origin: number; size: number; count: number; granularity: "HOUR" | "DAY" }]>([
    ["hours, the first aligned down", { interval: "HOUR", from: T0 + 90 * 60, to: T0 + 5 * H }, { origin: T0 + H, size: H, count: 4, granularity: "HOUR" }],
    ["UTC days from day buckets", { interval: "DAY", from: T0, to: T0 + 3 * D }, { origin: T0, size: D, count: 3, granularity: "DAY" }],
    ["days at UTC+9 from hours", { interval: "DAY", from: T0, to: T0 + 3 * D, utcOffsetHours: 9 }, { origin: T0 - 9 * H, size: D, count: 4, granularity: "HOUR" }],
    ["weeks from Monday", { interval: "WEEK", from: T0, to: T0 + 10 * D }, { origin: T0 - 5 * D, size: 7 * D, count: 3, granularity: "DAY" }],
    ["an empty range", { interval: "DAY", from: T0 + H, to: T0 + H }, { origin: T0, size: D, count: 0, granularity: "DAY" }],
  ])("%s", (_what, spec, expected) => {
    expect(seriesBuckets(spec, 2_000)).toEqual({ ...expected, end: expected.origin + expected.count * expected.size });
  });

  it("refuses more buckets than allowed", () => {
    expect(() => seriesBuckets({ interval: "HOUR", from: T0, to: T0 + 11 * H }, 10)).toThrow(/11 HOUR buckets; at most 10/);
  });
});

describe("task series", () => {
  it.each<[string, SeriesSpec, { origin: number; size: number; count: number }]>([
    ["hours", { interval: "HOUR", from: T0, to: T0 + 3 * D }, { origin: T0, size: H, count: 72 }],
    ["UTC days", { interval: "DAY", from: T0, to: T0 + 11 * D }, { origin: T0, size: D, count: 11 }],
    ["days at UTC-5", { interval: "DAY", from: T0 + 2 * D, to: T0 + 9 * D, utcOffsetHours: -5 }, { origin: T0 + D + 5 * H, size: D, count: 8 }],
    ["weeks at UTC+14", { interval: "WEEK", from: T0, to: T0 + 16 * D, utcOffsetHours: 14 }, { origin: T0 - 5 * D - 14 * H, size: 7 * D, count: 4 }],
  ])("%s", async (_what, spec, { origin, size, count }) => {
    const series = await taskSeries(tables.context(), spec);
    expect(series).toEqual(expectedSeries(origin, size, count));
    for (const outcome of ["created", "completed", "failed", "expired"] as const) expect(series.some((point) => point[outcome] > 0), outcome).toBe(true);
  });

  it("counts every task once created, and once ended unless still open", async () => {
    const series = await taskSeries(tables.context(), { interval: "WEEK", from: T0 - 7 * D, to: T0 + 21 * D });
    const sum = (field: keyof TaskPoint) => series.reduce((total, point) => total + point[field], 0);
    expect(sum("created")).toBe(TASKS.length);
    expect(sum("completed") + sum("failed") + sum("expired")).toBe(TASKS.filter((row) => row.outcome !== "open").length);
    expect(series.map((point) => point.bucketStart)).toEqual(series.map((point) => bucketStart(point.bucketStart, "WEEK")));
  });

  it("zero-fills a range without tasks, and spends its points from the request's budget", async () => {
    const context = tables.context();
    expect(await taskSeries(context, { interval: "DAY", from: T0 - 3 * D, to: T0 })).toEqual(expectedSeries(T0 - 3 * D, D, 3));
    const error = await taskSeries(context, { interval: "HOUR", from: T0, to: T0 + 1_998 * H }).catch((caught: ApiError) => caught);
    expect((error as ApiError).code).toBe("TOO_MANY_SERIES_POINTS");
  });
});
