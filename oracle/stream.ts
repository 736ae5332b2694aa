/**
 * The scheduler's result stream with consumer-group semantics (at-least-once delivery):
 * Redis Streams in production, an in-process equivalent when REDIS_URL is unset.
 */
import { Redis } from "ioredis";

export type StreamEntry = { id: string; fields: Record<string, string> };

export type ResultStream = {
  /** Creates the consumer group if missing (from the start of the stream). */
  ensureGroup(): Promise<void>;
  /** New entries for `consumer`; with `pending`, the entries already delivered to it and not acknowledged. */
  read(parameters: { consumer: string; count: number; blockMs: number; pending?: boolean }): Promise<StreamEntry[]>;
  /** Takes over entries pending longer than `minIdleMs` with any consumer (XAUTOCLAIM). */
  claimIdle(parameters: { consumer: string; minIdleMs: number; count: number }): Promise<StreamEntry[]>;
  ack(ids: readonly string[]): Promise<void>;
  publish(fields: Record<string, string>): Promise<string>;
  /**
   * Publishes a dead letter once per `sourceId`, however often it is called (a worker killed
   * between publishing and acknowledging publishes again after its restart). The new entry's id,
   * or undefined when that source was already dead-lettered.
   */
  deadLetter(fields: DeadLetterFields): Promise<string | undefined>;
  /** Entries not yet delivered plus entries delivered and not acknowledged. */
  backlog(): Promise<number>;
  close(): Promise<void>;
};

export type StreamKeys = { stream: string; deadLetter: string; group: string };

/** `sourceId` names what died: the stream entry's id, or `job:<id>` for a job found dead later. */
type DeadLetterFields = { sourceId: string } & Record<string, string>;

/**
 * How long a dead letter's source is remembered. A source comes back only through a worker that
 * crashed before its ack (redelivered at its restart or claimed after ORACLE_CLAIM_IDLE_MS) or
 * before marking a dead job published (republished by the next poll): minutes, so a week is
 * generous. The dead-letter stream is never trimmed, so its own age gives no shorter bound.
 */
const DEAD_LETTER_SEEN_SECONDS = 7 * 24 * 3600;

/**
 * KEYS: dead-letter stream, the source's seen marker. ARGV: seconds to remember the source, then
 * the fields as name, value pairs. One script, so a crash cannot fall between marking and adding.
 */
const DEAD_LETTER_ONCE = `
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then return false end
return redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))`;

type StreamScripts = {
  deadLetterOnce: (deadLetter: string, seen: string, seconds: number, ...fields: string[]) => Promise<string | null>;
};

const toFields = (flat: string[]): Record<string, string> => {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return fields;
};
const toEntries = (raw: [string, string[] | null][]): StreamEntry[] =>
  // An entry trimmed from the stream while pending comes back without fields: nothing to do but ack it.
  raw.map(([id, flat]) => ({ id, fields: flat ? toFields(flat) : {} }));

export function createRedisStream(parameters: { url: string } & StreamKeys): ResultStream {
  const redis = new Redis(parameters.url, { maxRetriesPerRequest: 3, lazyConnect: false }) as Redis & StreamScripts;
  redis.defineCommand("deadLetterOnce", { numberOfKeys: 2, lua: DEAD_LETTER_ONCE });
  // Blocking reads get their own connection so they never hold up acks and publishes.
  const reader = redis.duplicate();
  const { stream, group, deadLetter } = parameters;
  return {
    async ensureGroup() {
      await redis.xgroup("CREATE", stream, group, "0", "MKSTREAM").catch((error: Error) => {
        if (!error.message.includes("BUSYGROUP")) throw error;
      });
    },
    async read({ consumer, count, blockMs, pending }) {
      const result = pending
        ? await reader.xreadgroup("GROUP", group, consumer, "COUNT", count, "STREAMS", stream, "0")
        : await reader.xreadgroup("GROUP", group, consumer, "COUNT", count, "BLOCK", blockMs, "STREAMS", stream, ">");
      const streams = result as [string, [string, string[] | null][]][] | null;
      return streams?.[0] ? toEntries(streams[0][1]) : [];
    },
    async claimIdle({ consumer, minIdleMs, count }) {
      const [, claimed] = (await redis.xautoclaim(stream, group, consumer, minIdleMs, "0-0", "COUNT", count)) as [
        string,
        [string, string[] | null][],
      ];
      return toEntries(claimed);
    },
    async ack(ids) {
      if (ids.length > 0) await redis.xack(stream, group, ...ids);
    },
    publish: async (fields) => (await redis.xadd(stream, "*", ...Object.entries(fields).flat()))!,
    deadLetter: async (fields) =>
      (await redis.deadLetterOnce(deadLetter, `${deadLetter}:seen:${fields.sourceId}`, DEAD_LETTER_SEEN_SECONDS, ...Object.entries(fields).flat())) ??
      undefined,
    async backlog() {
      const groups = (await redis.xinfo("GROUPS", stream).catch(() => [])) as unknown[][];
      for (const info of groups) {
        const fields = toFields(info.map(String));
        if (fields.name === group) return Number(fields.pending ?? 0) + Number(fields.lag ?? 0);
      }
      return 0;
    },
    async close() {
      reader.disconnect();
      await redis.quit();
    },
  };
}

/** In-process stream for the embedded mode: same delivery semantics, nothing survives a restart. */
export function createMemoryStream(): ResultStream & { deadLetters: StreamEntry[] } {
  const entries: StreamEntry[] = [];
  const deadLetters: StreamEntry[] = [];
  const deadSources = new Set<string>();
  const pending = new Map<string, { consumer: string; deliveredAt: number }>();
  let delivered = 0;
  let sequence = 0;
  let waiters: (() => void)[] = [];
  const byId = (id: string) => entries.find((entry) => entry.id === id);
  const wake = () => {
    const current = waiters;
    waiters = [];
    for (const waiter of current) waiter();
  };
  return {
    deadLetters,
    async ensureGroup() {},
    async read({ consumer, count, blockMs, pending: ownPending }) {
      if (ownPending) {
        return [...pending.entries()]
          .filter(([, owner]) => owner.consumer === consumer)
          .slice(0, count)
          .map(([id]) => byId(id)!);
      }
      if (delivered >= entries.length && blockMs > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, blockMs);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      const batch = entries.slice(delivered, delivered + count);
      delivered += batch.length;
      for (const entry of batch) pending.set(entry.id, { consumer, deliveredAt: Date.now() });
      return batch;
    },
    async claimIdle({ consumer, minIdleMs, count }) {
      const now = Date.now();
      const idle = [...pending.entries()].filter(([, owner]) => now - owner.deliveredAt >= minIdleMs).slice(0, count);
      for (const [id] of idle) pending.set(id, { consumer, deliveredAt: now });
      return idle.map(([id]) => byId(id)!);
    },
    async ack(ids) {
      for (const id of ids) pending.delete(id);
    },
    async publish(fields) {
      const id = `${Date.now()}-${sequence++}`;
      entries.push({ id, fields });
      wake();
      return id;
    },
    async deadLetter(fields) {
      if (deadSources.has(fields.sourceId)) return undefined;
      deadSources.add(fields.sourceId);
      const id = `${Date.now()}-${sequence++}`;
      deadLetters.push({ id, fields });
      return id;
    },
    backlog: async () => entries.length - delivered + pending.size,
    async close() {
      wake();
    },
  };
}
