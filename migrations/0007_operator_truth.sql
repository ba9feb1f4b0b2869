-- What the operator sees is true (issue 11).

-- 1. What an admin typed stays. A handshake announces a name and location; they are
--    kept as reported metadata and become the organization's own only while no
--    administrator has set one (through the API or the dashboard).
ALTER TABLE organizations
    ADD COLUMN reported_name       VARCHAR(255),
    ADD COLUMN reported_location   VARCHAR(255),
    ADD COLUMN name_from_admin     BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN location_from_admin BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE orchestrator_instances
    ADD COLUMN reported_name     VARCHAR(255),
    ADD COLUMN reported_location VARCHAR(255);

-- Until now an organization was "active" from the moment it was created; it is
-- active once an orchestrator has connected for it.
ALTER TABLE organizations ALTER COLUMN is_active SET DEFAULT FALSE;
UPDATE organizations o SET is_active = FALSE
 WHERE NOT EXISTS (SELECT 1 FROM orchestrator_instances i
                    WHERE i.organization_id = o.organization_id AND i.connected_at IS NOT NULL);

-- 2. Every push that carries state carries its revision, so an orchestrator (and
--    core) can tell a newer state from an older one that arrives late.
ALTER TABLE organizations ADD COLUMN config_revision BIGINT NOT NULL DEFAULT 1;
ALTER TABLE orchestrator_instances ADD COLUMN rule_revision BIGINT NOT NULL DEFAULT 1;
ALTER TABLE orchestrator_messages ADD COLUMN revision BIGINT NOT NULL DEFAULT 1;

-- 3. One shape for features: {"cache": {"enabled": true}} (spec 000 provision_config).
--    Booleans written by earlier dashboards become that shape.
UPDATE organizations
   SET features = (SELECT COALESCE(jsonb_object_agg(k, CASE WHEN jsonb_typeof(v) = 'boolean'
                                                            THEN jsonb_build_object('enabled', v)
                                                            ELSE v END), '{}'::jsonb)
                     FROM jsonb_each(features) AS f(k, v))
 WHERE jsonb_typeof(features) = 'object';

-- 4. A deregistered orchestrator stays gone: its reconnects are refused and its
--    handshakes create nothing until an administrator registers it again.
CREATE TABLE deregistered_orchestrators (
    orchestrator_id VARCHAR(255) PRIMARY KEY,
    deregistered_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
