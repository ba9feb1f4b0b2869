-- Each orchestrator's liveness TTL as a column: 3 of the heartbeat intervals it
-- announced in its handshake (bounded to 5 s – 1 h), NULL if it announced none
-- (the sweep then uses HEARTBEAT_TTL_SEC). Computed by PostgreSQL when the row is
-- written, so the sweep (every 2 s, over every active row) compares numbers
-- instead of parsing each row's metadata JSON: at 200,000 rows that parsing took
-- over a second per sweep and held the heartbeat writes behind it.
ALTER TABLE orchestrator_instances ADD COLUMN liveness_ttl_sec DOUBLE PRECISION
    GENERATED ALWAYS AS (
        CASE WHEN jsonb_typeof(metadata -> 'heartbeat_interval_sec') = 'number'
             THEN LEAST(GREATEST(3 * (metadata ->> 'heartbeat_interval_sec')::float8, 5), 3600)
        END) STORED;
