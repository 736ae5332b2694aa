/** One structured log line per GraphQL operation. */
import type { Logger } from "pino";
import { useObserver } from "./observe";

export function useLogging(logger: Logger) {
  return useObserver(({ operationName, durationMs, errorCodes, sqlStatements }) => {
    const fields = { operation_name: operationName, duration_ms: Math.round(durationMs * 10) / 10, sql_statements: sqlStatements, error_codes: errorCodes };
    if (errorCodes.some((code) => code === "INTERNAL_SERVER_ERROR")) logger.error({ msg: "GraphQL operation failed", ...fields });
    else logger.info({ msg: "GraphQL operation", ...fields });
  });
}
