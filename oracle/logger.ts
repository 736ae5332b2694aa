/** Structured logs: one JSON object per line, `msg` plus snake_case fields. */
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(parameters: { level: string; name?: string }): Logger {
  return pino({
    name: parameters.name ?? "oracle",
    level: parameters.level,
    base: { pid: process.pid },
    // Belt and braces: the key is never passed to a log call, and would be masked if it were.
    redact: { paths: ["private_key", "*.private_key", "password", "*.password"], censor: "[redacted]" },
  });
}
