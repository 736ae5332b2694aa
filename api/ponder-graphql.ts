/**
 * Ponder's own GraphQL (`graphql()` from ponder) over the same tables, for comparing against our
 * API in bench/queries.ts. Off by default (`API_PONDER_GRAPHQL`): it has none of our cost, page
 * or alias limits beyond Ponder's own (lists of up to 1000 rows, nested), so it is not something
 * to expose to the public.
 */
import { graphql, relations } from "ponder";
import { node, task } from "../schema";

export const PONDER_GRAPHQL_PATH = "/ponder/graphql";

/**
 * Ponder's GraphQL nests lists only along drizzle relations, and the indexer's schema declares
 * none (our API joins through DataLoaders): these give it `node { tasks }`, so that a leaderboard
 * with each node's latest tasks is one request there too. They live here, not in the schema
 * Ponder builds from, so that adding them changes nothing the indexer stores.
 */
const nodeTasks = relations(node, ({ many }) => ({ tasks: many(task) }));
const taskNode = relations(task, ({ one }) => ({ assignedNode: one(node, { fields: [task.node], references: [node.address] }) }));

export function ponderGraphql(ponder: Parameters<typeof graphql>[0]) {
  return graphql({ db: ponder.db, schema: { ...ponder.schema, nodeTasks, taskNode } });
}
