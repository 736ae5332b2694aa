/**
 * What a suite started, undone after its last test: push a step onto the returned list as each
 * thing starts; after the suite's tests the steps run, last pushed first.
 */
import { afterAll } from "vitest";

export function cleanupAfterAll(): (() => unknown)[] {
  const steps: (() => unknown)[] = [];
  afterAll(async () => {
    for (const step of steps.reverse()) await step();
  });
  return steps;
}
