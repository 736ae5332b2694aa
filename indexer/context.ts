/** Types and small helpers shared by every handler file. */
import type { Context, Event } from "ponder:registry";
import type { Address, Hex } from "viem";

export type Db = Context<"FARToken:Transfer">["db"];

/** Where a log sits on the chain: what every history row records. */
export type ChainPosition = {
  blockNumber: number;
  blockHash: Hex;
  logIndex: number;
  timestamp: number;
  transactionHash: Hex;
};

type AnyLogEvent = Pick<Event<"FARToken:Transfer">, "block" | "log" | "transaction">;

export function positionOf(event: AnyLogEvent): ChainPosition {
  return {
    blockNumber: Number(event.block.number),
    blockHash: event.block.hash,
    logIndex: event.log.logIndex,
    timestamp: Number(event.block.timestamp),
    transactionHash: event.transaction.hash,
  };
}

/** A row id that names the log it came from, stable across re-indexing. */
export function logId(position: ChainPosition, suffix?: string): string {
  const base = `${position.transactionHash}-${position.logIndex}`;
  return suffix ? `${base}-${suffix}` : base;
}

/** Event arguments arrive checksummed; keys are stored lowercase. */
export function lower(address: Address): Address {
  return address.toLowerCase() as Address;
}
