// The indexer's own configuration, re-exported: the same chain settings, contracts, ABIs, start
// block and database, so the only difference from our indexer is what the handlers do.
export { default } from "../../../ponder.config";
