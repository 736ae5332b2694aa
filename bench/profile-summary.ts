/**
 * Self time of a V8 CPU profile (`node --cpu-prof`, or the inspector's Profiler.stop), summed by
 * a key of each sample's innermost frame: the function, or the area of the code it is in.
 */
type CallFrame = { functionName: string; url: string; lineNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame };
export type CpuProfile = { nodes: ProfileNode[]; samples: number[]; timeDeltas?: number[] };
/** Milliseconds since the profile started: only the samples in between count. */
type Window = { fromMs: number; toMs: number };

/** A frame as `function file:line`, the file by its last two path segments. */
export const byFunction = ({ functionName, url, lineNumber }: CallFrame) => `${functionName || "(anon)"} ${url.split("/").slice(-2).join("/")}:${lineNumber}`;

/** [key, share of the samples counted, ms when the profile has time deltas], most first. */
export function selfTime(profile: CpuProfile, keyOf: (frame: CallFrame) => string, window?: Window): [string, number, number][] {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, { samples: number; micros: number }>();
  let counted = 0;
  let elapsedMicros = 0;
  profile.samples.forEach((sample, i) => {
    elapsedMicros += profile.timeDeltas?.[i] ?? 0;
    if (window && (elapsedMicros < window.fromMs * 1000 || elapsedMicros > window.toMs * 1000)) return;
    counted += 1;
    const key = keyOf(nodes.get(sample)!.callFrame);
    const total = totals.get(key) ?? { samples: 0, micros: 0 };
    total.samples += 1;
    total.micros += profile.timeDeltas?.[i] ?? 0;
    totals.set(key, total);
  });
  return [...totals]
    .map(([key, { samples, micros }]): [string, number, number] => [key, samples / counted, micros / 1000])
    .sort((a, b) => b[1] - a[1]);
}
