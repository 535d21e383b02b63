-- +goose Up
-- One merged contact per key. bucket is the key's fixed hash bucket
-- (0..8191); a run's partition is a range of buckets, which the engine
-- rewrites as a unit: keying the table by (bucket, key) keeps each
-- partition's rows together on disk, so rewriting one touches few pages. sources, segments, fields and conflicts are JSON.
CREATE TABLE contacts (
    bucket            INTEGER NOT NULL,
    key                TEXT NOT NULL,
    email              TEXT NOT NULL DEFAULT '',
    first_name         TEXT NOT NULL DEFAULT '',
    last_name          TEXT NOT NULL DEFAULT '',
    language           TEXT NOT NULL DEFAULT '',
    language_defaulted INTEGER NOT NULL DEFAULT 0,
    fields             TEXT NOT NULL DEFAULT '{}',
    sources            TEXT NOT NULL DEFAULT '[]',
    segments           TEXT NOT NULL DEFAULT '{}',
    global_opt_out     INTEGER NOT NULL DEFAULT 0,
    conflicts          TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;

-- Segments: one per old list (kind source) and per rule (kind rule).
CREATE TABLE segments (
    name         TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT ''
);

-- Rows without a valid key, kept for review: nothing is silently dropped.
CREATE TABLE rejected_rows (
    source TEXT NOT NULL,
    line   INTEGER NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (source, line)
) WITHOUT ROWID;

-- Erased contacts, by salted hash of the key, never re-imported.
CREATE TABLE suppressions (
    key_hash   TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    origin     TEXT NOT NULL
) WITHOUT ROWID;

-- Changes a contact made in the preference center; a merge never overrides
-- them. segment '*' is the global opt-out.
CREATE TABLE preference_overrides (
    key        TEXT NOT NULL,
    segment    TEXT NOT NULL,
    bucket     INTEGER NOT NULL,
    status     TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    PRIMARY KEY (bucket, key, segment)
) WITHOUT ROWID;

-- Evidence of every consent change; append-only.
CREATE TABLE consent_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    key       TEXT NOT NULL,
    topic     TEXT NOT NULL,
    action    TEXT NOT NULL,
    at        TEXT NOT NULL,
    source    TEXT NOT NULL,
    text_hash TEXT NOT NULL DEFAULT '',
    ip        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX consent_events_key ON consent_events (key);

-- Settings: the suppression salt, and the partition count keys are hashed
-- into.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Partitions a run has written, so a resumed run skips them.
CREATE TABLE checkpoints (
    run_key TEXT NOT NULL,
    part    INTEGER NOT NULL,
    stats   TEXT NOT NULL,
    PRIMARY KEY (run_key, part)
) WITHOUT ROWID;

-- Finished runs and their reports.
CREATE TABLE runs (
    run_key     TEXT PRIMARY KEY,
    finished_at TEXT NOT NULL,
    report      TEXT NOT NULL
) WITHOUT ROWID;

-- Each shard's report of a sharded run; the last shard to finish sums them.
CREATE TABLE shard_reports (
    run_key TEXT NOT NULL,
    shard   INTEGER NOT NULL,
    report  TEXT NOT NULL,
    PRIMARY KEY (run_key, shard)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE shard_reports;
DROP TABLE runs;
DROP TABLE checkpoints;
DROP TABLE settings;
DROP TABLE consent_events;
DROP TABLE preference_overrides;
DROP TABLE suppressions;
DROP TABLE rejected_rows;
DROP TABLE segments;
DROP TABLE contacts;
