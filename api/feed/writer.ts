/**
 * The feed writer: the only thing that turns what the indexer committed into feed entries. One
 * per deployment holds the store's lease; it steps when the indexer commits (polling as the
 * fallback) and appends each step together with its progress. The lease is a fence: an append
 * is refused unless the writer's token still holds it, so a writer that stalled past its lease
 * appends nothing, drops what it computed, and starts again from the stored progress if it gets
 * the lease back.
 */
import type { Logger } from "pino";
import type { ChainFinality } from "../../common/finality";
import type { ApiDb } from "../db";
import type { CommitSignal } from "./commits";
import { runOnCommit } from "./commits";
import type { FeedReaderState } from "./diff";
import type { FeedWriterStore } from "./log";
import { createFeedReader } from "./reader";

export type CreateFeedWriterParameters = {
  db: ApiDb;
  finality?: ChainFinality;
  store: FeedWriterStore;
  logger: Logger;
  pollMs: number;
  /** Wakes the writer when the indexer commits; without it, the writer polls. */
  commits?: CommitSignal;
};

export function createFeedWriter({ db, finality, store, logger, pollMs, commits }: CreateFeedWriterParameters) {
  const reader = createFeedReader({ db, finality });
  let token: string | undefined;
  let state: FeedReaderState | undefined;
  let installFailed = false;

  async function step(polled: boolean) {
    // A poll means no notice came: make sure the trigger that sends them still exists.
    if (polled) {
      await commits?.ensureTrigger().then(
        () => (installFailed = false),
        (error: unknown) => {
          if (!installFailed) logger.warn({ msg: "cannot install commit notices; the feed writer polls", err: error });
          installFailed = true;
        },
      );
    }
    const held = await store.acquire();
    // A new holding: what this writer knew may be behind what another writer appended meanwhile.
    if (held !== token) state = undefined;
    token = held;
    if (!token) return;
    state ??= (await store.progress()) ?? (await reader.initialState());
    if (!state) return;
    const next = await reader.step(state);
    if (next.state === state) return;
    if (!(await store.append(token, next.changes, next.state))) {
      logger.warn({ msg: "feed writer lost its lease before appending; its step is dropped" });
      token = undefined;
      state = undefined;
      return;
    }
    state = next.state;
    if (next.changes.length > 0) logger.debug({ msg: "feed advanced", changes: next.changes.length, announced_block: state.announcedBlock });
  }

  const loop = runOnCommit({ commits, pollMs, logger, what: "feed step", work: step });
  return {
    async stop() {
      await loop.stop();
      await store.close();
    },
  };
}
