-- +goose Up
-- A list reported a hard bounce for the address: mail to it cannot arrive.
ALTER TABLE contacts ADD COLUMN undeliverable boolean NOT NULL DEFAULT false;
-- Why an imported opt-out was made: Unsubscribe, Bounce or Complaint ('' for
-- the preference center's own events).
ALTER TABLE consent_events ADD COLUMN kind TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE consent_events DROP COLUMN kind;
ALTER TABLE contacts DROP COLUMN undeliverable;
