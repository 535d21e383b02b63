-- +goose Up
-- Name and language a contact corrected in the preference center; like
-- preference_overrides, a merge never overrides them.
CREATE TABLE field_overrides (
    bucket     INTEGER NOT NULL,
    key        TEXT NOT NULL,
    field      TEXT NOT NULL,
    value      TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    PRIMARY KEY (bucket, key, field)
) WITHOUT ROWID;

-- Changes received while a conversion runs, applied in order after it.
CREATE TABLE pending_changes (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    key       TEXT NOT NULL,
    change    TEXT NOT NULL,
    queued_at TEXT NOT NULL
);

-- +goose Down
DROP TABLE pending_changes;
DROP TABLE field_overrides;
