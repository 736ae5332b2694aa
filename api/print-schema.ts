/**
 * Writes the schema's SDL to api/schema.graphql (`tsx api/print-schema.ts`), the contract clients
 * read; with `--check`, fails if the file differs from the schema the code builds.
 */
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { printSchema } from "graphql";
import { buildSchema } from "./schema";

export const SCHEMA_FILE = fileURLToPath(new URL("schema.graphql", import.meta.url));

export const printedSchema = () => `${printSchema(buildSchema())}\n`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes("--check")) {
    const committed = await readFile(SCHEMA_FILE, "utf8").catch(() => "");
    if (committed !== printedSchema()) {
      console.error("api/schema.graphql is stale: run `tsx api/print-schema.ts`");
      process.exit(1);
    }
  } else {
    await writeFile(SCHEMA_FILE, printedSchema());
  }
}
