/**
 * SQL over HTTP for analysts (`/sql/db`), off unless API_SQL=true. It replaces Ponder's own
 * `client()` middleware, which on Ponder 0.17.7 let writes through: it remembers "this text was
 * validated" under the first 10 hex digits of its SHA-256 (so a write whose prefix collides with
 * an earlier SELECT runs unchecked), allows COMMENT ON, runs PGlite statements outside any
 * read-only transaction, and has no time bound (PGlite runs a statement synchronously on the
 * event loop: a cross join froze GraphQL for 45 s).
 *
 * Here every request: carries the bearer token (timing-safe compare), is ONE statement that the
 * Postgres parser says is a plain SELECT over the indexer's own tables with allowlisted functions
 * (checked on every request, nothing cached), and runs on a connection of its own (not Ponder's
 * pool) in a READ ONLY transaction under `statement_timeout`, with a row and a byte cap.
 * Postgres only: PGlite cannot interrupt a statement (see loadSqlSettings).
 *
 * Wire format: Ponder's (`@ponder/client`): GET /sql/db?sql=<superjson of {sql, params}>, answered
 * with `{ rows }`; errors are `{ error: { code, message } }` with an HTTP status.
 */
import { Hono, type Context } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { HTTPException } from "hono/http-exception";
import loadPostgresParser from "pg-query-emscripten";
import postgres from "postgres";
import superjson from "superjson";
import { BaseError } from "../common/errors";
import type { ApiConfig } from "./config";

export type SqlErrorCode = "SQL_DISABLED" | "UNAUTHORIZED" | "SQL_INVALID" | "SQL_NOT_READ_ONLY" | "SQL_TIMEOUT" | "SQL_TOO_LARGE" | "SQL_FAILED";

const STATUS: Record<SqlErrorCode, 400 | 401 | 404 | 408 | 413 | 500> = {
  SQL_DISABLED: 404,
  UNAUTHORIZED: 401,
  SQL_INVALID: 400,
  SQL_NOT_READ_ONLY: 400,
  SQL_TIMEOUT: 408,
  SQL_TOO_LARGE: 413,
  SQL_FAILED: 400,
};

