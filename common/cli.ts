/**
 * The last word of every command-line entry point: a project error is its message on stderr
 * (one line for a ConfigError, so a wrong setting reads as what to fix); anything else keeps
 * its stack, since it is a bug. Either way the exit code is 1.
 */
import { BaseError } from "./errors";

export function runCommand(main: () => Promise<unknown>, options: { prefix?: string } = {}): void {
  main().catch((error: unknown) => {
    const text = error instanceof BaseError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`${options.prefix ?? ""}${text}\n`);
    process.exit(1);
  });
}
