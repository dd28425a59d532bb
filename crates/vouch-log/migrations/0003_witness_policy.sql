-- The witness policy every front end of this log pushes checkpoints under and acknowledges
-- writes with: a fingerprint of the C2SP tlog-policy (sha256 of its normalized text) and
-- whether the quorum is required, or 'none'. The first front end records it; a front end
-- started with another policy is refused unless it is told to replace it.
ALTER TABLE vouch_log_meta ADD COLUMN witness_policy text;
