/**
 * The benchmarks' command line, parsed by `node:util`'s parseArgs: `--quick` for every bench,
 * plus the options each one declares (`--events N`, `--postgres`, …). An option a bench does not
 * declare, or one missing its value, stops it with the usage line instead of being ignored.
 */
import { relative } from "node:path";
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

export function benchArgs<const Options extends ParseArgsOptionsConfig>(options: Options, args: string[] = process.argv.slice(2)) {
  const config = { args, options: { ...options, quick: { type: "boolean", default: false } }, strict: true, allowPositionals: false } as const;
  try {
    return parseArgs(config).values;
  } catch (error) {
    const usage = Object.entries(config.options)
      .map(([name, option]) => (option.type === "boolean" ? `[--${name}]` : `[--${name} <value>]`))
      .join(" ");
    console.error(`${(error as Error).message}\nusage: npx tsx ${relative(process.cwd(), process.argv[1] ?? "")} ${usage}`);
    process.exit(2);
  }
}
