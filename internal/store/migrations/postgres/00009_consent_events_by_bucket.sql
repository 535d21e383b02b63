-- +goose Up
-- Consent events are found by bucket and key, as contacts are, so that a
-- run's partition adds its evidence to one stretch of the index instead
-- of to pages all over it. Events recorded before keep bucket -1, and
-- lookups ask for that bucket too.
ALTER TABLE consent_events ADD COLUMN bucket INTEGER NOT NULL DEFAULT -1;
CREATE INDEX consent_events_bucket_key ON consent_events (bucket, key);
DROP INDEX consent_events_key;

-- +goose Down
CREATE INDEX consent_events_key ON consent_events (key);
DROP INDEX consent_events_bucket_key;
ALTER TABLE consent_events DROP COLUMN bucket;
