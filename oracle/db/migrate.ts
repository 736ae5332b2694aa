/** The oracle's store migrations (oracle/db/migrations), applied by common/migrate.ts. */
import { fileURLToPath } from "node:url";
import { applyMigrations, type MigrationTarget } from "../../common/migrate";

const migrationsFolder = fileURLToPath(new URL("./migrations", import.meta.url));

export function migrateSchema(target: MigrationTarget, schema: string): Promise<void> {
  return applyMigrations(target, { schema, migrationsFolder, store: "oracle" });
}
