-- The pod view is read by owner and namespace on every StatefulSet sync.
CREATE INDEX IF NOT EXISTS objects_pods_ns_owner ON objects (namespace, owner_uid) WHERE kind = 'Pod';
-- Pods reported DELETED: a late or redelivered older event about them must not bring
-- them back into the view. Trimmed after an hour.
CREATE TABLE IF NOT EXISTS tombstones (
    uid        text        PRIMARY KEY,
    deleted_at timestamptz NOT NULL DEFAULT now()
);
