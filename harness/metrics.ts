/** What a process's `/metrics` says, read as Prometheus would. */

/** A metric's value in `baseUrl`'s Prometheus text exposition (the first series of that name). */
export async function metricValue(baseUrl: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${name} `) || candidate.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}
