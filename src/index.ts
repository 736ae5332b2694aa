// Ponder loads indexing functions from src/; they live in indexer/.
import "../indexer/token";
import "../indexer/staking";
import "../indexer/escrow";
import "../indexer/tasks";
import "../indexer/nodes";
import "../indexer/revenue";
