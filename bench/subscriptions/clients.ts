/**
 * A process of benchmark subscribers (forked by bench/subscriptions.ts, run through `sh -c
 * 'ulimit -n N; exec node …'` so it may hold thousands of sockets): opens the subscriptions it
 * is given, half over SSE and half over WebSocket (graphql-ws), one socket per operation, and
 * records for every event only what the bench checks: which subscriber, the entity's id, its
 * block, the action, and when it arrived. Parsing is a regex over the raw frame, so a client
 * costs far less than the server it measures.
 */
import { Agent, request, type ClientRequest } from "node:http";
import WebSocket from "ws";
import { ACTIONS, CODE, EVENT, type ClientRequestMessage, type Collected, type Progress, type SubscriberSpec } from "./protocol";

function runClients() {
  const send = (message: unknown) => process.send!(message);
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  const requests: ClientRequest[] = [];
  const sockets: WebSocket[] = [];

  // Growable columns: a few million deliveries must not become millions of objects.
  let size = 0;
  let subscriberColumn = new Int32Array(1 << 16);
  let keyColumn = new Int32Array(1 << 16);
  let blockColumn = new Int32Array(1 << 16);
  let actionColumn = new Uint8Array(1 << 16);
  let timeColumn = new Float64Array(1 << 16);
  const keyIds = new Map<string, number>();
  const keys: string[] = [];
  const errors: Record<string, number> = {};
  const endedBy: Record<string, number> = {};
  let ended = 0;
  let open = 0;
  let bytes = 0;
  let windowFrom = Number.MAX_SAFE_INTEGER;
  let windowDeliveries = 0;
  let closing = false;

  const grow = () => {
    const capacity = subscriberColumn.length * 2;
    const widen = <T extends Int32Array | Uint8Array | Float64Array>(old: T, make: (n: number) => T) => {
      const next = make(capacity);
      next.set(old as never);
      return next;
    };
    subscriberColumn = widen(subscriberColumn, (n) => new Int32Array(n));
    keyColumn = widen(keyColumn, (n) => new Int32Array(n));
    blockColumn = widen(blockColumn, (n) => new Int32Array(n));
    actionColumn = widen(actionColumn, (n) => new Uint8Array(n));
    timeColumn = widen(timeColumn, (n) => new Float64Array(n));
  };

  const countError = (text: string) => {
    const code = CODE.exec(text)?.[1] ?? text.slice(0, 120);
    errors[code] = (errors[code] ?? 0) + 1;
    return code;
  };

  /** One GraphQL result (the `data` of an SSE frame or of a graphql-ws `next`). */
  const record = (subscriber: number, text: string, at: number) => {
    const match = EVENT.exec(text);
    if (!match) {
      countError(text);
      return;
    }
    if (size === subscriberColumn.length) grow();
    const key = match[3]!;
    let id = keyIds.get(key);
    if (id === undefined) {
      id = keys.push(key) - 1;
      keyIds.set(key, id);
    }
    const block = Number(match[1]);
    subscriberColumn[size] = subscriber;
    keyColumn[size] = id;
    blockColumn[size] = block;
    actionColumn[size] = ACTIONS.indexOf(match[2] as (typeof ACTIONS)[number]);
    timeColumn[size] = at;
    size += 1;
    if (block >= windowFrom) windowDeliveries += 1;
  };

  const end = (reason: string) => {
    if (closing) return;
    ended += 1;
    endedBy[reason] = (endedBy[reason] ?? 0) + 1;
  };

  function openSse(spec: SubscriberSpec): Promise<void> {
    return new Promise((resolve, reject) => {
      const body = JSON.stringify({ query: spec.query, variables: spec.variables });
      const req = request(spec.url, {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", accept: "text/event-stream", "content-length": Buffer.byteLength(body) },
      });
      requests.push(req);
      req.on("error", reject);
      req.on("response", (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          reject(new Error(`HTTP ${response.statusCode}`));
          return;
        }
        open += 1;
        response.setEncoding("utf8");
        let buffer = "";
        let lastError = "";
        response.on("data", (chunk: string) => {
          // One clock reading per chunk: every frame in it arrived at the same moment.
          const at = Date.now();
          bytes += Buffer.byteLength(chunk);
          buffer += chunk;
          let boundary: number;
          while ((boundary = buffer.indexOf("\n\n")) >= 0) {
            const frame = buffer.slice(0, boundary);
            buffer = buffer.slice(boundary + 2);
            if (!frame.startsWith("event: next")) continue;
            if (frame.includes('"errors"')) lastError = countError(frame);
            else record(spec.index, frame, at);
          }
        });
        response.on("end", () => {
          open -= 1;
          end(lastError || "stream ended");
        });
        response.on("error", () => undefined);
        resolve();
      });
      req.end(body);
    });
  }

  function openWs(spec: SubscriberSpec): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(spec.url.replace(/^http/, "ws"), "graphql-transport-ws", { perMessageDeflate: false });
      sockets.push(socket);
      let acknowledged = false;
      let lastError = "";
      socket.on("open", () => socket.send(JSON.stringify({ type: "connection_init" })));
      socket.on("message", (data: Buffer) => {
        const at = Date.now();
        bytes += data.length;
        const text = data.toString();
        if (!acknowledged) {
          if (!text.includes('"connection_ack"')) return;
          acknowledged = true;
          open += 1;
          socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: spec.query, variables: spec.variables } }));
          resolve();
          return;
        }
        if (text.includes('"type":"next"')) {
          if (text.includes('"errors"')) lastError = countError(text);
          else record(spec.index, text, at);
        } else if (text.includes('"type":"error"')) {
          lastError = countError(text);
        } else if (text.includes('"type":"complete"')) {
          end(lastError || "complete");
        }
      });
      socket.on("error", (error) => {
        if (!acknowledged) reject(error);
      });
      socket.on("close", (code) => {
        if (!acknowledged) return reject(new Error(`closed ${code} before connection_ack`));
        open -= 1;
        end(lastError || `socket closed ${code}`);
      });
    });
  }

  async function openAll(subscribers: SubscriberSpec[], concurrency: number) {
    let next = 0;
    let failed = 0;
    const lane = async () => {
      while (next < subscribers.length) {
        const spec = subscribers[next++]!;
        await (spec.transport === "sse" ? openSse(spec) : openWs(spec)).catch((error: unknown) => {
          failed += 1;
          countError(`open ${spec.transport}: ${String(error)}`);
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, subscribers.length) }, lane));
    return { open, failed };
  }

  process.on("message", async (message: ClientRequestMessage) => {
    switch (message.type) {
      case "open":
        return send({ type: "opened", ...(await openAll(message.subscribers, message.concurrency)) });
      case "window":
        windowFrom = message.fromBlock;
        windowDeliveries = 0;
        for (let i = 0; i < size; i++) if (blockColumn[i]! >= windowFrom) windowDeliveries += 1;
        return send({ type: "window" });
      case "progress":
        return send({ type: "progress", windowDeliveries, bytes } satisfies Progress & { type: string });
      case "collect": {
        const collected: Collected = {
          subscriber: subscriberColumn.slice(0, size),
          key: keyColumn.slice(0, size),
          block: blockColumn.slice(0, size),
          action: actionColumn.slice(0, size),
          receivedAt: timeColumn.slice(0, size),
          keys,
          errors,
          ended,
          endedBy,
        };
        return send({ type: "collected", ...collected });
      }
      case "close":
        closing = true;
        for (const req of requests) req.destroy();
        for (const socket of sockets) socket.terminate();
        agent.destroy();
        send({ type: "closed" });
        return setTimeout(() => process.exit(0), 100);
    }
  });
  // The bench died: do not outlive it holding thousands of sockets.
  process.on("disconnect", () => process.exit(0));
  send({ type: "ready" });
}

runClients();
