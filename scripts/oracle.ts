/**
 * `npm run oracle`: runs the settlement worker until SIGINT/SIGTERM (graceful: nothing new is
 * sent, what is in flight is confirmed). Operators register and rate nodes through its HTTP
 * server (`npm run far -- node …`).
 */
import { runCommand } from "../common/cli";
import { loadOracleConfig } from "../oracle/config";
import { startOracle } from "../oracle/start-oracle";

const [command] = process.argv.slice(2);
if (command !== undefined) {
  console.error(`unexpected argument ${command}: the worker takes none (node operations: npm run far -- node register|rate)`);
  process.exit(2);
}

runCommand(async () => {
  const config = loadOracleConfig();
  // Listening before start: a signal that arrives while the worker starts still stops it cleanly.
  let oracle: Awaited<ReturnType<typeof startOracle>> | undefined;
  let signalled = false;
  let stopped = false;
  const stop = () => {
    signalled = true;
    if (!oracle || stopped) return;
    stopped = true;
    oracle.logger.info({ msg: "shutting down: confirming what is in flight" });
    void oracle.stop().then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  oracle = await startOracle(config);
  if (signalled) stop();
  await oracle.running;
});
