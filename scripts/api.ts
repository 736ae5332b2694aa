/** `tsx scripts/api.ts`: a standalone API replica over the indexer's Postgres (see api/replica.ts). */
import { loadReplicaConfig } from "../api/config";
import { startReplica } from "../api/replica";
import { runCommand } from "../common/cli";

runCommand(async () => {
  const replica = await startReplica(loadReplicaConfig());
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void replica.close().then(() => process.exit(0)));
  }
});
