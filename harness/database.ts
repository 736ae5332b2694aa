/**
 * A Postgres database of a suite's own. Ponder keeps its block and log cache (`ponder_sync`)
 * per database and keyed by chain id, and every test anvil is chain 31337 with a different
 * history: sharing one database between suites would serve one chain's logs to another.
 */
import { randomBytes } from "node:crypto";
import postgres from "postgres";

export async function createTestDatabase(baseUrl: string, prefix = "far_test") {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const drop = async () => {
    const sql = postgres(baseUrl, { max: 1, onnotice: () => {} });
    await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await sql.end();
  };
  return { url: url.toString(), name, drop };
}
