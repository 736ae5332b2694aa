/** Reports the SQL statements an operation ran in `extensions.sqlStatements`, for tests and profiling. */
import type { Plugin } from "graphql-yoga";
import { sqlStatementsOf } from "./observe";

export function useSqlCount(): Plugin {
  return {
    onExecutionResult({ result, setResult, context }) {
      if (!result || Symbol.asyncIterator in result) return;
      setResult({ ...result, extensions: { ...result.extensions, sqlStatements: sqlStatementsOf(context) } });
    },
  };
}
