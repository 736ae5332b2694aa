-- Endpoints, from configuration (source 'config') or the operators' CLI (source 'cli').
create table endpoint (
  name text primary key,
  url text not null,
  secret text not null,
  recipient text,
  node text,
  streams text[],
  include_finality boolean not null default true,
  source text not null,
  -- The feed cursor of the last event taken into the outbox: the reader resumes after it.
  received_cursor text,
  -- Bumped by a replay or a change of filters: a reader of an older generation stops.
  generation integer not null default 0,
  created_at timestamptz not null default now()
);
--> statement-breakpoint
-- Events taken from the feed and not yet delivered or dead-lettered, in feed order per endpoint.
create table outbox (
  id bigserial primary key,
  endpoint text not null references endpoint (name) on delete cascade,
  cursor text not null,
  event_type text not null,
  body text not null,
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_error text
);
--> statement-breakpoint
create index outbox_endpoint on outbox (endpoint, id);
--> statement-breakpoint
-- Every attempt, kept after its endpoint is removed.
create table delivery (
  id bigserial primary key,
  endpoint text not null,
  cursor text not null,
  event_type text not null,
  attempt integer not null,
  outcome text not null,
  status integer,
  error text,
  duration_ms integer not null,
  at timestamptz not null default now()
);
--> statement-breakpoint
create index delivery_endpoint on delivery (endpoint, id);
--> statement-breakpoint
create table dead_letter (
  id bigserial primary key,
  endpoint text not null,
  cursor text not null,
  event_type text not null,
  body text not null,
  attempts integer not null,
  last_error text,
  dead_at timestamptz not null default now(),
  redelivered_at timestamptz
);
