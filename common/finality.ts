/**
 * The chain's own finality: its `safe` and `finalized` block tags. Where a chain answers them
 * (BSC's fast finality: the finalized block trails the head by two or three blocks), they say
 * what can no longer be reorged out far sooner than a fixed depth; where it does not, the caller
 * falls back to its fixed depth.
 */
import type { Logger } from "pino";
import { BaseError, BlockNotFoundError, InvalidParamsRpcError, type BlockTag, type Hex, type PublicClient } from "viem";

/** A block the chain tagged: its number and timestamp (seconds). */
export type TaggedBlock = { number: number; timestamp: number };

export type ChainTags = { safe?: TaggedBlock; finalized?: TaggedBlock };

export type ChainFinality = {
  /** The chain's safe and finalized blocks, or undefined while the chain has never answered the tags. */
  read: () => Promise<ChainTags | undefined>;
  /**
   * The chain's block hash at a height it has finalized, once read: the first ask starts the read
   * and answers undefined, so a caller never waits on the RPC. Only for heights at or below a
   * finalized tag `read` gave, whose hash can no longer change (which is why it is kept).
   */
  finalizedHash: (blockNumber: number) => Hex | undefined;
};

export type CreateChainFinalityParameters = {
  chain: Pick<PublicClient, "getBlock">;
  logger: Pick<Logger, "warn" | "debug">;
  /** How long one answer is reused: every status read asks, and many ask per block. */
  ttlMs?: number;
};

const TAGS = ["safe", "finalized"] as const satisfies readonly BlockTag[];

/** The later of two blocks: a tag never moves back, whatever a lagging node behind a load balancer answers. */
const later = (known: TaggedBlock | undefined, next: TaggedBlock | undefined) => (known && (!next || next.number < known.number) ? known : next);

/** Finalized hashes kept: the feed asks for the few blocks between the chain's tag and the indexer's fixed depth. */
const FINALIZED_HASHES_KEPT = 1_024;

export function createChainFinality({ chain, logger, ttlMs = 500 }: CreateChainFinalityParameters): ChainFinality {
  const finalizedHashes = new Map<number, Hex>();
  const reading = new Set<number>();
  let known: ChainTags | undefined;
  let pending: { at: number; answer: Promise<ChainTags | undefined> } | undefined;
  let failing = false;

  async function readTag(blockTag: (typeof TAGS)[number]): Promise<TaggedBlock | undefined> {
    // A chain without the tag answers null or an error naming it; both mean "no such tag".
    const block = await chain.getBlock({ blockTag }).catch((error: unknown) => {
      if (isUnknownTag(error)) return null;
      throw error;
    });
    return block?.number == null ? undefined : { number: Number(block.number), timestamp: Number(block.timestamp) };
  }

  async function refresh(): Promise<ChainTags | undefined> {
    try {
      const [safe, finalized] = await Promise.all(TAGS.map(readTag));
      if (failing) logger.warn({ msg: "The chain answers its finality tags again" });
      failing = false;
      if (!safe && !finalized) return known;
      // Two calls, which a busy RPC may answer blocks apart: a finalized block is safe too.
      known = { safe: later(later(known?.safe, safe), finalized), finalized: later(known?.finalized, finalized) };
      return known;
    } catch (error) {
      // The last answer stays true: a finalized block stays finalized while the RPC is away.
      if (!failing) logger.warn({ msg: "Cannot read the chain's finality tags; keeping the last answer", err: error });
      failing = true;
      return known;
    }
  }

  let settled = false;
  return {
    finalizedHash(blockNumber) {
      const known = finalizedHashes.get(blockNumber);
      if (known || reading.has(blockNumber)) return known;
      reading.add(blockNumber);
      chain
        .getBlock({ blockNumber: BigInt(blockNumber) })
        .then((block) => {
          if (!block.hash) return;
          finalizedHashes.set(blockNumber, block.hash);
          // A Map iterates in insertion order: the first key is the oldest read.
          if (finalizedHashes.size > FINALIZED_HASHES_KEPT) finalizedHashes.delete(finalizedHashes.keys().next().value!);
        })
        .catch((error: unknown) => logger.debug({ msg: "Cannot read a finalized block's hash; asking again at the next step", blockNumber, err: error }))
        .finally(() => reading.delete(blockNumber));
      return undefined;
    },
    read() {
      if (!pending || Date.now() - pending.at > ttlMs) {
        const answer = refresh().finally(() => (settled = true));
        pending = { at: Date.now(), answer };
      }
      // Once the chain has answered (or failed) once, a read never waits on the RPC: every status
      // read, and so every query, would stall behind a slow RPC. The last answer is at most one
      // refresh old, and a tag only ever moves forward, so it is never ahead of the chain.
      return settled ? Promise.resolve(known) : pending.answer;
    },
  };
}

/**
 * Whether an error says the chain has no such tag (a chain or node without `safe`/`finalized`):
 * no block (viem's BlockNotFoundError for a null answer) or the parameter refused, rather than
 * an RPC that is away or busy.
 */
function isUnknownTag(error: unknown): boolean {
  if (!(error instanceof BaseError)) return false;
  return Boolean(error.walk((cause) => cause instanceof BlockNotFoundError || cause instanceof InvalidParamsRpcError || /unknown block|invalid block tag/i.test((cause as Error).message)));
}
