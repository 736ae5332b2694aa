/** A GraphQL client over real HTTP for the API suites. */
export type GraphQLResponse<T> = {
  data?: T;
  errors?: { message: string; extensions?: { code?: string }; [key: string]: unknown }[];
  extensions?: { sqlStatements?: number };
};

export async function graphql<T = Record<string, any>>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<GraphQLResponse<T>> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json" },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLResponse<T>;
}

/** The data of a query that must succeed. */
export async function data<T = Record<string, any>>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const result = await graphql<T>(url, query, variables);
  if (result.errors?.length || !result.data) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data;
}

/** Every node of a connection, following cursors page by page. */
export async function allPages<T>(url: string, query: string, pick: (data: any) => { edges: { node: T }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }, variables: Record<string, unknown> = {}) {
  const nodes: T[] = [];
  let after: string | null = null;
  for (;;) {
    const connection = pick(await data(url, query, { ...variables, after }));
    nodes.push(...connection.edges.map((edge) => edge.node));
    if (!connection.pageInfo.hasNextPage) return nodes;
    after = connection.pageInfo.endCursor;
  }
}
