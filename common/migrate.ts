/**
 * Numbered migrations (drizzle's migrator and journal format) applied at start, in a store's own
 * schema, on Postgres or PGlite alike. The SQL names no schema: it runs with the schema first on
 * the search path, so one folder serves any schema name. Each store (the oracle's, the webhooks')
 * keeps its own folder.
 */
import postgres from "postgres";
import type { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";

export type MigrationTarget = { url: string } | { pglite: PGlite };

/** `store` names the advisory lock, so two stores sharing a schema name never wait on each other. */
export async function applyMigrations(target: MigrationTarget, parameters: { schema: string; migrationsFolder: string; store: string }): Promise<void> {
  const { schema, migrationsFolder, store } = parameters;
  const config = { migrationsFolder, migrationsSchema: schema, migrationsTable: "migrations" };
  const quoted = `"${schema}"`;
  if ("pglite" in target) {
    await target.pglite.exec(`create schema if not exists ${quoted}; set search_path to ${quoted}`);
    try {
      await migratePglite(drizzlePglite(target.pglite), config);
    } finally {
      await target.pglite.exec(`set search_path to public`);
    }
    return;
  }
  // One connection, so the advisory lock, the search path and the migrations share a session:
  // replicas starting together apply each migration once, one after the other.
  const client = postgres(target.url, { max: 1, onnotice: () => {}, connection: { search_path: quoted } });
  try {
    await client`select pg_advisory_lock(hashtext(${`${store}-migrations:${schema}`}))`;
    await client.unsafe(`create schema if not exists ${quoted}`);
    await migratePostgres(drizzlePostgres(client), config);
  } finally {
    await client.end({ timeout: 5 });
  }
}
