-- Pod IPs handed out from the nodes' podCIDRs: the primary key makes a duplicate
-- address impossible, whatever two schedulers might believe.
CREATE TABLE IF NOT EXISTS pod_ips (
    ip   text PRIMARY KEY,
    uid  text NOT NULL UNIQUE,
    node text NOT NULL
);
CREATE INDEX IF NOT EXISTS pod_ips_node ON pod_ips (node);

-- Uids of deleted pods, so a late or repeated create command does not bring one back.
CREATE TABLE IF NOT EXISTS pod_tombstones (
    uid        text        PRIMARY KEY,
    deleted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS pod_tombstones_at ON pod_tombstones (deleted_at);
