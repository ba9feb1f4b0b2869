-- Configuration as versions the orchestrators acknowledge, and rollouts in waves.
--
-- An organization's configuration (features, settings, policies) already has a
-- revision (0007). Each revision is now kept with the hash of its content, who
-- made it and why; each orchestrator's last `config_status` is kept beside its
-- instance row; a rollout is a change applied to a set of organizations in waves.

-- The hash of the current content (lowercase hex SHA-256 of its canonical JSON,
-- `moolai_proto::config::ConfigContent::hash`). Written by the persister with each
-- change; NULL only until the persister's start-up fills in rows written before
-- this migration (PostgreSQL cannot compute the same canonical JSON).
ALTER TABLE organizations ADD COLUMN config_hash TEXT;

CREATE TABLE config_revisions (
    organization_id VARCHAR(255) NOT NULL REFERENCES organizations (organization_id) ON DELETE CASCADE,
    revision        BIGINT NOT NULL,
    hash            TEXT NOT NULL,
    config          JSONB NOT NULL,
    -- The admin who made it, or `system` for content found at the upgrade.
    created_by      VARCHAR(255) NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- features | rollback | rollout | initial
    reason          VARCHAR(20) NOT NULL,
    rolled_back_to  BIGINT,
    rollout_id      VARCHAR(64),
    -- The last config_status an orchestrator gave for this revision's hash.
    outcome         VARCHAR(20) CHECK (outcome IN ('applying', 'applied', 'failed')),
    outcome_error   TEXT,
    outcome_at      TIMESTAMPTZ,
    PRIMARY KEY (organization_id, revision)
);

CREATE INDEX config_revisions_hash_idx ON config_revisions (organization_id, hash);

-- What the orchestrator last said of the configuration it was sent.
ALTER TABLE orchestrator_instances
    ADD COLUMN config_reported_hash TEXT,
    ADD COLUMN config_status        VARCHAR(20) CHECK (config_status IN ('applying', 'applied', 'failed')),
    ADD COLUMN config_error         TEXT,
    ADD COLUMN config_effective     JSONB,
    ADD COLUMN config_reported_at   TIMESTAMPTZ;

CREATE TABLE config_rollouts (
    id                    VARCHAR(64) PRIMARY KEY,
    -- {"features": {...}, "settings": {...}}: merged into each target's configuration.
    change                JSONB NOT NULL,
    -- How the targets were chosen (kept for the record; the targets are resolved once).
    selector              JSONB NOT NULL,
    -- Cumulative share of the targets done by the end of each wave, in percent;
    -- the last is 100.
    waves                 INTEGER[] NOT NULL,
    failure_threshold_pct INTEGER NOT NULL,
    wave_timeout_sec      INTEGER NOT NULL,
    state                 VARCHAR(20) NOT NULL
                          CHECK (state IN ('running', 'paused', 'aborted', 'completed')),
    -- The wave in progress (0-based), and when its change was applied (NULL: not yet).
    wave                  INTEGER NOT NULL DEFAULT 0,
    wave_started_at       TIMESTAMPTZ,
    -- Why it paused or ended, for people.
    reason                TEXT,
    created_by            VARCHAR(255) NOT NULL,
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE config_rollout_targets (
    rollout_id      VARCHAR(64) NOT NULL REFERENCES config_rollouts (id) ON DELETE CASCADE,
    organization_id VARCHAR(255) NOT NULL,
    position        INTEGER NOT NULL,
    wave            INTEGER NOT NULL,
    -- The revision and hash its wave made (NULL until then). Its outcome is not
    -- stored: it is read from the orchestrator's last config_status, so a target
    -- that was offline shows `applied` once it has caught up.
    revision        BIGINT,
    hash            TEXT,
    PRIMARY KEY (rollout_id, organization_id)
);

CREATE INDEX config_rollout_targets_wave_idx ON config_rollout_targets (rollout_id, wave);
