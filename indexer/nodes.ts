/** GPU nodes: registration, deactivation, and every change of reliability with its cause. */
import { ponder } from "ponder:registry";
import { node, nodeRating } from "ponder:schema";
import { toFunctionSelector, type AbiFunction } from "viem";
import { inferencePaymentAbi } from "../abis";
import { logId, lower, positionOf } from "./context";

const updateNodeRatingSelector = toFunctionSelector(
  inferencePaymentAbi.find((item): item is Extract<typeof item, AbiFunction> => item.type === "function" && item.name === "updateNodeRating")!,
);

ponder.on("InferencePayment:NodeRegistered", async ({ event, context }) => {
  const position = positionOf(event);
  const owner = lower(event.args.owner);
  const reliability = Number(event.args.reliability);
  // Re-registration reactivates a node and keeps its history, as the contract does.
  await context.db
    .insert(node)
    .values({
      address: lower(event.args.node),
      owner,
      active: true,
      reliability,
      tasksCompleted: 0,
      tasksFailed: 0,
      totalEarned: 0n,
      registeredAt: position.timestamp,
      registeredBlock: position.blockNumber,
      deactivatedAt: null,
    })
    .onConflictDoUpdate({ owner, active: true, reliability, deactivatedAt: null });
});

ponder.on("InferencePayment:NodeDeactivated", async ({ event, context }) => {
  await context.db.update(node, { address: lower(event.args.node) }).set({ active: false, deactivatedAt: Number(event.block.timestamp) });
});

ponder.on("InferencePayment:NodeRatingUpdated", async ({ event, context }) => {
  const position = positionOf(event);
  const address = lower(event.args.node);
  const newRating = Number(event.args.newRating);
  await context.db.update(node, { address }).set({ reliability: newRating });
  await context.db.insert(nodeRating).values({
    id: logId(position),
    node: address,
    oldRating: Number(event.args.oldRating),
    newRating,
    reason: event.transaction.input.startsWith(updateNodeRatingSelector) ? "ORACLE" : "SETTLEMENT",
    ...position,
  });
});