class SqlRefused extends BaseError {
  constructor(
    readonly code: SqlErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const reply = (c: Context, code: SqlErrorCode, message: string) => c.json({ error: { code, message } }, STATUS[code]);

/** The longest statement accepted (the parser's work is linear in it). */
const MAX_SQL_LENGTH = 5_000;

/**
 * Parse-tree node types a plain SELECT needs. Anything else (INSERT/UPDATE/DELETE in a CTE, COPY,
 * DO, COMMENT, SET, LOCK, function calls from FROM, SELECT INTO…) is refused.
 */
const ALLOWED_NODES = new Set([
  "SelectStmt", "ResTarget", "ColumnRef", "A_Star", "String", "Integer", "Float", "Boolean", "BitString", "A_Const",
  "A_Expr", "BoolExpr", "NullTest", "BooleanTest", "TypeCast", "TypeName", "FuncCall", "SortBy", "RangeVar", "Alias",
  "JoinExpr", "RangeSubselect", "SubLink", "CommonTableExpr", "CaseExpr", "CaseWhen", "CoalesceExpr", "MinMaxExpr",
  "List", "A_ArrayExpr", "A_Indirection", "A_Indices", "RowExpr", "SQLValueFunction", "WindowDef", "ParamRef",
  "GroupingSet", "CollateClause",
]);
/** Struct fields (not wrapped in a node type) that turn a SELECT into a write or a lock. */
const FORBIDDEN_FIELDS = new Set(["intoClause", "lockingClause"]);
/**
 * Pure functions only: no pg_terminate_backend, set_config, pg_read_file, dblink, lo_*, nextval…
 * (Ponder's list, which its own validator uses.)
 */
const ALLOWED_FUNCTIONS = new Set([
  "count", "sum", "avg", "min", "max", "lower", "upper", "length", "trim", "replace", "substring", "concat", "now",
  "coalesce", "json_agg", "json_object", "json_array", "json_object_agg", "json_build_array", "json_build_object",
  "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead", "first_value",
  "last_value", "nth_value", "abs", "ceil", "ceiling", "div", "floor", "mod", "power", "round", "sign", "sqrt",
  "width_bucket", "to_timestamp", "date_trunc",
]);

let parser: Promise<Awaited<ReturnType<typeof loadPostgresParser>>["parse"]> | undefined;
const loadParser = () => (parser ??= loadPostgresParser().then(({ parse }) => parse));

/**
 * Refuses (SqlRefused) anything but one plain SELECT over `tables` (and its own CTEs).
 * Nothing is cached: every text is parsed and walked in full.
 */
async function validateSelect(sql: string, tables: ReadonlySet<string>): Promise<void> {
  if (sql.length > MAX_SQL_LENGTH) throw new SqlRefused("SQL_INVALID", `The statement is longer than ${MAX_SQL_LENGTH} characters`);
  const result = (await loadParser())(sql);
  if (result.error) throw new SqlRefused("SQL_INVALID", `Syntax error: ${typeof result.error === "string" ? result.error : result.error.message}`);
  const statements = result.parse_tree?.stmts ?? [];
  if (statements.length !== 1) throw new SqlRefused("SQL_NOT_READ_ONLY", "Exactly one statement is accepted");
  const root = statements[0]!.stmt ?? {};
  if (Object.keys(root)[0] !== "SelectStmt") throw new SqlRefused("SQL_NOT_READ_ONLY", `Only SELECT is accepted, not ${Object.keys(root)[0] ?? "an empty statement"}`);
  const cteNames = new Set<string>();
  const relations: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (value === null || typeof value !== "object") return;
    for (const [key, child] of Object.entries(value)) {
      if (FORBIDDEN_FIELDS.has(key)) throw new SqlRefused("SQL_NOT_READ_ONLY", `SELECT with ${key} is not accepted`);
      if (/^[A-Z]/.test(key)) {
        if (!ALLOWED_NODES.has(key)) throw new SqlRefused("SQL_NOT_READ_ONLY", `${key} is not accepted`);
        const node = child as Record<string, unknown>;
        if (key === "FuncCall") {
          const name = (node.funcname as { String?: { sval: string } }[]).map((part) => part.String?.sval);
          if (name.length !== 1 || !ALLOWED_FUNCTIONS.has(name[0]!)) throw new SqlRefused("SQL_NOT_READ_ONLY", `Function ${name.join(".")} is not accepted`);
        }
        if (key === "RangeVar") {
          if (node.schemaname || node.catalogname) throw new SqlRefused("SQL_NOT_READ_ONLY", "Schema-qualified names are not accepted");
          relations.push(String(node.relname));
        }
        if (key === "CommonTableExpr") {
          // A CTE's name also passes where its scope ends: named like a catalog or Ponder table
          // (`pg_authid`, `_ponder_meta`), it would let that relation be read outside the CTE.
          if (/^(pg_|_)/.test(String(node.ctename))) throw new SqlRefused("SQL_NOT_READ_ONLY", `A CTE may not be named ${String(node.ctename)}`);
          cteNames.add(String(node.ctename));
        }
      }
      walk(child);
    }
  };
  walk(root);
  const unknown = relations.find((name) => !tables.has(name) && !cteNames.has(name));
  if (unknown !== undefined) throw new SqlRefused("SQL_NOT_READ_ONLY", `Unknown table ${unknown}: only the indexer's tables can be read`);
}

export type SqlSettings = Pick<ApiConfig, "API_SQL_TOKEN" | "API_SQL_TIMEOUT_MS" | "API_SQL_MAX_ROWS" | "API_SQL_MAX_BYTES"> & {
  /** Postgres (preferably a read-only role's URL) and the indexer's schema. */
  databaseUrl: string;
  schema: string;
  /** The indexer's tables, the only relations a statement may name. */
  tables: string[];
};

const ROWS_PER_FETCH = 200;

/** The `/sql/*` routes when enabled: bearer token, validation, a read-only bounded run. */
export function createSqlApp(settings: SqlSettings) {
  const tables = new Set(settings.tables);
  // A connection of its own, open as long as the Ponder process that serves the routes: a slow
  // statement never takes one of Ponder's. Every transaction on it is read-only unless it says
  // otherwise, and none can (only SELECT passes validation).
  const sql = postgres(settings.databaseUrl, {
    max: 2,
    onnotice: () => {},
    idle_timeout: 60,
    connection: {
      search_path: settings.schema,
      default_transaction_read_only: true,
      statement_timeout: settings.API_SQL_TIMEOUT_MS,
      idle_in_transaction_session_timeout: settings.API_SQL_TIMEOUT_MS,
      application_name: "far_sql",
    },
  });

  const run = async (text: string, params: unknown[]) => {
    await validateSelect(text, tables);
    const rows: unknown[] = [];
    let bytes = 0;
    const deadline = Date.now() + settings.API_SQL_TIMEOUT_MS;
    await sql.begin("read only", async (tx) => {
      // Rows come in batches, so neither the cap nor the clock waits for the whole result.
      for await (const batch of tx.unsafe(text, params as never[]).cursor(ROWS_PER_FETCH)) {
        for (const row of batch) {
          bytes += Buffer.byteLength(JSON.stringify(row));
          rows.push(row);
        }
        if (rows.length > settings.API_SQL_MAX_ROWS) throw new SqlRefused("SQL_TOO_LARGE", `The result has more than ${settings.API_SQL_MAX_ROWS} rows`);
        if (bytes > settings.API_SQL_MAX_BYTES) throw new SqlRefused("SQL_TOO_LARGE", `The result is larger than ${settings.API_SQL_MAX_BYTES} bytes`);
        if (Date.now() > deadline) throw new SqlRefused("SQL_TIMEOUT", `The statement ran longer than ${settings.API_SQL_TIMEOUT_MS} ms`);
      }
    });
    return rows;
  };

  const app = new Hono();
  const unauthorized = { message: { error: { code: "UNAUTHORIZED", message: "A valid bearer token (API_SQL_TOKEN) is required" } } };
  const authenticate = bearerAuth({ token: settings.API_SQL_TOKEN!, noAuthenticationHeader: unauthorized, invalidAuthenticationHeader: unauthorized, invalidToken: unauthorized });
  // bearerAuth refuses by throwing; Ponder's server, which mounts this app, answers any throw with a 500.
  app.use("/sql/*", async (c, next) => {
    try {
      return await authenticate(c, next);
    } catch (error) {
      if (error instanceof HTTPException) return error.getResponse();
      throw error;
    }
  });
  app.get("/sql/db", async (c) => {
    let query: { sql?: unknown; params?: unknown };
    try {
      query = superjson.parse(c.req.query("sql") ?? "null") ?? {};
    } catch {
      return reply(c, "SQL_INVALID", 'The "sql" parameter must be superjson of { sql, params }');
    }
    if (typeof query.sql !== "string") return reply(c, "SQL_INVALID", 'Missing "sql" parameter (superjson of { sql, params })');
    try {
      return c.json({ rows: await run(query.sql, Array.isArray(query.params) ? query.params : []) });
    } catch (error) {
      if (error instanceof SqlRefused) return reply(c, error.code, error.shortMessage);
      const { code, message } = error as { code?: string; message?: string };
      // 57014: canceled by statement_timeout; 25006: a write in a read-only transaction (defence in depth).
      if (code === "57014") return reply(c, "SQL_TIMEOUT", `The statement ran longer than ${settings.API_SQL_TIMEOUT_MS} ms`);
      if (code === "25006") return reply(c, "SQL_NOT_READ_ONLY", String(message));
      return reply(c, "SQL_FAILED", String(message ?? error).slice(0, 200));
    }
  });
  app.all("/sql/*", (c) => reply(c, "SQL_INVALID", "Only GET /sql/db is served"));
  return app;
}

/** What `/sql/*` answers while API_SQL is off. */
export function sqlDisabledApp() {
  return new Hono().all("/sql/*", (c) =>
    reply(c, "SQL_DISABLED", "SQL over HTTP is off (API_SQL=false). Read through /graphql, or Postgres with a read-only role."),
  );
}
