-- +goose Up
-- The report of the last finished run, whatever its key: a run whose
-- inputs and spec have not changed since (its report's inputKey) has
-- nothing to do.
CREATE TABLE last_run (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    report TEXT NOT NULL
);

-- +goose Down
DROP TABLE last_run;
