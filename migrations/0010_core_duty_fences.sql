-- The newest lease under which each singleton duty of core has written
-- (core/src/duties.rs): a core replica that lost its lease is refused.
CREATE TABLE core_duty_fences (
    duty     text   PRIMARY KEY,
    epoch    bigint NOT NULL,
    revision bigint NOT NULL
);
