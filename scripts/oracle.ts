/**
 * `npm run oracle`: runs the settlement worker until SIGINT/SIGTERM (graceful: nothing new is
 * sent, what is in flight is confirmed). Node operations go through the same store:
 *   tsx scripts/oracle.ts register-node <node> <owner> [opId]
 *   tsx scripts/oracle.ts rate-node <node> <rating> [opId]
 * record the operation and wait until a running worker (or this one) confirms it.
 */
import { isAddress, type Address } from "viem";
import { loadOracleConfig } from "../oracle/config";
import { parseMessage } from "../oracle/message";
import { openOracle, startOracle } from "../oracle/main";

const config = loadOracleConfig();
const [command = "run", ...args] = process.argv.slice(2);

if (command === "run") {
  // Listening before start: a signal that arrives while the worker starts still stops it cleanly.
  let oracle: Awaited<ReturnType<typeof startOracle>> | undefined;
  let signalled = false;
  let stopped = false;
  const stop = () => {
    signalled = true;
    if (!oracle || stopped) return;
    stopped = true;
    oracle.log.info({ msg: "shutting down: confirming what is in flight" });
    void oracle.stop().then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  oracle = await startOracle(config);
  if (signalled) stop();
  await oracle.running;
} else if (command === "register-node" || command === "rate-node") {
  const [node, value, opId] = args;
  if (!node || !isAddress(node, { strict: false }) || !value) {
    console.error(`usage: oracle.ts ${command} <node> <${command === "register-node" ? "owner" : "rating"}> [opId]`);
    process.exit(2);
  }
  const fields: Record<string, string> =
    command === "register-node"
      ? { op: "registerNode", node, owner: value as Address, opId: opId ?? `cli:${node}:${value}` }
      : { op: "updateNodeRating", node, rating: value, opId: opId ?? `cli:${node}:${value}:${Date.now()}` };
  const parsed = parseMessage(fields, config.ORACLE_MODELS);
  if (!parsed.ok) {
    console.error(JSON.stringify({ msg: "invalid operation", code: parsed.code, reason: parsed.reason }));
    process.exit(2);
  }
  const { store, sql, log } = await openOracle(config);
  await store.recordJob(parsed.job);
  log.info({ msg: "operation recorded; waiting for a worker to confirm it", key: parsed.job.key });
  for (;;) {
    const job = await store.job(parsed.job.key);
    if (job?.state === "confirmed" || job?.state === "dead") {
      log.info({ msg: `operation ${job.state}`, key: parsed.job.key, reason: job.reason });
      await sql.close();
      process.exit(job.state === "confirmed" ? 0 : 1);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
} else {
  console.error(`unknown command ${command}: run | register-node | rate-node`);
  process.exit(2);
}
