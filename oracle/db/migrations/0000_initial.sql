-- The store as it was created before numbered migrations: every statement is idempotent, so a
-- store created by an earlier version adopts this migration as applied.
create table if not exists leases (
  chain_id integer not null,
  address text not null,
  holder text not null,
  expires_at timestamptz not null,
  primary key (chain_id, address)
);
--> statement-breakpoint
create table if not exists txs (
  id bigserial primary key,
  chain_id integer not null,
  from_address text not null,
  nonce bigint not null,
  kind text not null,
  to_address text not null,
  data text not null,
  gas numeric(78,0) not null,
  state text not null,
  mined_hash text,
  mined_block bigint,
  mined_block_hash text,
  gas_spent numeric(78,0),
  created_at timestamptz not null default now(),
  mined_at timestamptz,
  unique (chain_id, from_address, nonce)
);
--> statement-breakpoint
create index if not exists txs_by_state on txs (chain_id, from_address, state, nonce);
--> statement-breakpoint
create table if not exists attempts (
  id bigserial primary key,
  tx_id bigint not null references txs (id),
  hash text not null unique,
  raw text not null,
  max_fee numeric(78,0) not null,
  priority_fee numeric(78,0) not null,
  created_at timestamptz not null default now(),
  broadcast_at timestamptz
);
--> statement-breakpoint
create index if not exists attempts_by_tx on attempts (tx_id);
--> statement-breakpoint
create table if not exists jobs (
  id bigserial primary key,
  chain_id integer not null,
  contract text not null,
  key text not null,
  kind text not null,
  payload jsonb not null,
  state text not null default 'received',
  reason_code text,
  reason text,
  actual_cost numeric(78,0),
  score integer,
  tx_id bigint,
  dead_letter_pending boolean not null default false,
  retries integer not null default 0,
  not_before timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  confirmed_at timestamptz,
  unique (chain_id, contract, key)
);
--> statement-breakpoint
create index if not exists jobs_by_state on jobs (chain_id, contract, state, id);
--> statement-breakpoint
create index if not exists jobs_by_tx on jobs (tx_id);
