/** The API's schema: every type file registers on the builder, then the schema is built. */
import { lexicographicSortSchema } from "graphql";
import { builder } from "./builder";
import "./types/scalars";
import "./types/status";
import "./types/accounts";
import "./types/staking";
import "./types/nodes";
import "./types/tasks";
import "./types/payouts";
import "./types/revenue";
import "./types/transactions";
import "./types/subscriptions";

export function buildSchema() {
  return lexicographicSortSchema(builder.toSchema());
}
