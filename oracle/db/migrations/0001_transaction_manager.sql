-- The transaction manager keeps requests under the caller's idempotency key; a request has no
-- nonce (and maybe no gas limit) until it is signed. Transactions of the earlier design get a
-- key of their own so their jobs can follow them.
alter table txs add column idempotency_key text;
--> statement-breakpoint
update txs set idempotency_key = 'legacy:' || id;
--> statement-breakpoint
alter table txs alter column idempotency_key set not null;
--> statement-breakpoint
create unique index txs_by_idempotency_key on txs (chain_id, from_address, idempotency_key);
--> statement-breakpoint
alter table txs add column value numeric(78,0) not null default 0;
--> statement-breakpoint
alter table txs add column gas_limit numeric(78,0);
--> statement-breakpoint
alter table txs add column reason text;
--> statement-breakpoint
alter table txs alter column nonce drop not null;
--> statement-breakpoint
alter table txs alter column gas drop not null;
--> statement-breakpoint
update txs set kind = 'request' where kind <> 'noop';
--> statement-breakpoint
-- Which attempt is a no-op replacement, so the outcome follows the attempt that was mined.
alter table attempts add column noop boolean not null default false;
--> statement-breakpoint
-- Jobs point at the call (idempotency key) that carries them, not at a transaction row.
alter table jobs add column call_key text;
--> statement-breakpoint
alter table jobs add column submissions integer not null default 0;
--> statement-breakpoint
update jobs set call_key = txs.idempotency_key from txs where jobs.tx_id = txs.id;
--> statement-breakpoint
drop index if exists jobs_by_tx;
--> statement-breakpoint
alter table jobs drop column tx_id;
--> statement-breakpoint
create index jobs_by_call on jobs (call_key);
--> statement-breakpoint
-- One name per operation, from message to contract call: the contract function's.
alter table jobs rename column kind to operation;
--> statement-breakpoint
update jobs set operation = case operation
  when 'settle' then 'completeTask' when 'fail' then 'failTask'
  when 'register_node' then 'registerNode' when 'rate_node' then 'updateNodeRating' else operation end;
--> statement-breakpoint
update jobs set key = 'registerNode:' || substr(key, 15) where key like 'register\_node:%';
--> statement-breakpoint
update jobs set key = 'updateNodeRating:' || substr(key, 11) where key like 'rate\_node:%';
--> statement-breakpoint
update jobs set payload = (payload - 'kind') || jsonb_build_object('operation', operation, 'key', key);
