-- Generation of each orchestrator's token: tokens are signed with the generation
-- they were issued at, and bumping it voids all older ones (rotation, revocation).
-- The token itself is never stored.
ALTER TABLE orchestrator_instances ADD COLUMN token_generation BIGINT NOT NULL DEFAULT 0;
