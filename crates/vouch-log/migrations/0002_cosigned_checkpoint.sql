-- The latest checkpoint with its witnesses' cosignatures: the log-signed note of a published
-- checkpoint with the cosignature lines the integrator collected appended. Every front end
-- serves it at /checkpoint and acknowledges writes with it when a witness policy is
-- configured. Only the integrator replaces it, by compare-and-swap on the connection that
-- holds the integrator lock, and never beyond the published checkpoint (vouch_log_checkpoint).
CREATE TABLE vouch_log_cosigned (
    id smallint PRIMARY KEY CHECK (id = 1),
    size bigint NOT NULL CHECK (size >= 0),
    root bytea NOT NULL CHECK (length(root) = 32),
    note text NOT NULL
);
