-- Frames sent with `POST …/send?expires_in_sec=N` to an orchestrator that was not
-- connected: kept until its next handshake delivers them (oldest first), or until
-- they expire unsent. Deleting the instance deletes them.
CREATE TABLE queued_sends (
    id              TEXT PRIMARY KEY,
    orchestrator_id VARCHAR(255) NOT NULL
                    REFERENCES orchestrator_instances (orchestrator_id) ON DELETE CASCADE,
    -- The whole frame as the administrator gave it; `frame_type` is its `type`.
    frame           JSONB NOT NULL,
    frame_type      TEXT NOT NULL,
    -- The admin who queued it.
    created_by      VARCHAR(255) NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at      TIMESTAMPTZ NOT NULL,
    -- Set when a core claims it to send it (cleared again if that send fails):
    -- a send is claimed once, so delivered once.
    delivered_at    TIMESTAMPTZ
);

-- What a handshake looks for: the orchestrator's sends not delivered yet.
CREATE INDEX queued_sends_undelivered_idx
    ON queued_sends (orchestrator_id) WHERE delivered_at IS NULL;
