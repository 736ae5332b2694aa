/**
 * The committed SDL (api/schema.graphql) is the contract clients read: it must match the code.
 * Checked by the script itself, in its own process, as CI would run it.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

describe("api/schema.graphql", () => {
  it("equals the schema the code builds (regenerate with `tsx api/print-schema.ts`)", async () => {
    const run = await promisify(execFile)("node_modules/.bin/tsx", ["api/print-schema.ts", "--check"]).then(
      () => 0,
      (error: { code?: number }) => error.code ?? 1,
    );
    expect(run).toBe(0);
  });
});
