// The Postgres parser (libpg_query in WebAssembly) that Ponder also uses; it ships no types.
declare module "pg-query-emscripten" {
  const load: () => Promise<{ parse: (sql: string) => { parse_tree?: { stmts: { stmt?: Record<string, unknown> }[] }; error: { message?: string } | string | null } }>;
  export default load;
}
