-- +goose Up
-- Name and language a contact corrected in the preference center; like
-- preference_overrides, a merge never overrides them.
CREATE TABLE field_overrides (
    bucket     integer NOT NULL,
    key        text NOT NULL,
    field      text NOT NULL,
    value      text NOT NULL,
    changed_at text NOT NULL,
    PRIMARY KEY (bucket, key, field)
);

-- Changes received while a conversion runs, applied in order after it.
CREATE TABLE pending_changes (
    id        bigserial PRIMARY KEY,
    key       text NOT NULL,
    change    jsonb NOT NULL,
    queued_at text NOT NULL
);

-- +goose Down
DROP TABLE pending_changes;
DROP TABLE field_overrides;
