-- +goose Up
-- How the shards of a sharded run hand each other rows. Each shard reads its
-- share of the lists and leaves here, per partition, the rows it read for
-- that partition (a parcel, in the spill's encoding); the shard that owns the
-- partition takes the parcels of every shard. Part -1 holds rejected rows,
-- for shard 0. exchange_shards records that a shard has handed out all its
-- parcels, with what it read, or that it stopped on bad input (failed: the
-- error, which names sources, lines and columns, never a value), so the
-- others stop too. Both are unlogged: a crash of the server
-- empties them together, and the shards read again.
CREATE UNLOGGED TABLE exchange_parcels (
    exchange TEXT NOT NULL,
    part     INTEGER NOT NULL,
    shard    INTEGER NOT NULL,
    rows     BIGINT NOT NULL,
    data     BYTEA NOT NULL,
    PRIMARY KEY (exchange, part, shard)
);
-- Parcels are already compact and read once: compressing them costs more
-- than it saves.
ALTER TABLE exchange_parcels ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE UNLOGGED TABLE exchange_shards (
    exchange  TEXT NOT NULL,
    shard     INTEGER NOT NULL,
    read      TEXT NOT NULL,
    failed    TEXT,
    handed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (exchange, shard)
);

-- +goose Down
DROP TABLE exchange_shards;
DROP TABLE exchange_parcels;
