/**
 * A no-op handler for every event our indexer handles, so Ponder fetches, decodes and dispatches
 * the same logs and does nothing else: the framework's own ceiling for this history.
 */
import { ponder } from "ponder:registry";
import { handledEventNames } from "../../events";

for (const name of handledEventNames) ponder.on(name as Parameters<typeof ponder.on>[0], async () => {});
