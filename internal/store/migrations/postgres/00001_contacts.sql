-- +goose Up
-- The same schema as SQLite's (see migrations/sqlite), with jsonb columns so
-- segments can be queried (contacts WHERE segments ->> 'fairs' = 'subscribed').
CREATE TABLE contacts (
    bucket            integer NOT NULL,
    key                text NOT NULL,
    email              text NOT NULL DEFAULT '',
    first_name         text NOT NULL DEFAULT '',
    last_name          text NOT NULL DEFAULT '',
    language           text NOT NULL DEFAULT '',
    language_defaulted boolean NOT NULL DEFAULT false,
    fields             jsonb NOT NULL DEFAULT '{}',
    sources            jsonb NOT NULL DEFAULT '[]',
    segments           jsonb NOT NULL DEFAULT '{}',
    global_opt_out     boolean NOT NULL DEFAULT false,
    conflicts          jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (bucket, key)
);

CREATE TABLE segments (
    name         text PRIMARY KEY,
    kind         text NOT NULL,
    display_name text NOT NULL DEFAULT ''
);

CREATE TABLE rejected_rows (
    source text NOT NULL,
    line   integer NOT NULL,
    reason text NOT NULL,
    detail text NOT NULL DEFAULT '',
    PRIMARY KEY (source, line)
);

CREATE TABLE suppressions (
    key_hash   text PRIMARY KEY,
    created_at text NOT NULL,
    origin     text NOT NULL
);

CREATE TABLE preference_overrides (
    bucket     integer NOT NULL,
    key        text NOT NULL,
    segment    text NOT NULL,
    status     text NOT NULL,
    changed_at text NOT NULL,
    PRIMARY KEY (bucket, key, segment)
);

CREATE TABLE consent_events (
    id        bigserial PRIMARY KEY,
    key       text NOT NULL,
    topic     text NOT NULL,
    action    text NOT NULL,
    at        text NOT NULL,
    source    text NOT NULL,
    text_hash text NOT NULL DEFAULT '',
    ip        text NOT NULL DEFAULT ''
);
CREATE INDEX consent_events_key ON consent_events (key);

CREATE TABLE settings (
    name  text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE checkpoints (
    run_key text NOT NULL,
    part    integer NOT NULL,
    stats   text NOT NULL,
    PRIMARY KEY (run_key, part)
);

CREATE TABLE runs (
    run_key     text PRIMARY KEY,
    finished_at text NOT NULL,
    report      text NOT NULL
);

-- Each shard's report of a sharded run; the last shard to finish sums them.
CREATE TABLE shard_reports (
    run_key text NOT NULL,
    shard   integer NOT NULL,
    report  text NOT NULL,
    PRIMARY KEY (run_key, shard)
);

-- +goose Down
DROP TABLE shard_reports, runs, checkpoints, settings, consent_events, preference_overrides, suppressions, rejected_rows,
    segments, contacts;
