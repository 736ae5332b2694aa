/** Everything about one address: its FAR, its money in InferencePayment, its roles and history. */
import { account, escrowAccount, node, staker, task } from "../../schema";
import { builder } from "../builder";
import { rowBy, rowsBy } from "../loaders";
import { paginate, sortedBy } from "../pagination";
import { loadReceivedPayouts } from "./payouts";
import { AccountConnection, AccountRef, EscrowRef, NodeRef, PayoutConnection, RevenueStreamEnum, StakerRef, TaskConnection, TaskStatusEnum, pageArgs } from "./refs";
import { loadTaskPage } from "./tasks";

EscrowRef.implement({
  description: "A user's FAR inside InferencePayment.",
  fields: (t) => ({
    balance: t.expose("balance", { type: "BigInt", description: "`userBalances(user)`: deposited and not escrowed." }),
    escrowed: t.expose("escrowed", { type: "BigInt", description: "Held by the user's open tasks." }),
    deposited: t.expose("deposited", { type: "BigInt" }),
    withdrawn: t.expose("withdrawn", { type: "BigInt" }),
    spent: t.expose("spent", { type: "BigInt", description: "Paid for completed tasks." }),
  }),
});

AccountRef.implement({
  description: "Any address; fields are zero or empty for an address the chain never saw.",
  fields: (t) => ({
    address: t.expose("address", { type: "Address" }),
    balance: t.field({
      type: "BigInt",
      description: "`FARToken.balanceOf(address)`.",
      resolve: async ({ address }, _args, context) => (await rowBy(context, account, account.address).load(address))?.balance ?? 0n,
    }),
    firstSeenBlock: t.int({
      nullable: true,
      resolve: async ({ address }, _args, context) => (await rowBy(context, account, account.address).load(address))?.firstSeenBlock ?? null,
    }),
    escrow: t.field({
      type: EscrowRef,
      resolve: async ({ address }, _args, context) =>
        (await rowBy(context, escrowAccount, escrowAccount.user).load(address)) ?? { balance: 0n, escrowed: 0n, deposited: 0n, withdrawn: 0n, spent: 0n, updatedBlock: 0, updatedAt: 0 },
    }),
    staker: t.field({ type: StakerRef, nullable: true, resolve: ({ address }, _args, context) => rowBy(context, staker, staker.address).load(address) }),
    node: t.field({
      type: NodeRef,
      nullable: true,
      description: "The node registered at this address, if any.",
      resolve: ({ address }, _args, context) => rowBy(context, node, node.address).load(address),
    }),
    nodesOwned: t.field({ type: [NodeRef], resolve: ({ address }, _args, context) => rowsBy(context, node, node.owner, [node.registeredBlock, node.address]).load(address) }),
    tasks: t.field({
      type: TaskConnection,
      description: "Tasks this address created, newest first.",
      args: { ...pageArgs, status: t.arg({ type: TaskStatusEnum }) },
      resolve: ({ address }, args, context) => loadTaskPage(context, task.user, address, args),
    }),
    payouts: t.field({
      type: PayoutConnection,
      description: "Payouts this address received, newest first.",
      args: { ...pageArgs, stream: t.arg({ type: RevenueStreamEnum }) },
      resolve: ({ address }, args, context) => loadReceivedPayouts(context, address, args),
    }),
  }),
});

builder.queryField("account", (t) =>
  t.field({
    type: AccountRef,
    args: { address: t.arg({ type: "Address", required: true }) },
    resolve: (_root, { address }) => ({ address }),
  }),
);

const BY_ADDRESS = sortedBy("account:address", "asc", account.address);

builder.queryField("accounts", (t) =>
  t.field({
    type: AccountConnection,
    description: "Every address that ever held FAR, by address: lets a reader (such as `far verify`) walk all of them.",
    args: pageArgs,
    resolve: (_root, args, context) => paginate(context, { table: account, ordering: BY_ADDRESS, args }),
  }),
);
