/**
 * SQL over HTTP tried as an attacker would, against real `ponder start` processes: off by default
 * (PGlite and Postgres) and on a replica, refused on PGlite when asked for, and, enabled on
 * Postgres, behind a token, refusing every kind of write, cut at its statement timeout while
 * GraphQL answers, capped in rows and bytes — and the tables unchanged after all of it.
 */
import postgres from "postgres";
import superjson from "superjson";
import { beforeAll, describe, expect, it } from "vitest";
import { loadApiConfig } from "../../api/config";
import { startDeployedChain } from "../../harness/chain";
import { createTestDatabase } from "../../harness/database";
import { data } from "../../harness/graphql";
import { waitUntil } from "../../harness/wait";
import { startPonder, type PonderProcess } from "../../harness/ponder";
import { startReplica } from "../../harness/replica";
import { runScenario } from "../../harness/scenario";
import { cleanupAfterAll } from "../helpers/cleanup";

const databaseUrl = process.env.DATABASE_URL;
const TOKEN = "test-sql-token-0123456789abcdef";
const MAX_ROWS = 40;
const MAX_BYTES = 20_000;
const TABLES = ["account", "token_stats", "staker", "escrow_account", "node", "task", "payout", "revenue_bucket", "node_revenue_bucket"];

type SqlReply = { status: number; body: { rows?: Record<string, unknown>[]; error?: { code: string; message: string } } };

