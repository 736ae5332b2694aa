/**
 * What a query costs, with its variables' values: every field costs 1 plus what it selects, and
 * a list field (one with a `first` or `limit` argument) costs that many times as much, so nested
 * lists multiply. `first: $n` counts as n, exactly as `first: 100` does; an absent `first` counts
 * as the default page size. Lists without such an argument (a transaction's payouts, a point's
 * streams) are small by nature and count once. graphql-query-complexity walks the operation
 * (fragments, @skip/@include, coerced arguments); the rule is this one estimator.
 */
import type { DocumentNode, GraphQLSchema } from "graphql";
import { getComplexity, type ComplexityEstimator } from "graphql-query-complexity";

/** The arguments that say how many items a list field returns. */
const SIZE_ARGUMENTS = new Set(["first", "limit"]);

function costEstimator(defaultPageSize: number): ComplexityEstimator {
  return ({ field, args, childComplexity }) => {
    const size = field.args.find((argument) => SIZE_ARGUMENTS.has(argument.name));
    const value: unknown = size ? args[size.name] : undefined;
    const items = !size ? 1 : typeof value === "number" ? Math.max(value, 0) : defaultPageSize;
    return items * (1 + childComplexity);
  };
}

export type CostQuery = { schema: GraphQLSchema; document: DocumentNode; variables?: Record<string, unknown> | null; operationName?: string | null };

/**
 * The operation's cost, or undefined when its variables do not even coerce (execution then
 * refuses them with their own errors, before any resolver runs).
 */
export function queryCost({ schema, document, variables, operationName }: CostQuery, defaultPageSize: number): number | undefined {
  try {
    return getComplexity({
      schema,
      query: document,
      variables: variables ?? {},
      operationName: operationName ?? undefined,
      estimators: [costEstimator(defaultPageSize)],
    });
  } catch {
    return undefined;
  }
}

/**
 * Whether any list anywhere in `value` (variables as the client sent them) has more than `max`
 * items. Iterative and stopping at the first long list, so a huge or deep input costs no more
 * than reading it once.
 */
export function hasListLongerThan(value: unknown, max: number): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (Array.isArray(item)) {
      if (item.length > max) return true;
      for (const element of item) pending.push(element);
    } else if (item !== null && typeof item === "object") {
      for (const element of Object.values(item)) pending.push(element);
    }
  }
  return false;
}
