-- The three tables of spec 002 "Database Schema", every column kept, plus what the
-- distributed controller needs to make writes idempotent and ordered:
--   conn_id / connected_at / disconnected_at: which connection a row describes, so a
--     late disconnect or heartbeat of an older connection can never touch a newer one;
--   edge_id: the edge holding the socket, so core can rebuild its routing at start.
-- Timestamps are TIMESTAMPTZ (the spec's TIMESTAMP held naive UTC): the API speaks
-- RFC 3339 and nothing should depend on the server's time zone.

CREATE TABLE organizations (
    organization_id VARCHAR(255) PRIMARY KEY,
    name            VARCHAR(255) NOT NULL,
    location        VARCHAR(255),
    metadata        JSONB NOT NULL DEFAULT '{}',
    -- Features the controller wants the orchestrator to run (pushed in provision_config).
    features        JSONB NOT NULL DEFAULT '{}',
    last_seen       TIMESTAMPTZ,
    status          VARCHAR(50) NOT NULL DEFAULT 'inactive',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    is_active       BOOLEAN NOT NULL DEFAULT TRUE,
    -- Controller-owned settings pushed in provision_config (the first version
    -- overwrote this with handshake data on every connect; we keep that in metadata).
    settings        JSONB NOT NULL DEFAULT '{}',
    is_independent  BOOLEAN NOT NULL DEFAULT FALSE,
    -- Policies pushed in provision_config.
    policies        JSONB NOT NULL DEFAULT '{}'
);

CREATE TABLE orchestrator_instances (
    orchestrator_id       VARCHAR(255) PRIMARY KEY,
    organization_id       VARCHAR(255) REFERENCES organizations (organization_id),
    organization_name     VARCHAR(255),
    name                  VARCHAR(255),
    location              VARCHAR(255),
    status                VARCHAR(50) NOT NULL DEFAULT 'inactive',
    last_seen             TIMESTAMPTZ,
    health_status         VARCHAR(50) NOT NULL DEFAULT 'healthy',
    is_independent        BOOLEAN NOT NULL DEFAULT FALSE,
    metadata              JSONB NOT NULL DEFAULT '{}',
    -- Features the orchestrator reported in its last handshake.
    features              JSONB NOT NULL DEFAULT '{}',
    session_config        JSONB NOT NULL DEFAULT '{}',
    privacy_mode          BOOLEAN NOT NULL DEFAULT FALSE,
    monitoring_enabled    BOOLEAN NOT NULL DEFAULT TRUE,
    internal_url          VARCHAR(500),
    database_url          VARCHAR(500),
    redis_url             VARCHAR(500),
    container_id          VARCHAR(255),
    image_name            VARCHAR(255),
    environment_variables JSONB NOT NULL DEFAULT '{}',
    phoenix_endpoint      VARCHAR(500),
    admin_email           VARCHAR(255),
    support_email         VARCHAR(255),
    website               VARCHAR(255),
    last_activity         TIMESTAMPTZ,
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Added by the distributed controller (see the header).
    conn_id               UUID,
    edge_id               VARCHAR(128),
    connected_at          TIMESTAMPTZ,
    disconnected_at       TIMESTAMPTZ,
    -- The last o_config_snapshot the orchestrator sent, and when.
    o_config_snapshot     JSONB,
    o_config_snapshot_at  TIMESTAMPTZ
) WITH (fillfactor = 80); -- room on each page so heartbeat updates stay HOT

CREATE INDEX orchestrator_instances_organization_idx ON orchestrator_instances (organization_id);
CREATE INDEX orchestrator_instances_created_idx ON orchestrator_instances (created_at DESC);

CREATE TABLE orchestrator_messages (
    id               VARCHAR(255) PRIMARY KEY,
    orchestrator_id  VARCHAR(255) NOT NULL,
    message_type     VARCHAR(50) NOT NULL CHECK (message_type IN ('recommendation', 'monitoring')),
    content          TEXT NOT NULL,
    message_metadata JSONB NOT NULL DEFAULT '{}',
    status           VARCHAR(50) NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'accepted', 'dismissed')),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Who wrote the message: the controller (REST) or the orchestrator (WebSocket).
    source           VARCHAR(20) NOT NULL DEFAULT 'controller'
                     CHECK (source IN ('controller', 'orchestrator'))
);

CREATE INDEX orchestrator_messages_orchestrator_idx
    ON orchestrator_messages (orchestrator_id, created_at DESC);
CREATE INDEX orchestrator_messages_status_idx ON orchestrator_messages (status, created_at DESC);
