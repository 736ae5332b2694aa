/**
 * The deliverer's state in Postgres, in its own schema (WEBHOOKS_DB_SCHEMA): endpoints with the
 * cursor each has read up to, the outbox of events read and not yet delivered (in feed order per
 * endpoint, with their attempts), the log of every attempt, and the dead letters.
 */
import { fileURLToPath } from "node:url";
import type { Address } from "viem";
import { applyMigrations } from "../common/migrate";
import { createPostgresSql, type Sql } from "../common/sql";
import type { EndpointDefinition } from "./config";

const migrationsFolder = fileURLToPath(new URL("./db/migrations", import.meta.url));

export type Outcome = "delivered" | "failed" | "dead";

export type EndpointRow = EndpointDefinition & { source: "config" | "cli"; receivedCursor: string | null; generation: number };

export type OutboxRow = { id: string; endpoint: string; cursor: string; eventType: string; body: string; attempts: number; nextAttemptAt: Date; url: string; secret: string };

export type AttemptResult = { outcome: Outcome; status: number | null; error: string | null; durationMs: number };

export type WebhookStore = Awaited<ReturnType<typeof openWebhookStore>>;

export async function openWebhookStore(parameters: { url: string; schema: string }) {
  await applyMigrations({ url: parameters.url }, { schema: parameters.schema, migrationsFolder, store: "webhooks" });
  const sql: Sql = createPostgresSql({ url: parameters.url, max: 4 });
  const s = `"${parameters.schema}"`;

  const toEndpoint = (row: Record<string, unknown>): EndpointRow => ({
    name: row.name as string,
    url: row.url as string,
    secret: row.secret as string,
    recipient: (row.recipient as Address | null) ?? undefined,
    node: (row.node as Address | null) ?? undefined,
    streams: (row.streams as EndpointDefinition["streams"] | null) ?? undefined,
    includeFinality: row.include_finality as boolean,
    source: row.source as EndpointRow["source"],
    receivedCursor: row.received_cursor as string | null,
    generation: row.generation as number,
  });
  /** One attempt in the delivery log, inside the transaction that moves its event on. */
  const logDelivery = (tx: Sql, event: { endpoint: string; cursor: string; eventType: string }, attempt: number, result: AttemptResult) =>
    tx.query(`insert into ${s}.delivery (endpoint, cursor, event_type, attempt, outcome, status, error, duration_ms) values ($1, $2, $3, $4, $5, $6, $7, $8)`, [
      event.endpoint,
      event.cursor,
      event.eventType,
      attempt,
      result.outcome,
      result.status,
      result.error,
      result.durationMs,
    ]);
  const values = (endpoint: EndpointDefinition) => [endpoint.name, endpoint.url, endpoint.secret, endpoint.recipient ?? null, endpoint.node ?? null, endpoint.streams ?? null, endpoint.includeFinality];

  return {
    sql,
    close: () => sql.close(),

    async endpoints(): Promise<EndpointRow[]> {
      return (await sql.query(`select * from ${s}.endpoint order by name`)).map(toEndpoint);
    },

    async endpoint(name: string): Promise<EndpointRow | undefined> {
      const [row] = await sql.query(`select * from ${s}.endpoint where name = $1`, [name]);
      return row && toEndpoint(row);
    },

    /**
     * Makes the configured endpoints (source 'config') exactly `list`: new ones start at the
     * feed's head, changed filters take effect from the cursor already read (a new generation).
     */
    async syncConfigured(list: readonly EndpointDefinition[]): Promise<void> {
      await sql.transaction(async (tx) => {
        await tx.query(`delete from ${s}.endpoint where source = 'config' and not (name = any($1::text[]))`, [list.map((endpoint) => endpoint.name)]);
        for (const endpoint of list) {
          await tx.query(
            `insert into ${s}.endpoint (name, url, secret, recipient, node, streams, include_finality, source) values ($1, $2, $3, $4, $5, $6, $7, 'config')
             on conflict (name) do update set url = excluded.url, secret = excluded.secret, recipient = excluded.recipient, node = excluded.node,
               streams = excluded.streams, include_finality = excluded.include_finality, source = 'config',
               generation = endpoint.generation + (case when (endpoint.recipient, endpoint.node, endpoint.streams, endpoint.include_finality)
                 is distinct from (excluded.recipient, excluded.node, excluded.streams, excluded.include_finality) then 1 else 0 end)`,
            values(endpoint),
          );
        }
      });
    },

    /** Adds an endpoint from the CLI; false if the name is taken. `after` starts it after that cursor instead of at the head. */
    async add(endpoint: EndpointDefinition, after: string | null): Promise<boolean> {
      const rows = await sql.query(
        `insert into ${s}.endpoint (name, url, secret, recipient, node, streams, include_finality, source, received_cursor) values ($1, $2, $3, $4, $5, $6, $7, 'cli', $8)
         on conflict (name) do nothing returning name`,
        [...values(endpoint), after],
      );
      return rows.length === 1;
    },

    async remove(name: string): Promise<boolean> {
      return (await sql.query(`delete from ${s}.endpoint where name = $1 returning name`, [name])).length === 1;
    },

    /** Delivers again everything after `cursor`: what is waiting is dropped and the reader starts over from there. */
    async replay(name: string, cursor: string): Promise<boolean> {
      return sql.transaction(async (tx) => {
        const rows = await tx.query(`update ${s}.endpoint set received_cursor = $2, generation = generation + 1 where name = $1 returning name`, [name, cursor]);
        await tx.query(`delete from ${s}.outbox where endpoint = $1`, [name]);
        return rows.length === 1;
      });
    },

    /** Takes an event into the outbox and moves the endpoint's cursor past it, unless a replay or a change started a new generation. */
    async enqueue(name: string, generation: number, event: { cursor: string; eventType: string; body: string }): Promise<boolean> {
      return sql.transaction(async (tx) => {
        const moved = await tx.query(`update ${s}.endpoint set received_cursor = $3 where name = $1 and generation = $2 returning name`, [name, generation, event.cursor]);
        if (moved.length === 0) return false;
        await tx.query(`insert into ${s}.outbox (endpoint, cursor, event_type, body) values ($1, $2, $3, $4)`, [name, event.cursor, event.eventType, event.body]);
        return true;
      });
    },

    async pending(name?: string): Promise<number> {
      const [row] = await sql.query<{ count: string }>(`select count(*) as count from ${s}.outbox where $1::text is null or endpoint = $1`, [name ?? null]);
      return Number(row!.count);
    },

    /** The endpoint's oldest waiting event: the only one it may be sent, so deliveries stay in order. */
    async next(name: string): Promise<OutboxRow | undefined> {
      const [row] = await sql.query(
        `select o.*, e.url, e.secret from ${s}.outbox o join ${s}.endpoint e on e.name = o.endpoint where o.endpoint = $1 order by o.id limit 1`,
        [name],
      );
      if (!row) return undefined;
      return {
        id: String(row.id),
        endpoint: row.endpoint as string,
        cursor: row.cursor as string,
        eventType: row.event_type as string,
        body: row.body as string,
        attempts: row.attempts as number,
        nextAttemptAt: new Date(row.next_attempt_at as string),
        url: row.url as string,
        secret: row.secret as string,
      };
    },

    /** Logs an attempt and moves its event on: delivered or dead leave the outbox (dead into the dead letters), failed waits for `retryAt`. */
    async recordAttempt(row: OutboxRow, attempt: number, result: AttemptResult, retryAt?: Date): Promise<void> {
      await sql.transaction(async (tx) => {
        await logDelivery(tx, { endpoint: row.endpoint, cursor: row.cursor, eventType: row.eventType }, attempt, result);
        if (result.outcome === "failed") {
          await tx.query(`update ${s}.outbox set attempts = $2, next_attempt_at = $3, last_error = $4 where id = $1`, [row.id, attempt, retryAt, result.error]);
          return;
        }
        const removed = await tx.query(`delete from ${s}.outbox where id = $1 returning id`, [row.id]);
        if (result.outcome === "dead" && removed.length === 1) {
          await tx.query(`insert into ${s}.dead_letter (endpoint, cursor, event_type, body, attempts, last_error) values ($1, $2, $3, $4, $5, $6)`, [
            row.endpoint,
            row.cursor,
            row.eventType,
            row.body,
            attempt,
            result.error,
          ]);
        }
      });
    },

    async log(name: string | undefined, limit: number) {
      return sql.query<{ id: string; endpoint: string; cursor: string; event_type: string; attempt: number; outcome: Outcome; status: number | null; error: string | null; duration_ms: number; at: Date }>(
        `select * from ${s}.delivery where $1::text is null or endpoint = $1 order by id desc limit $2`,
        [name ?? null, limit],
      );
    },

    /** Dead letters not yet redelivered, oldest first; `ids` narrows them. */
    async deadLetters(filter: { name?: string; ids?: string[] } = {}) {
      return sql.query<{ id: string; endpoint: string; cursor: string; event_type: string; body: string; attempts: number; last_error: string | null; dead_at: Date }>(
        `select * from ${s}.dead_letter where redelivered_at is null and ($1::text is null or endpoint = $1) and ($2::bigint[] is null or id = any($2::bigint[])) order by id`,
        [filter.name ?? null, filter.ids ?? null],
      );
    },

    async markRedelivered(id: string, result: AttemptResult, attempt: number, letter: { endpoint: string; cursor: string; event_type: string }): Promise<void> {
      await sql.transaction(async (tx) => {
        await logDelivery(tx, { endpoint: letter.endpoint, cursor: letter.cursor, eventType: letter.event_type }, attempt, result);
        if (result.outcome === "delivered") await tx.query(`update ${s}.dead_letter set redelivered_at = now() where id = $1`, [id]);
      });
    },
  };
}
