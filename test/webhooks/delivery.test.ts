/**
 * Signed payout webhooks end to end: a real chain, Ponder and its API, the deliverer as its own
 * process, and a local receiver that first fails (500), then times out, then recovers; the
 * deliverer is SIGKILLed while a delivery is in flight and started again. The receiver ends with
 * every payout the API lists, in order, repeated only under the same Far-Delivery-Id, every
 * request signed. Then the operators' CLI: dead letters listed and redelivered, a replay.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { beforeAll, describe, expect, it } from "vitest";
import postgres from "postgres";
import { startDeployedChain } from "../../harness/chain";
import { startPonder, type PonderProcess } from "../../harness/ponder";
import { freePort } from "../../harness/ports";
import { runScenario } from "../../harness/scenario";
import { waitUntil } from "../../harness/wait";
import { verifyWebhookSignature } from "../../webhooks/verify";
import { cleanupAfterAll } from "../helpers/cleanup";
import { payoutTable } from "../subscriptions/helpers";

const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const SECRET = "test-secret-0123456789abcdef";
const TIMEOUT_MS = 1_000;
/** The request the deliverer is killed in the middle of. */
const KILL_AT = 8;

type Received = { path: string; deliveryId: string; type: string; attempt: number; body: string; signed: boolean; answer: number | "held" };

