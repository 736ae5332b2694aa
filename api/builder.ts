/**
 * The one Pothos builder. Type files under types/ add to it; schema.ts turns it into a schema.
 * Exported so that other parts (subscriptions) can add their types before the schema is built.
 */
import SchemaBuilder from "@pothos/core";
import RelayPlugin from "@pothos/plugin-relay";
import type { Address, Hex } from "viem";
import type { ApiContext } from "./context";

export const builder = new SchemaBuilder<{
  Context: ApiContext;
  Scalars: {
    BigInt: { Input: bigint; Output: bigint };
    Address: { Input: Address; Output: string };
    Bytes32: { Input: Hex; Output: string };
    /** Unix seconds inside the API, ISO-8601 on the wire. */
    DateTime: { Input: number; Output: number };
  };
  DefaultFieldNullability: false;
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
}>({
  plugins: [RelayPlugin],
  defaultFieldNullability: false,
  relay: {
    clientMutationId: "omit",
    cursorType: "String",
    // Root `node` is the GPU node lookup here; Relay's global-id `node`/`nodes` would collide.
    nodeQueryOptions: false,
    nodesQueryOptions: false,
    edgesFieldOptions: { nullable: false },
    nodeFieldOptions: { nullable: false },
  },
});

builder.queryType({});
