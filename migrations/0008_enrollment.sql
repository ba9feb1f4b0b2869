-- Enrollment credentials (issue 12): an admin creates one, scoped and expiring, and
-- an orchestrator id nobody has registered may use it once to register itself and
-- receive its own orchestrator token. The credential itself is never stored, only
-- the SHA-256 of `me1.<id>.<secret>`; uses are counted under a row lock.
CREATE TABLE enrollment_tokens (
    id               VARCHAR(32) PRIMARY KEY,
    secret_hash      CHAR(64) NOT NULL UNIQUE,
    description      VARCHAR(255) NOT NULL DEFAULT '',
    id_prefix        VARCHAR(128),
    organization_id  VARCHAR(128),
    max_uses         INTEGER CHECK (max_uses IS NULL OR max_uses > 0),
    uses             INTEGER NOT NULL DEFAULT 0,
    expires_at       TIMESTAMPTZ NOT NULL,
    revoked_at       TIMESTAMPTZ,
    created_by       VARCHAR(128) NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at     TIMESTAMPTZ
);
