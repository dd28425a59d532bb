-- vouch transparency log on PostgreSQL: sequencing, dedup, search index and the checkpoint.
-- Tiles and entry bundles live in the object store, never here.

-- The log this database holds (one row).
CREATE TABLE vouch_log_meta (
    id smallint PRIMARY KEY CHECK (id = 1),
    origin text NOT NULL,
    created text NOT NULL,
    -- Hex log ID (SHA-256 of the checkpoint key's SPKI) of the first front end: every front
    -- end must sign with this key.
    log_id text
);

-- The coordination row: the next index to assign. Sequencing locks it (SELECT ... FOR UPDATE).
CREATE TABLE vouch_log_sequence (
    id smallint PRIMARY KEY CHECK (id = 1),
    next_index bigint NOT NULL CHECK (next_index >= 0)
);
INSERT INTO vouch_log_sequence (id, next_index) VALUES (1, 0);

-- The latest published checkpoint, replaced by compare-and-swap.
CREATE TABLE vouch_log_checkpoint (
    id smallint PRIMARY KEY CHECK (id = 1),
    size bigint NOT NULL CHECK (size >= 0),
    root bytea NOT NULL CHECK (length(root) = 32),
    note text NOT NULL
);

-- Every sequenced entry: its leaf hash (the dedup key) and integration time.
CREATE TABLE vouch_log_entries (
    idx bigint PRIMARY KEY,
    leaf_hash bytea NOT NULL UNIQUE CHECK (length(leaf_hash) = 32),
    integrated_time bigint NOT NULL
);

-- Bodies of entries sequenced but not yet integrated into tiles (deleted once published).
CREATE TABLE vouch_log_pending (
    idx bigint PRIMARY KEY,
    body bytea NOT NULL
);

-- The v1 search index: search term -> entry index.
CREATE TABLE vouch_log_search (
    term text NOT NULL,
    idx bigint NOT NULL,
    PRIMARY KEY (term, idx)
);
