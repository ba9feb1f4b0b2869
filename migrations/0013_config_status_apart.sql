-- An orchestrator's last config_status moves off its instance row, into a table
-- of its own. The instance row is the one heartbeats update in bulk; statuses,
-- written one by one in the events transaction, locked the same rows in another
-- order, and at 40,000 heartbeats/s PostgreSQL found deadlocks between the two.
CREATE TABLE orchestrator_config_status (
    orchestrator_id      VARCHAR(255) PRIMARY KEY
                         REFERENCES orchestrator_instances (orchestrator_id) ON DELETE CASCADE,
    config_reported_hash TEXT NOT NULL,
    config_status        VARCHAR(20) NOT NULL CHECK (config_status IN ('applying', 'applied', 'failed')),
    config_error         TEXT,
    config_effective     JSONB,
    config_reported_at   TIMESTAMPTZ NOT NULL
);

INSERT INTO orchestrator_config_status
SELECT orchestrator_id, config_reported_hash, config_status, config_error, config_effective,
       config_reported_at
  FROM orchestrator_instances
 WHERE config_reported_hash IS NOT NULL AND config_status IS NOT NULL
   AND config_reported_at IS NOT NULL;

ALTER TABLE orchestrator_instances
    DROP COLUMN config_reported_hash,
    DROP COLUMN config_status,
    DROP COLUMN config_error,
    DROP COLUMN config_effective,
    DROP COLUMN config_reported_at;
