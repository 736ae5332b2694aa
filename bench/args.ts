/** The benchmarks' command line: flags (`--quick`) and `--name value` options. */
export function benchArgs(argv: readonly string[] = process.argv.slice(2)) {
  const flag = (name: string) => argv.includes(name);
  return {
    quick: flag("--quick"),
    flag,
    option(name: string): string | undefined {
      const index = argv.indexOf(name);
      return index >= 0 ? argv[index + 1] : undefined;
    },
  };
}
