/**
 * The signing lease, held for as long as the worker works: renewed on a timer of its own (a
 * third of its time to live), not between settlement passes, so a pass slower than the lease
 * never loses it. Losing it (another replica took over after a stall) stops signing; it is not
 * an RPC failure.
 */
import type { Logger } from "pino";
import { errorText } from "./classify";
import type { TxStore } from "./store";

export type Lease = ReturnType<typeof createLease>;

export function createLease(parameters: {
  store: Pick<TxStore, "acquireLease" | "releaseLease">;
  holder: string;
  ttlMs: number;
  logger: Logger;
  /** Called when a renewal finds the lease gone while this process held it. */
  onLost?: () => void;
}) {
  const { store, holder, ttlMs, logger } = parameters;
  let heldUntil = 0;
  let timer: NodeJS.Timeout | undefined;
  let renewing: Promise<boolean> | undefined;

  async function renewOnce(): Promise<boolean> {
    const had = heldUntil > Date.now();
    const asked = Date.now();
    try {
      // Counted from before the call: the row expires ttlMs after the database saw it.
      heldUntil = (await store.acquireLease(holder, ttlMs)) ? asked + ttlMs : 0;
    } catch (error) {
      logger.warn({ msg: "signing lease could not be renewed", holder, error: errorText(error) });
    }
    const has = heldUntil > Date.now();
    if (has !== had) logger.info({ msg: has ? "signing lease acquired" : "signing lease held by another replica", holder });
    if (had && !has) parameters.onLost?.();
    return has;
  }

  return {
    /** Whether this process may sign now. */
    get held() {
      return heldUntil > Date.now();
    },
    renew(): Promise<boolean> {
      renewing ??= renewOnce().finally(() => (renewing = undefined));
      return renewing;
    },
    start() {
      timer ??= setInterval(() => void this.renew(), Math.max(50, Math.floor(ttlMs / 3)));
      return this.renew();
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await renewing;
      if (heldUntil > 0) await store.releaseLease(holder);
      heldUntil = 0;
    },
  };
}
