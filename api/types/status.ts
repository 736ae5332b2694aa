/** The indexer's progress: how far it got, what is final, and whether it caught up. */
import { builder } from "../builder";
import { BlockPointRef, IndexingStatusRef } from "./refs";

BlockPointRef.implement({
  fields: (t) => ({
    number: t.exposeInt("number"),
    timestamp: t.expose("timestamp", { type: "DateTime" }),
  }),
});

IndexingStatusRef.implement({
  fields: (t) => ({
    chainId: t.exposeInt("chainId"),
    latestBlock: t.field({ type: BlockPointRef, description: "The last block whose events are in every table.", resolve: (status) => status.latest }),
    safeBlock: t.field({ type: BlockPointRef, resolve: (status) => status.safe }),
    finalizedBlock: t.field({ type: BlockPointRef, description: "Rows at or below this block can no longer be reorged out.", resolve: (status) => status.finalized }),
    lagSeconds: t.int({
      description: "Seconds between now and the latest indexed block's timestamp (0 if that block is from the future, as on a warped test chain).",
      resolve: (status) => Math.max(0, Math.floor(Date.now() / 1000) - status.latest.timestamp),
    }),
    headBlock: t.int({
      nullable: true,
      description: "The chain's head block (read at most once a second); null where the server has no chain client (a replica without RPC_URL).",
      resolve: async (status, _args, context) => (await context.sync(status)).headBlock,
    }),
    lagBlocks: t.int({
      nullable: true,
      description: "Blocks between the chain's head and latestBlock; null when the head is unknown.",
      resolve: async (status, _args, context) => (await context.sync(status)).lagBlocks,
    }),
    synced: t.boolean({
      description:
        "The historical backfill is complete and latestBlock is at most API_SYNCED_MAX_LAG_BLOCKS behind the chain's head block (false when the head cannot be read; without a chain client, the backfill alone).",
      resolve: async (status, _args, context) => (await context.sync(status)).synced,
    }),
  }),
});

builder.queryField("indexingStatus", (t) => t.field({ type: IndexingStatusRef, resolve: (_root, _args, context) => context.status() }));
