/** /metrics operation labels stay bounded however many names clients invent. */
import { describe, expect, it } from "vitest";
import { createOperationLabels, OTHER_OPERATIONS } from "../../api/plugins/observe";

describe("operation labels", () => {
  it.each([
    // [what, allowance, names seen in order, labels given]
    ["names within the allowance keep their label", 3, ["A", "B", "A", "C"], ["A", "B", "A", "C"]],
    ["a new name past the allowance is other", 2, ["A", "B", "C", "D"], ["A", "B", OTHER_OPERATIONS, OTHER_OPERATIONS]],
    ["a name seen early keeps its label after the allowance is used", 2, ["A", "B", "X", "A", "B"], ["A", "B", OTHER_OPERATIONS, "A", "B"]],
    ["anonymous counts as one name", 2, ["anonymous", "anonymous", "A", "B"], ["anonymous", "anonymous", "A", OTHER_OPERATIONS]],
  ])("%s", (_what, allowance, names, labels) => {
    const label = createOperationLabels(allowance);
    expect(names.map(label)).toEqual(labels);
  });

  it("gives at most allowance + 1 distinct labels to 100,000 invented names", () => {
    const label = createOperationLabels(100);
    const labels = new Set(Array.from({ length: 100_000 }, (_, index) => label(`Op${index}`)));
    expect(labels.size).toBe(101);
  });
});