/** `token: null` sends no Authorization header. */
async function sqlOverHttp(baseUrl: string, text: string, token: string | null = TOKEN): Promise<SqlReply> {
  const response = await fetch(`${baseUrl}/sql/db?sql=${encodeURIComponent(superjson.stringify({ sql: text, params: [] }))}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const body = await response.text();
  return { status: response.status, body: body.startsWith("{") ? JSON.parse(body) : { error: { code: "", message: body } } };
}

/** Every write a superuser connection could attempt inside a SELECT-only endpoint. */
const WRITES = [
  "INSERT INTO task (id) VALUES ('0x00')",
  "UPDATE token_stats SET total_supply = 0",
  "DELETE FROM payout",
  "TRUNCATE payout",
  "COPY payout TO PROGRAM 'touch /tmp/far-sql-pwned'",
  "COPY (SELECT 1) TO STDOUT",
  "CREATE TABLE far_sql_pwned (a int)",
  "COMMENT ON TABLE payout IS 'pwned'",
  "DO $$ BEGIN DELETE FROM payout; END $$",
  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity",
  "SELECT pg_terminate_backend(1)",
  "SELECT set_config('default_transaction_read_only', 'off', false)",
  "SELECT 1; DELETE FROM payout",
  "SELECT count(*) FROM payout; UPDATE token_stats SET total_supply = 0",
  "WITH gone AS (DELETE FROM payout RETURNING *) SELECT count(*) FROM gone",
  "SELECT * INTO far_sql_copy FROM payout",
  "SELECT * FROM payout FOR UPDATE",
  "SELECT * FROM pg_catalog.pg_authid",
  "SELECT * FROM pg_authid",
  "SELECT * FROM (WITH pg_authid AS (SELECT 1) SELECT 1) s, pg_authid",
  "SELECT * FROM (WITH _ponder_meta AS (SELECT 1) SELECT 1) s, _ponder_meta",
  "SELECT pg_read_file('/etc/passwd')",
  "SELECT lo_import('/etc/passwd')",
  "SELECT dblink_exec('dbname=test', 'DELETE FROM payout')",
  "SELECT nextval('x')",
  "SELECT pg_catalog.set_config('statement_timeout', '0', false)",
  "SELECT * FROM generate_series(1, 10)",
  "SET default_transaction_read_only = off",
  "BEGIN",
  "LOCK TABLE payout",
  "VACUUM payout",
  "NOTIFY far, 'x'",
  "PREPARE p AS DELETE FROM payout",
  "EXPLAIN ANALYZE DELETE FROM payout",
];

describe("SQL over HTTP is off by default and refused on PGlite", () => {
  const cleanup = cleanupAfterAll();

  it("answers SQL_DISABLED (404) on a default `ponder start` (PGlite)", async () => {
    const chain = await startDeployedChain();
    cleanup.push(() => chain.anvil.stop());
    const ponder = await startPonder({ rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir });
    cleanup.push(() => ponder.kill());
    await ponder.waitForBlock(await chain.publicClient.getBlockNumber());
    for (const token of [null, TOKEN]) {
      const reply = await sqlOverHttp(ponder.baseUrl, "SELECT count(*) FROM payout", token);
      expect(reply.status).toBe(404);
      expect(reply.body.error?.code).toBe("SQL_DISABLED");
    }
    // A write through Ponder's old route no longer exists either.
    const comment = await sqlOverHttp(ponder.baseUrl, "COMMENT ON TABLE payout IS 'pwned'");
    expect(comment.body.error?.code).toBe("SQL_DISABLED");
  });

  it("refuses to start with API_SQL=true on PGlite, naming the setting", async () => {
    const chain = await startDeployedChain();
    cleanup.push(() => chain.anvil.stop());
    const ponder = await startPonder({ rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir, env: { API_SQL: "true", API_SQL_TOKEN: TOKEN } });
    cleanup.push(() => ponder.kill());
    await waitUntil(() => ponder.log().includes("Invalid setting API_SQL: needs Postgres"), "the configuration error in Ponder's log", 120_000);
    const reply = await sqlOverHttp(ponder.baseUrl, "SELECT count(*) FROM payout").catch(() => undefined);
    expect(reply?.body.rows).toBeUndefined();
  });

  it("requires a token of at least 16 characters when enabled", () => {
    expect(() => loadApiConfig({ API_SQL: "true" })).toThrow("Invalid setting API_SQL_TOKEN: required when API_SQL=true");
    expect(() => loadApiConfig({ API_SQL: "true", API_SQL_TOKEN: "short" })).toThrow("Invalid setting API_SQL_TOKEN: must be at least 16 characters");
    expect(loadApiConfig({}).API_SQL).toBe(false);
  });
});

describe.skipIf(!databaseUrl)("SQL over HTTP enabled on Postgres", () => {
  const cleanup = cleanupAfterAll();
  let ponder: PonderProcess;
  let direct: postgres.Sql;
  let before: Record<string, string>;


  /** Each table's row count and a digest of its whole content, read directly from Postgres. */
  const fingerprint = async () => {
    const result: Record<string, string> = {};
    for (const table of TABLES) {
      const [row] = await direct.unsafe(`SELECT count(*)::text AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest FROM "${table}" t`);
      result[table] = `${row!.n} ${row!.digest}`;
    }
    const [objects] = await direct.unsafe(
      `SELECT count(*)::int AS n, obj_description('payout'::regclass) AS comment FROM pg_class WHERE relname IN ('far_sql_pwned', 'far_sql_copy')`,
    );
    result.objects = `${objects!.n} ${objects!.comment}`;
    return result;
  };

  beforeAll(async () => {
    const chain = await startDeployedChain();
    cleanup.push(() => chain.anvil.stop());
    const scenario = await runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient: chain.publicClient, manifest: chain.manifest, seed: 11, steps: 250 });
    expect(scenario.sent).toBeGreaterThan(100);
    const database = await createTestDatabase(databaseUrl!);
    cleanup.push(() => database.drop());
    ponder = await startPonder({
      rpcUrl: chain.anvil.rpcUrl,
      deploymentsDir: chain.deploymentsDir,
      databaseUrl: database.url,
      env: { API_SQL: "true", API_SQL_TOKEN: TOKEN, API_SQL_TIMEOUT_MS: "1000", API_SQL_MAX_ROWS: String(MAX_ROWS), API_SQL_MAX_BYTES: String(MAX_BYTES), API_LOG_LEVEL: "warn" },
    });
    cleanup.push(() => ponder.kill());
    await ponder.waitForBlock(await chain.publicClient.getBlockNumber());
    direct = postgres(database.url, { max: 1, onnotice: () => {}, connection: { search_path: ponder.schema } });
    cleanup.push(() => direct.end());
    before = await fingerprint();
    expect(Number(before.payout!.split(" ")[0])).toBeGreaterThan(MAX_ROWS);
  });

  it("refuses a missing or wrong token with UNAUTHORIZED (401)", async () => {
    for (const token of [null, "wrong-token-0123456789abcdef", `${TOKEN}x`, TOKEN.slice(0, -1)]) {
      const reply = await sqlOverHttp(ponder.baseUrl, "SELECT count(*) FROM payout", token);
      expect(reply.status).toBe(401);
      expect(reply.body.error?.code).toBe("UNAUTHORIZED");
    }
  });

  it("answers a plain SELECT over the indexer's tables", async () => {
    const reply = await sqlOverHttp(ponder.baseUrl, "WITH s AS (SELECT stream, amount FROM payout) SELECT stream, count(*)::int AS n FROM s GROUP BY stream ORDER BY stream");
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect(reply.body.rows!.length).toBeGreaterThan(0);
    const [total] = await direct.unsafe(`SELECT count(*)::int AS n FROM payout`);
    expect(reply.body.rows!.reduce((sum, row) => sum + Number(row.n), 0)).toBe(total!.n);
  });

  it("refuses every kind of write, each with a code", async () => {
    for (const text of WRITES) {
      const reply = await sqlOverHttp(ponder.baseUrl, text);
      expect(reply.status, `${text}: ${JSON.stringify(reply.body)}`).toBe(400);
      expect(["SQL_NOT_READ_ONLY", "SQL_INVALID"], text).toContain(reply.body.error?.code);
    }
  });

  it("validates every text afresh: a write after its harmless look-alikes is still refused", async () => {
    // Ponder 0.17.7 remembered "validated" under a 10-hex-digit hash prefix, so a write colliding
    // with an earlier SELECT ran. Nothing is remembered here: the same SELECT text, then the
    // write that differs from it in a comment's worth of characters, then the SELECT again.
    const select = "SELECT count(*) FROM payout";
    for (let i = 0; i < 20; i++) expect((await sqlOverHttp(ponder.baseUrl, `${select} /* ${i} */`)).status).toBe(200);
    for (let i = 0; i < 20; i++) {
      const reply = await sqlOverHttp(ponder.baseUrl, `DELETE FROM payout /* ${i} */`);
      expect(reply.body.error?.code).toBe("SQL_NOT_READ_ONLY");
    }
  });

  it("cuts a cross join at the statement timeout while GraphQL keeps answering", async () => {
    let sqlDone = false;
    const crossJoin = sqlOverHttp(ponder.baseUrl, "SELECT count(*) FROM payout a, payout b, payout c, payout d, payout e").finally(() => (sqlDone = true));
    // Once Postgres runs it (seen from outside), GraphQL must still answer before it ends.
    await waitUntil(
      async () => sqlDone || (await direct.unsafe(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'far_sql' AND state = 'active'`)).length > 0,
      "the cross join running",
    );
    const answered = await data<{ indexingStatus: { latestBlock: { number: number } } }>(`${ponder.baseUrl}/graphql`, "{ indexingStatus { latestBlock { number } } }");
    expect(answered.indexingStatus.latestBlock.number).toBeGreaterThan(0);
    expect(sqlDone).toBe(false);
    const reply = await crossJoin;
    expect(reply.status).toBe(408);
    expect(reply.body.error?.code).toBe("SQL_TIMEOUT");
    await waitUntil(
      async () => (await direct.unsafe(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'far_sql' AND state <> 'idle'`)).length === 0,
      "no statement of the SQL endpoint left running",
    );
  });

  it("caps the rows and the bytes of a result", async () => {
    const rows = await sqlOverHttp(ponder.baseUrl, "SELECT * FROM payout");
    expect(rows.status).toBe(413);
    expect(rows.body.error).toEqual({ code: "SQL_TOO_LARGE", message: `The result has more than ${MAX_ROWS} rows` });
    const bytes = await sqlOverHttp(ponder.baseUrl, "SELECT json_agg(p) FROM payout p");
    expect(bytes.status).toBe(413);
    expect(bytes.body.error).toEqual({ code: "SQL_TOO_LARGE", message: `The result is larger than ${MAX_BYTES} bytes` });
    expect((await sqlOverHttp(ponder.baseUrl, `SELECT id FROM payout ORDER BY id LIMIT ${MAX_ROWS}`)).body.rows).toHaveLength(MAX_ROWS);
  });

  it("leaves every table, comment and catalog as it was", async () => {
    expect(await fingerprint()).toEqual(before);
  });

  it("is not served by a replica", async () => {
    const { baseUrl: replicaUrl } = await startReplica({ DATABASE_URL: databaseUrl, DATABASE_SCHEMA: ponder.schema, API_HOST: "127.0.0.1", API_SQL: "true", API_SQL_TOKEN: TOKEN }, cleanup);
    const reply = await sqlOverHttp(replicaUrl, "DELETE FROM payout");
    expect(reply.status).toBe(404);
    expect(await fingerprint()).toEqual(before);
  });
});
