/**
 * A seeded pseudo-random sequence (mulberry32): small, fast, and the same for the same seed
 * everywhere, so a simulator's traffic, a test scenario or a benchmark can be replayed.
 */
export function seededRandom(seed: number) {
  let state = seed >>> 0;
  /** The next number in [0, 1). */
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  /** An integer in [0, max). */
  const int = (max: number) => Math.floor(next() * max);
  const pick = <T>(items: readonly T[]): T | undefined => (items.length === 0 ? undefined : items[int(items.length)]);
  /** A bigint in (0, max] in thousandths of `max`; 0 when `max` is not positive. */
  const amount = (max: bigint) => (max <= 0n ? 0n : (max * BigInt(int(1000) + 1)) / 1000n);
  return { next, int, pick, amount };
}
