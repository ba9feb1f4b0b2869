-- When the orchestrator acknowledged a controller-written message (`message_ack`);
-- pending, unacknowledged messages are delivered again at every reconnect.
ALTER TABLE orchestrator_messages ADD COLUMN acked_at TIMESTAMPTZ;

CREATE INDEX orchestrator_messages_undelivered_idx
    ON orchestrator_messages (orchestrator_id, created_at)
    WHERE status = 'pending' AND acked_at IS NULL AND source = 'controller';
