/** What the bench's main process and its subscriber processes (clients.ts) say to each other. */
type Transport = "sse" | "ws";

/** One subscriber: which replica (its /graphql URL), which transport, which operation. */
export type SubscriberSpec = { index: number; transport: Transport; url: string; query: string; variables: Record<string, unknown> };

export type ClientRequestMessage =
  | { type: "open"; subscribers: SubscriberSpec[]; concurrency: number }
  /** From now on, count deliveries of blocks at or after `fromBlock` (the load window). */
  | { type: "window"; fromBlock: number }
  | { type: "progress" }
  | { type: "collect" }
  | { type: "close" };

/** Deliveries of the load window so far, and bytes read from every socket. */
export type Progress = { windowDeliveries: number; bytes: number };

/** Every event received, column by column: row i is one delivery. */
export type Collected = {
  subscriber: Int32Array;
  key: Int32Array;
  block: Int32Array;
  action: Uint8Array;
  receivedAt: Float64Array;
  /** `key` indexes this table of entity ids. */
  keys: string[];
  /** Error codes (or messages) by count, and how many subscriptions the server ended. */
  errors: Record<string, number>;
  ended: number;
  endedBy: Record<string, number>;
};

export const ACTIONS = ["ADDED", "RETRACTED", "FINALIZED"] as const;

// Every bench operation selects `blockNumber action <entity> { id }` in that order, so one regex
// reads any of them from the serialized result.
export const EVENT = /"blockNumber":(\d+),"action":"(ADDED|RETRACTED|FINALIZED)","\w+":\{"id":"([^"]+)"/;
export const CODE = /"code":"(\w+)"/;
