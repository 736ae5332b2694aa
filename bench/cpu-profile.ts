/**
 * `npx tsx bench/cpu-profile.ts <inspector port> <seconds> <out.cpuprofile>`: a CPU profile of a
 * running Node process through its inspector (bench/subscriptions.ts starts every replica with
 * `--inspect` on a port of its own), saved for DevTools and summarised by self time.
 */
import { writeFileSync } from "node:fs";
import WebSocket from "ws";
import { byFunction, selfTime, type CpuProfile } from "./profile-summary";

const [port, seconds, out] = process.argv.slice(2);
if (!port || !seconds || !out) throw new Error("usage: bench/cpu-profile.ts <inspector port> <seconds> <out.cpuprofile>");
const [target] = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
const socket = new WebSocket(target!.webSocketDebuggerUrl);
await new Promise((resolve) => socket.once("open", resolve));
let lastId = 0;
const pending = new Map<number, (result: unknown) => void>();
socket.on("message", (data) => {
  const message = JSON.parse(String(data)) as { id?: number; result?: unknown };
  if (message.id !== undefined) pending.get(message.id)?.(message.result);
});
const call = <T>(method: string, params: Record<string, unknown> = {}) =>
  new Promise<T>((resolve) => {
    const id = ++lastId;
    pending.set(id, resolve as (result: unknown) => void);
    socket.send(JSON.stringify({ id, method, params }));
  });

await call("Profiler.enable");
await call("Profiler.setSamplingInterval", { interval: 500 });
await call("Profiler.start");
await new Promise((resolve) => setTimeout(resolve, Number(seconds) * 1000));
const { profile } = await call<{ profile: CpuProfile }>("Profiler.stop");
writeFileSync(out, JSON.stringify(profile));
socket.close();

console.log("samples", profile.samples.length);
for (const [name, share] of selfTime(profile, byFunction).slice(0, 30)) console.log((100 * share).toFixed(1).padStart(5), name);
