-- +goose Up
-- What an event adds to its action: an imported opt-out's original reason.
ALTER TABLE consent_events ADD COLUMN detail TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE consent_events DROP COLUMN detail;
