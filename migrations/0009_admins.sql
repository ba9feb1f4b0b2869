-- Admin management (issue 12): who may add and remove admins, which password
-- ADMIN_PASSWORD last set (so a restart applies a changed value, and only then),
-- and when each session was last used (its idle expiry survives a core restart).
ALTER TABLE admins ADD COLUMN superadmin BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE admins ADD COLUMN password_changed_at TIMESTAMPTZ NOT NULL DEFAULT now();
-- argon2id of the ADMIN_PASSWORD applied last; NULL: the stored password is it.
ALTER TABLE admins ADD COLUMN environment_password_hash TEXT;
ALTER TABLE sessions ADD COLUMN last_used_at TIMESTAMPTZ;
