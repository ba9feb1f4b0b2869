-- Superadmins of the dashboard and API, and their login sessions.
CREATE TABLE admins (
    username      VARCHAR(128) PRIMARY KEY,
    password_hash TEXT NOT NULL,            -- argon2id, PHC string
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A session token is 32 random bytes given to the client once; only its SHA-256
-- (hex) is stored, so a database dump reveals no usable token.
CREATE TABLE sessions (
    token_hash  CHAR(64) PRIMARY KEY,
    username    VARCHAR(128) NOT NULL REFERENCES admins (username) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);

CREATE INDEX sessions_expiry_idx ON sessions (expires_at);
