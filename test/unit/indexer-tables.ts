/**
 * The indexer's tables, empty, in an in-memory PGlite, and an API request context over them:
 * for unit tests of the API's reads (pagination, revenue series) without Ponder or a server.
 */
import { PGlite } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { getTableConfig, type PgTable } from "drizzle-orm/pg-core";
import { loadApiConfig } from "../../api/config";
import { createContext } from "../../api/context";

export async function tablesInMemory(tables: PgTable[], env: NodeJS.ProcessEnv = {}) {
  const pglite = new PGlite();
  const db = drizzle(pglite);
  const enums = new Set<string>();
  for (const table of tables) {
    const { name, columns } = getTableConfig(table);
    for (const column of columns) {
      // Ponder declares its enums as Postgres enums: comparisons with them behave as in production.
      if (column.enumValues && column.columnType === "PgEnumColumn" && !enums.has(column.getSQLType())) {
        enums.add(column.getSQLType());
        await pglite.exec(`CREATE TYPE "${column.getSQLType()}" AS ENUM (${column.enumValues.map((value) => `'${value}'`).join(", ")})`);
      }
    }
    const definitions = columns.map((column) => {
      const type = column.columnType === "PgEnumColumn" ? `"${column.getSQLType()}"` : column.getSQLType();
      return `"${column.name}" ${type}${column.notNull ? " NOT NULL" : ""}`;
    });
    await pglite.exec(`CREATE TABLE "${name}" (${definitions.join(", ")})`);
  }
  const dependencies = { db, config: loadApiConfig(env) };
  return {
    db,
    /** A fresh request's context: its own loaders, statement count and series budget. */
    context: () => createContext(dependencies),
    close: () => pglite.close(),
  };
}
