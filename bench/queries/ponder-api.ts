/**
 * The API entry of the Ponder that bench/queries.ts runs (a project root of re-exports,
 * bench/ponder-root.ts): our embedded API as `ponder start` serves it, plus Ponder's own GraphQL
 * (`graphql()` from ponder) at /ponder/graphql over the same tables, to compare against. Only the
 * bench serves it: it has none of our cost, page or alias limits beyond Ponder's own (lists of up
 * to 1000 rows, nested), so it is not something to expose to the public.
 */
import { db } from "ponder:api";
import schema from "ponder:schema";
import { graphql, relations } from "ponder";
import { createEmbeddedApp } from "../../api/embedded";
import { node, task } from "../../schema";

/**
 * Ponder's GraphQL nests lists only along drizzle relations, and the indexer's schema declares
 * none (our API joins through DataLoaders): these give it `node { tasks }`, so that a leaderboard
 * with each node's latest tasks is one request there too. They live here, not in the schema
 * Ponder builds from, so that adding them changes nothing the indexer stores.
 */
const nodeTasks = relations(node, ({ many }) => ({ tasks: many(task) }));
const taskNode = relations(task, ({ one }) => ({ assignedNode: one(node, { fields: [task.node], references: [node.address] }) }));

const app = createEmbeddedApp({ db, schema });
app.use("/ponder/graphql", graphql({ db, schema: { ...schema, nodeTasks, taskNode } }));

export default app;
