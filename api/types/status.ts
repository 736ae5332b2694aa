/** The indexer's progress: how far it got, what is final, and whether it caught up. */
import { LAG_CAUSES } from "../../domain/lag";
import { builder } from "../builder";
import { lagOf } from "../lag";
import type { ApiContext } from "../context";
import type { IndexingStatus } from "../db";
import { BlockPointRef, IndexingStatusRef } from "./refs";

BlockPointRef.implement({
  fields: (t) => ({
    number: t.exposeInt("number"),
    timestamp: t.expose("timestamp", { type: "DateTime" }),
  }),
});

const LagCauseEnum = builder.enumType("LagCause", {
  description:
    "Why the index lags: NONE (within API_SYNCED_MAX_LAG_BLOCKS), CATCHING_UP (a healthy RPC, the indexer working through the blocks), RPC_RATE_LIMITED (the RPC answered HTTP 429 while behind, or refuses head reads with it), RPC_UNREACHABLE (no URL of RPC_URL answers), RPC_HEAD_STALE (the RPC's head has not moved for API_HEAD_STALE_MS: its node is behind the chain).",
  values: LAG_CAUSES,
});

const FinalitySourceEnum = builder.enumType("FinalitySource", {
  description: "Where safeBlock and finalizedBlock come from.",
  values: {
    CHAIN: { value: "chain", description: "The chain's `safe` and `finalized` block tags, never ahead of latestBlock." },
    DEPTH: { value: "depth", description: "A fixed depth below the indexed head (Ponder's), for a chain that does not answer those tags." },
  } as const,
});

/** Blocks between the chain's head and `number`; null when the head is unknown. */
async function lagBehindHead(status: IndexingStatus, context: ApiContext, number: number) {
  const { headBlock } = await context.sync(status);
  return headBlock === null ? null : Math.max(0, headBlock - number);
}

IndexingStatusRef.implement({
  fields: (t) => ({
    chainId: t.exposeInt("chainId"),
    latestBlock: t.field({ type: BlockPointRef, description: "The last block whose events are in every table.", resolve: (status) => status.latest }),
    safeBlock: t.field({ type: BlockPointRef, description: "Unlikely to be reorged out: the chain's safe block where it has one, never ahead of latestBlock.", resolve: (status) => status.safe }),
    finalizedBlock: t.field({ type: BlockPointRef, description: "Rows at or below this block can no longer be reorged out.", resolve: (status) => status.finalized }),
    finalitySource: t.field({ type: FinalitySourceEnum, resolve: (status) => status.finality }),
    safeLagBlocks: t.int({
      nullable: true,
      description: "Blocks between the chain's head and safeBlock; null when the head is unknown.",
      resolve: (status, _args, context) => lagBehindHead(status, context, status.safe.number),
    }),
    finalizedLagBlocks: t.int({
      nullable: true,
      description: "Blocks between the chain's head and finalizedBlock; null when the head is unknown.",
      resolve: (status, _args, context) => lagBehindHead(status, context, status.finalized.number),
    }),
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
    lagCause: t.field({
      type: LagCauseEnum,
      description: "Why the index lags the chain, from what this server's own chain client saw on its head reads (NONE when it does not).",
      resolve: async (status, _args, context) => (await lagOf(context.chain, status, context.config)).cause,
    }),
    lagCauseMessage: t.string({
      nullable: true,
      description: "lagCause in words, with the figures behind it; null when NONE.",
      resolve: async (status, _args, context) => (await lagOf(context.chain, status, context.config)).message,
    }),
  }),
});

builder.queryField("indexingStatus", (t) => t.field({ type: IndexingStatusRef, resolve: (_root, _args, context) => context.status() }));
