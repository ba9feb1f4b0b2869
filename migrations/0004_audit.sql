-- Who did what through the API: logins and failures, independence changes, config
-- pushes, sends, registrations, deletions, message decisions. Never secrets.
CREATE TABLE audit_log (
    id       BIGSERIAL PRIMARY KEY,
    at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor    VARCHAR(128) NOT NULL,
    action   VARCHAR(64) NOT NULL,
    target   VARCHAR(255),
    address  VARCHAR(64),
    detail   JSONB NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_log_at_idx ON audit_log (at DESC);