describe("signed payout webhooks", () => {
  let chain: Awaited<ReturnType<typeof startDeployedChain>>;
  let ponder: PonderProcess;
  let receiverUrl: string;
  let env: Record<string, string>;
  let metricsPort: number;
  const received: Received[] = [];
  let rejecting = true;
  let onHeld: (() => void) | undefined;
  const cleanup = cleanupAfterAll();

  /** First a 500, then no answer within the timeout, then 200s; /reject answers 500 while `rejecting`. */
  const receive = (request: IncomingMessage, response: ServerResponse) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (body += chunk));
    request.on("end", () => {
      const signature = request.headers["far-signature"] as string | undefined;
      const entry: Received = {
        path: request.url ?? "",
        deliveryId: request.headers["far-delivery-id"] as string,
        type: request.headers["far-event-type"] as string,
        attempt: Number(request.headers["far-delivery-attempt"]),
        body,
        signed: verifyWebhookSignature(signature, body, SECRET),
        answer: 200,
      };
      received.push(entry);
      const main = received.filter((item) => item.path === "/hook");
      if (entry.path === "/reject" && rejecting) entry.answer = 500;
      else if (entry.path === "/hook" && main.length === 1) entry.answer = 500;
      else if (entry.path === "/hook" && (main.length === 2 || main.length === KILL_AT)) entry.answer = "held";
      if (entry.answer !== "held") return void response.writeHead(entry.answer).end(entry.answer === 200 ? "ok" : "boom");
      if (main.length === KILL_AT) onHeld?.();
      setTimeout(() => response.writeHead(200).end("late"), TIMEOUT_MS * 3).unref();
    });
  };

  const startDeliverer = () => {
    const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "scripts/webhooks.ts"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    child.stdout!.on("data", (chunk: Buffer) => (log += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (log += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    cleanup.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    });
    return { child, exited, log: () => log };
  };

  /** The operators' CLI, run beside the receiver (which answers from this process's event loop). */
  const far = (...args: string[]) =>
    new Promise<{ status: number; output: string }>((resolve) => {
      execFile(process.execPath, ["--import", "tsx", "scripts/far.ts", "webhooks", ...args], { env, encoding: "utf8" }, (error, stdout, stderr) =>
        resolve({ status: error ? Number(error.code ?? 1) : 0, output: `${stdout}${stderr}` }),
      );
    });

  /** The /hook deliveries, first of each Far-Delivery-Id, in the order they arrived. */
  const firstDeliveries = () => {
    const seen = new Set<string>();
    return received.filter((item) => item.path === "/hook" && !seen.has(item.deliveryId) && seen.add(item.deliveryId));
  };
  const payoutIdOf = (item: Received) => (JSON.parse(item.body) as { payout: { id: string } }).payout.id;

  beforeAll(async () => {
    chain = await startDeployedChain();
    cleanup.push(() => chain.anvil.stop());
    ponder = await startPonder({ rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir, env: { API_FEED_POLL_MS: "100" } });
    cleanup.push(() => ponder.kill());
    const server = createServer(receive);
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    cleanup.push(() => new Promise((resolve) => server.close(resolve)));
    receiverUrl = `http://127.0.0.1:${port}`;
    metricsPort = await freePort();
    const schema = `webhooks_test_${process.pid}_${port}`;
    cleanup.push(async () => {
      const sql = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
      await sql.unsafe(`drop schema if exists "${schema}" cascade`);
      await sql.end();
    });
    env = {
      ...(process.env as Record<string, string>),
      DATABASE_URL,
      WEBHOOKS_DB_SCHEMA: schema,
      INDEXER_URL: ponder.baseUrl,
      WEBHOOKS_ENDPOINTS: JSON.stringify([{ name: "receiver", url: `${receiverUrl}/hook`, secret: SECRET, includeFinality: false }]),
      WEBHOOKS_TIMEOUT_MS: String(TIMEOUT_MS),
      WEBHOOKS_MAX_ATTEMPTS: "3",
      WEBHOOKS_BACKOFF_INITIAL_MS: "100",
      WEBHOOKS_BACKOFF_MAX_MS: "400",
      WEBHOOKS_RELOAD_MS: "300",
      WEBHOOKS_METRICS_PORT: String(metricsPort),
      LOG_LEVEL: "info",
    };
    await ponder.waitForBlock(await chain.publicClient.getBlockNumber());
  });

  it("delivers every payout in order through failures, a timeout and a SIGKILL, signed, repeated only by Far-Delivery-Id", async () => {
    const first = startDeliverer();
    await waitUntil(() => first.log().includes("following the payouts feed"), "the deliverer to subscribe");
    let held = false;
    onHeld = () => (held = true);
    const scenario = runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient: chain.publicClient, manifest: chain.manifest, seed: 5, steps: 200 });

    await waitUntil(() => held, "a delivery to be in flight", 60_000).catch(async (error: Error) => {
      const payouts = await payoutTable(`${ponder.baseUrl}/graphql`);
      throw new Error(`${error.message}; received ${received.length}; the API lists ${payouts.length} payouts; deliverer:\n${first.log().slice(-3000)}`);
    });
    first.child.kill("SIGKILL");
    await first.exited;
    const killedId = received.filter((item) => item.path === "/hook")[KILL_AT - 1]!.deliveryId;
    const second = startDeliverer();
    await scenario;
    await ponder.waitForBlock(await chain.publicClient.getBlockNumber());
    const table = await payoutTable(`${ponder.baseUrl}/graphql`);
    expect(table.length).toBeGreaterThan(20);
    await waitUntil(() => firstDeliveries().length >= table.length, `all ${table.length} payouts to be delivered`, 60_000).catch((error: Error) => {
      throw new Error(`${error.message}; received ${firstDeliveries().length}; deliverer:\n${second.log().slice(-3000)}`);
    });

    const hooks = received.filter((item) => item.path === "/hook");
    expect(hooks.every((item) => item.signed), "every signature verifies").toBe(true);
    // The first event: a 500, no answer in time, then delivered — three attempts of one id.
    expect(hooks.slice(0, 3).map((item) => [item.deliveryId, item.attempt, item.answer])).toEqual([
      [hooks[0]!.deliveryId, 1, 500],
      [hooks[0]!.deliveryId, 2, "held"],
      [hooks[0]!.deliveryId, 3, 200],
    ]);
    // The delivery the deliverer died in is sent again after the restart, under the same id.
    expect(hooks.filter((item) => item.deliveryId === killedId).length).toBeGreaterThanOrEqual(2);
    const firsts = firstDeliveries();
    expect(firsts.every((item) => item.type === "payout.added")).toBe(true);
    expect(firsts.map(payoutIdOf)).toEqual(table);
    // Duplicates are the same delivery (same id, same body); no payout arrives under two ids.
    const bodies = new Map<string, string>();
    for (const item of hooks) expect(bodies.get(item.deliveryId) ?? item.body, item.deliveryId).toBe((bodies.set(item.deliveryId, item.body), item.body));
    const idsOfPayout = new Map<string, Set<string>>();
    for (const item of hooks) idsOfPayout.set(payoutIdOf(item), (idsOfPayout.get(payoutIdOf(item)) ?? new Set()).add(item.deliveryId));
    expect([...idsOfPayout.values()].every((ids) => ids.size === 1)).toBe(true);
    // In order: once a delivery id first arrives, nothing earlier is new.
    const position = new Map(firsts.map((item, index) => [item.deliveryId, index]));
    let highest = -1;
    for (const item of hooks) {
      const at = position.get(item.deliveryId)!;
      if (at > highest + 1) throw new Error(`delivery ${at} arrived before ${highest + 1}`);
      highest = Math.max(highest, at);
    }

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^far_webhook_deliveries_total\{outcome="delivered"\} [1-9]/m);
    expect(metrics).toMatch(/^far_webhook_pending 0$/m);
    expect(metrics).toMatch(/^far_webhook_dead_letters_total 0$/m);

    // The operators' CLI: an endpoint that rejects everything, started some events back,
    // dead-letters each after its attempts; once it recovers, `redeliver all` sends them.
    const start = firsts[firsts.length - 4]!.deliveryId;
    const added = await far("add", "rejecting", `${receiverUrl}/reject`, "--secret", SECRET, "--after", start, "--no-finality");
    expect(added.status, added.output).toBe(0);
    await waitUntil(async () => (await far("dead", "rejecting")).output.trim().split("\n").length === 3, "three dead letters");
    const dead = (await far("dead")).output;
    expect(dead).toContain(firsts[firsts.length - 1]!.deliveryId);
    rejecting = false;
    const redelivered = await far("redeliver", "all");
    expect(redelivered.status, redelivered.output).toBe(0);
    expect(redelivered.output).toContain("3 of 3 dead letters redelivered");
    expect((await far("dead")).output.trim()).toBe("no dead letters");
    const rejected = received.filter((item) => item.path === "/reject");
    expect(new Set(rejected.filter((item) => item.answer === 200).map((item) => item.deliveryId))).toEqual(new Set(firsts.slice(-3).map((item) => item.deliveryId)));
    expect(rejected.every((item) => item.signed)).toBe(true);
    expect((await far("log", "rejecting")).output).toMatch(/\tdead\t/);

    // A replay from a cursor delivers what followed it again, in order, under the same ids.
    const before = received.length;
    const replayed = await far("replay", "receiver", firsts[firsts.length - 3]!.deliveryId);
    expect(replayed.status, replayed.output).toBe(0);
    await waitUntil(() => received.slice(before).filter((item) => item.path === "/hook").length >= 2, "the replayed deliveries");
    expect(received.slice(before).filter((item) => item.path === "/hook").map((item) => item.deliveryId)).toEqual(firsts.slice(-2).map((item) => item.deliveryId));
    expect((await far("list")).output).toMatch(/^receiver\t.*pending=0/m);

    second.child.kill("SIGTERM");
    await second.exited;
    expect(second.child.exitCode).toBe(0);
  });
});
