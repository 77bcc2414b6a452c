-- The tables every service schema has: objects (one row per stored Kubernetes object,
-- the proto in data), a change log for watches, the transactional outbox, leader leases.
CREATE SEQUENCE IF NOT EXISTS resource_version_seq;

CREATE TABLE IF NOT EXISTS objects (
    kind             text   NOT NULL,
    namespace        text   NOT NULL,
    name             text   NOT NULL,
    uid              text   NOT NULL UNIQUE,
    resource_version bigint NOT NULL,
    owner_uid        text   NOT NULL DEFAULT '',
    labels           jsonb  NOT NULL DEFAULT '{}',
    data             bytea  NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);
CREATE INDEX IF NOT EXISTS objects_owner ON objects (kind, owner_uid);

CREATE TABLE IF NOT EXISTS changes (
    resource_version bigint      PRIMARY KEY,
    kind             text        NOT NULL,
    namespace        text        NOT NULL,
    name             text        NOT NULL,
    type             text        NOT NULL,
    data             bytea       NOT NULL,
    at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS changes_kind ON changes (kind, resource_version);

CREATE TABLE IF NOT EXISTS outbox (
    id      bigserial PRIMARY KEY,
    subject text      NOT NULL,
    msg_id  text      NOT NULL,
    data    bytea     NOT NULL
);

CREATE TABLE IF NOT EXISTS leases (
    name       text        PRIMARY KEY,
    holder     text        NOT NULL,
    expires_at timestamptz NOT NULL
);
