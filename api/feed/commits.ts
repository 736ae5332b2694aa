/**
 * The indexer's commits as a signal: Ponder writes `_ponder_checkpoint` in the transaction of
 * every block it indexes, so a statement trigger on it that calls `pg_notify` announces each
 * commit once it is visible (a reorg's revert leaves the checkpoint alone: it shows with the
 * replacement's first block). Postgres delivers the notice to a
 * `LISTEN`ing session (a dedicated connection; a read-only session may listen, a hot standby
 * may not: then the feed polls); PGlite, single-connection and in Ponder's own process, delivers
 * it to `listen` callbacks on the same instance.
 *
 * Installing the trigger writes to the indexer's schema, so only the feed writer does it, over a
 * session of its own; the API's read path only listens. Polling stays as the fallback, and each
 * poll checks the trigger is still there (Ponder recreates its tables when it starts over).
 */
import { PGlite } from "@electric-sql/pglite";
import type { Logger } from "pino";
import postgres from "postgres";
import type { ApiDb } from "../db";

export type CommitSignal = {
  /** Calls `listener` after the indexer commits (commits close together may share one call). */
  onCommit: (listener: () => void) => () => void;
  /** Installs the trigger behind the signal unless it is there: the feed writer's job only. */
  ensureTrigger: () => Promise<void>;
  close: () => Promise<void>;
};

type Run = (text: string, parameters?: string[]) => Promise<Record<string, unknown>[]>;

const TRIGGER = "far_feed_commit";
const quote = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`;

/** One channel per indexer schema; a hash keeps it within Postgres's 63-byte names whatever the schema. */
export function commitChannel(schema: string): string {
  let hash = 0x811c9dc5;
  for (const char of schema) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  return `far_commit_${hash.toString(16)}`;
}

/** Whether the trigger is in place: "absent" until Ponder created its table (nothing to install on yet). */
async function triggerState(run: Run, schema: string): Promise<"installed" | "missing" | "absent"> {
  const [row] = await run(
    `SELECT to_regclass($1) IS NOT NULL AS "table", EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = $2) AS "trigger"`,
    [`${quote(schema)}._ponder_checkpoint`, TRIGGER],
  );
  return !row?.table ? "absent" : row.trigger ? "installed" : "missing";
}

async function installTrigger(run: Run, schema: string, logger: Logger): Promise<void> {
  await run(
    `CREATE OR REPLACE FUNCTION ${quote(schema)}.${TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('${commitChannel(schema)}', ''); RETURN NULL; END $$`,
  );
  await run(`CREATE TRIGGER ${TRIGGER} AFTER INSERT OR UPDATE ON ${quote(schema)}._ponder_checkpoint FOR EACH STATEMENT EXECUTE FUNCTION ${quote(schema)}.${TRIGGER}()`).catch(
    (error: unknown) => {
      // Another writer (a restart overlapping its predecessor) installed it meanwhile.
      if ((error as { code?: string }).code !== "42710") throw error;
    },
  );
  logger.info({ msg: "commit notices installed on the indexer's checkpoint table", schema });
}

function listeners() {
  const set = new Set<() => void>();
  return {
    add(listener: () => void) {
      set.add(listener);
      return () => void set.delete(listener);
    },
    emit: () => {
      for (const listener of set) listener();
    },
    clear: () => set.clear(),
  };
}

/**
 * Postgres: listens on `url` in a read-only session; installs through `writeUrl` (a session that
 * may write), opened only when the trigger is missing and closed after.
 */
export function createPostgresCommitSignal({ url, writeUrl, schema, logger }: { url: string; writeUrl?: string; schema: string; logger: Logger }): CommitSignal {
  const commits = listeners();
  const listening = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: "far_api_feed", default_transaction_read_only: true } });
  // On every (re)connection, commits may have been missed: the listeners are woken then too.
  const subscription = listening.listen(commitChannel(schema), commits.emit, commits.emit).catch((error: unknown) => {
    logger.warn({ msg: "cannot listen for commit notices (a hot standby?); the feed polls", err: error });
  });
  return {
    onCommit: commits.add,
    async ensureTrigger() {
      if (!writeUrl || (await triggerState((text, parameters) => listening.unsafe(text, parameters), schema)) !== "missing") return;
      const sql = postgres(writeUrl, { max: 1, onnotice: () => {}, connection: { application_name: "far_api_feed_writer" } });
      try {
        await installTrigger((text, parameters) => sql.unsafe(text, parameters), schema, logger);
      } finally {
        await sql.end();
      }
    },
    async close() {
      commits.clear();
      await subscription;
      await listening.end({ timeout: 1 });
    },
  };
}

/** PGlite: the instance Ponder indexes into, notices delivered in process when a commit ends. */
export function createPgliteCommitSignal({ pglite, schema, logger }: { pglite: PGlite; schema: string; logger: Logger }): CommitSignal {
  const commits = listeners();
  const unlisten = pglite.listen(commitChannel(schema), commits.emit).catch((error: unknown) => {
    logger.warn({ msg: "cannot listen for commit notices; the feed polls", err: error });
    return undefined;
  });
  return {
    onCommit: commits.add,
    async ensureTrigger() {
      const run: Run = async (text, parameters) => (await pglite.query<Record<string, unknown>>(text, parameters)).rows;
      if ((await triggerState(run, schema)) === "missing") await installTrigger(run, schema, logger);
    },
    async close() {
      commits.clear();
      await (await unlisten)?.();
    },
  };
}

/** The PGlite instance behind a drizzle database, if that is what it runs on (Ponder's own, embedded). */
export function pgliteOf(db: ApiDb): PGlite | undefined {
  const client = (db as { $client?: unknown }).$client;
  return client instanceof PGlite ? client : undefined;
}

/**
 * Runs `work` now, then after every commit, and every `pollMs` when no commit came (the fallback,
 * told apart by `polled`), until stopped. Commits during a run make one more run right after it.
 */
export function runOnCommit({ commits, pollMs, logger, what, work }: { commits?: CommitSignal; pollMs: number; logger: Logger; what: string; work: (polled: boolean) => Promise<void> }) {
  let running = true;
  let committed = false;
  let wake: (() => void) | undefined;
  const unsubscribe = commits?.onCommit(() => {
    committed = true;
    wake?.();
  });
  const loop = (async () => {
    let polled = true;
    while (running) {
      committed = false;
      await work(polled).catch((error: unknown) => logger.warn({ msg: `${what} failed; retrying`, err: error }));
      if (committed || !running) {
        polled = false;
        continue;
      }
      let timer: NodeJS.Timeout | undefined;
      polled = await new Promise<boolean>((resolve) => {
        wake = () => resolve(false);
        timer = setTimeout(() => resolve(true), pollMs);
      });
      clearTimeout(timer);
      wake = undefined;
    }
  })();
  return {
    async stop() {
      running = false;
      unsubscribe?.();
      wake?.();
      await loop;
    },
  };
}
