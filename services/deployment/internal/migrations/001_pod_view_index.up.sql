-- The pod view is read by owner and namespace on every ReplicaSet sync.
CREATE INDEX IF NOT EXISTS objects_pods_ns_owner ON objects (namespace, owner_uid) WHERE kind = 'Pod';
