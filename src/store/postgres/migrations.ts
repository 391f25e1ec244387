import { IMAGES_MIGRATION } from '../images-sql.js';

/**
 * The PostgreSQL schema, one entry per version; applied in order, each in its own transaction, never
 * edited once released (a change is a new entry). Times are ms since the epoch, as in the SQLite store,
 * so the queue's injected clock means the same on both.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: verdicts, the service's queue and its events, the layer cache: the SQLite store's schema 3.
  `CREATE TABLE jobs (
     id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     digest text NOT NULL,
     registry text NOT NULL,
     repository text NOT NULL,
     tag text,
     rules_digest text NOT NULL,
     feeds_state text NOT NULL,
     priority integer NOT NULL,
     state text NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
     attempts integer NOT NULL DEFAULT 0,
     max_attempts integer NOT NULL,
     not_before bigint NOT NULL,
     lease_owner text,
     lease_token integer NOT NULL DEFAULT 0,
     lease_expires bigint,
     last_error text,
     verdict text CHECK (verdict IN ('pass', 'fail', 'error')),
     created_at bigint NOT NULL,
     updated_at bigint NOT NULL,
     finished_at bigint,
     UNIQUE (digest, rules_digest, feeds_state)
   );
   CREATE INDEX jobs_runnable ON jobs (priority, not_before, id) WHERE state = 'queued';
   CREATE INDEX jobs_running ON jobs (lease_expires) WHERE state = 'running';
   CREATE INDEX jobs_repository ON jobs (repository, id);
   CREATE TABLE events (
     id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     receiver text NOT NULL,
     event_id text NOT NULL,
     registry text NOT NULL,
     repository text NOT NULL,
     tag text,
     digest text NOT NULL,
     job_id bigint NOT NULL REFERENCES jobs (id),
     received_at bigint NOT NULL,
     UNIQUE (receiver, event_id)
   );
   CREATE INDEX events_job ON events (job_id);
   CREATE TABLE verdicts (
     id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     digest text NOT NULL,
     reference text NOT NULL,
     repository text NOT NULL,
     platform text,
     verdict text NOT NULL CHECK (verdict IN ('pass', 'fail', 'error')),
     policy_digest text,
     checked_at text NOT NULL,
     report text NOT NULL,
     bundle text,
     report_bundle text,
     attestation text,
     job_id bigint REFERENCES jobs (id)
   );
   CREATE INDEX verdicts_digest ON verdicts (digest, checked_at);
   CREATE INDEX verdicts_reference ON verdicts (reference, checked_at);
   CREATE INDEX verdicts_repository ON verdicts (repository, checked_at);
   CREATE INDEX verdicts_job ON verdicts (job_id);
   CREATE TABLE layer_facts (
     key text PRIMARY KEY,
     seq bigint GENERATED ALWAYS AS IDENTITY,
     diff_id text NOT NULL,
     facts bytea NOT NULL,
     sha256 text NOT NULL,
     bytes bigint NOT NULL,
     used_at bigint NOT NULL
   );
   CREATE INDEX layer_facts_used ON layer_facts (used_at, seq);
   CREATE INDEX layer_facts_diff_id ON layer_facts (diff_id);`,
  // 2: the SQLite store's schema 4: images, service locks, rescans renumbered after `reconcile`.
  IMAGES_MIGRATION,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
