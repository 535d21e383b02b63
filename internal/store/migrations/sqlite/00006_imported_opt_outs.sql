-- +goose Up
-- The opt-outs the lists carried that a run already recorded, so a re-run
-- records none twice: one row per contact, topic, source, kind and original
-- time ('' when the list gave none). Keyed by bucket like contacts, so a
-- partition's rows sit together.
CREATE TABLE imported_opt_outs (
    bucket INTEGER NOT NULL,
    key    TEXT NOT NULL,
    topic  TEXT NOT NULL,
    source TEXT NOT NULL,
    kind   TEXT NOT NULL,
    dated  TEXT NOT NULL,
    PRIMARY KEY (bucket, key, topic, source, kind, dated)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE imported_opt_outs;
