-- +goose Up
-- The bucket of an erased key (its hash reveals nothing more: 13 bits), so a
-- partition rewrite checks only the erasures of its own buckets, inside its
-- transaction. -1 marks erasures made before this column: every rewrite
-- checks those.
ALTER TABLE suppressions ADD COLUMN bucket INTEGER NOT NULL DEFAULT -1;
CREATE INDEX suppressions_bucket ON suppressions (bucket);

-- The buckets a checkpointed partition covers, so an erasure drops the
-- checkpoint of the partition holding the key: a resumed or repeated run
-- then merges that partition again and counts the erased rows.
ALTER TABLE checkpoints ADD COLUMN lo INTEGER NOT NULL DEFAULT -1;
ALTER TABLE checkpoints ADD COLUMN hi INTEGER NOT NULL DEFAULT -1;

-- +goose Down
ALTER TABLE checkpoints DROP COLUMN hi;
ALTER TABLE checkpoints DROP COLUMN lo;
DROP INDEX suppressions_bucket;
ALTER TABLE suppressions DROP COLUMN bucket;
