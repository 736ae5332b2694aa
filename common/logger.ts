/** Structured logs of every process (API, oracle, simulator, scripts): one JSON object per line, `msg` plus snake_case fields. */
import { pino, type DestinationStream, type Logger } from "pino";
import type { LogLevel } from "./config";

export type { Logger };

/** `destination`: where the lines go (a log file); stdout unless given. */
export function createLogger(parameters: { level: LogLevel; name: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      name: parameters.name,
      level: parameters.level,
      base: { pid: process.pid },
      // Belt and braces: the key is never passed to a log call, and would be masked if it were.
      redact: { paths: ["private_key", "*.private_key", "password", "*.password"], censor: "[redacted]" },
    },
    parameters.destination,
  );
}
