/**
 * `npm run far -- webhooks …`: the operators' commands over the deliverer's store. They work
 * with or without the deliverer running: it picks up added, removed and replayed endpoints
 * within WEBHOOKS_RELOAD_MS. `redeliver` sends dead letters itself, once each.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { BaseError } from "../common/errors";
import { endpointSchema, loadWebhooksConfig, REVENUE_STREAMS } from "./config";
import { attemptDelivery } from "./delivery";
import { openWebhookStore } from "./store";

export const WEBHOOKS_USAGE = [
  "webhooks add <name> <url> [--secret <s>] [--recipient <address>] [--node <address>] [--streams A,B] [--no-finality] [--after <cursor>]",
  "webhooks list | remove <name> | log [<name>] [--limit <n>] | dead [<name>]",
  "webhooks redeliver <dead-letter id>…|all [--endpoint <name>] | replay <name> <cursor>",
].join("\n  ");

const OPTIONS = {
  secret: { type: "string" },
  recipient: { type: "string" },
  node: { type: "string" },
  streams: { type: "string" },
  "no-finality": { type: "boolean" },
  after: { type: "string" },
  limit: { type: "string" },
  endpoint: { type: "string" },
} as const;

const usage = () => new BaseError(`usage: npm run far -- ${WEBHOOKS_USAGE}`);

export async function webhooksCommand(argv: string[]): Promise<void> {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new BaseError(`${(error as Error).message}\nusage: npm run far -- ${WEBHOOKS_USAGE}`);
  }
  const { values, positionals } = parsed;
  const [action, ...rest] = positionals;
  const config = loadWebhooksConfig();
  const store = await openWebhookStore({ url: config.DATABASE_URL, schema: config.WEBHOOKS_DB_SCHEMA });
  try {
    switch (action) {
      case "add": {
        const [name, url] = rest;
        if (!name || !url || rest.length > 2) throw usage();
        const generated = values.secret === undefined;
        const result = endpointSchema.safeParse({
          name,
          url,
          secret: values.secret ?? randomBytes(32).toString("base64url"),
          recipient: values.recipient,
          node: values.node,
          streams: values.streams?.split(",").map((stream) => stream.trim().toUpperCase()),
          includeFinality: !values["no-finality"],
        });
        if (!result.success) {
          const issue = result.error.issues[0]!;
          throw new BaseError(`Invalid ${issue.path.join(".") || "endpoint"}: ${issue.message}`, { metaMessages: [`streams: ${REVENUE_STREAMS.join(", ")}`] });
        }
        if (!(await store.add(result.data, values.after ?? null))) throw new BaseError(`An endpoint named ${name} exists already (remove it first)`);
        console.log(`added ${name} → ${result.data.url}${values.after ? ` (after ${values.after})` : " (from the feed's head)"}`);
        if (generated) console.log(`secret (shown once; verify Far-Signature with it): ${result.data.secret}`);
        return;
      }
      case "list": {
        const endpoints = await store.endpoints();
        if (endpoints.length === 0) return console.log("no endpoints");
        for (const endpoint of endpoints) {
          const filters = [endpoint.recipient && `recipient=${endpoint.recipient}`, endpoint.node && `node=${endpoint.node}`, endpoint.streams && `streams=${endpoint.streams.join(",")}`, endpoint.includeFinality ? "finality" : "no-finality"].filter(Boolean);
          const dead = (await store.deadLetters({ name: endpoint.name })).length;
          console.log(`${endpoint.name}\t${endpoint.url}\t${filters.join(" ")}\tsource=${endpoint.source}\tpending=${await store.pending(endpoint.name)}\tdead=${dead}\tcursor=${endpoint.receivedCursor ?? "-"}`);
        }
        return;
      }
      case "remove": {
        if (rest.length !== 1) throw usage();
        if (!(await store.remove(rest[0]!))) throw new BaseError(`No endpoint named ${rest[0]}`);
        return console.log(`removed ${rest[0]} (its delivery log and dead letters are kept)`);
      }
      case "log": {
        const limit = Number(values.limit ?? 50);
        if (!Number.isInteger(limit) || limit < 1) throw new BaseError(`--limit must be a positive integer, got ${values.limit}`);
        for (const row of (await store.log(rest[0], limit)).reverse()) {
          console.log(`${new Date(row.at).toISOString()}\t${row.endpoint}\t${row.outcome}\tattempt ${row.attempt}\t${row.status ?? "-"}\t${row.duration_ms} ms\t${row.event_type}\t${row.cursor}${row.error ? `\t${row.error}` : ""}`);
        }
        return;
      }
      case "dead": {
        const letters = await store.deadLetters({ name: rest[0] });
        if (letters.length === 0) return console.log("no dead letters");
        for (const letter of letters) {
          console.log(`${letter.id}\t${new Date(letter.dead_at).toISOString()}\t${letter.endpoint}\t${letter.event_type}\t${letter.attempts} attempts\t${letter.cursor}\t${letter.last_error ?? ""}`);
        }
        return;
      }
      case "redeliver": {
        if (rest.length === 0) throw usage();
        const all = rest.length === 1 && rest[0] === "all";
        if (!all && !rest.every((id) => /^\d+$/.test(id))) throw new BaseError(`Dead-letter ids are integers (see \`far webhooks dead\`), or \`all\``);
        const letters = await store.deadLetters({ name: values.endpoint, ids: all ? undefined : rest });
        const endpoints = new Map((await store.endpoints()).map((endpoint) => [endpoint.name, endpoint]));
        let failed = 0;
        for (const letter of letters) {
          const endpoint = endpoints.get(letter.endpoint);
          if (!endpoint) {
            failed += 1;
            console.log(`${letter.id}\tskipped: the endpoint ${letter.endpoint} was removed`);
            continue;
          }
          const attempt = letter.attempts + 1;
          const result = await attemptDelivery({ url: endpoint.url, secret: endpoint.secret, cursor: letter.cursor, eventType: letter.event_type, body: letter.body }, attempt, {
            timeoutMs: config.WEBHOOKS_TIMEOUT_MS,
          });
          await store.markRedelivered(letter.id, result, attempt, letter);
          if (result.outcome !== "delivered") failed += 1;
          console.log(`${letter.id}\t${letter.endpoint}\t${result.outcome}${result.error ? `: ${result.error}` : ""}`);
        }
        console.log(`${letters.length - failed} of ${letters.length} dead letters redelivered`);
        if (failed > 0) process.exitCode = 1;
        return;
      }
      case "replay": {
        const [name, cursor] = rest;
        if (!name || !cursor || rest.length > 2) throw usage();
        if (!(await store.replay(name, cursor))) throw new BaseError(`No endpoint named ${name}`);
        return console.log(`${name} replays everything after ${cursor} (what was waiting is dropped and sent again in order)`);
      }
      default:
        throw usage();
    }
  } finally {
    await store.close();
  }
}
