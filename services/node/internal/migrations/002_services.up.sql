-- ClusterIPs and node ports of Services: the primary keys make a duplicate
-- impossible, whatever two replicas might believe; rows go with their Service.
CREATE TABLE IF NOT EXISTS service_ips (
    ip  text PRIMARY KEY,
    uid text NOT NULL
);
CREATE INDEX IF NOT EXISTS service_ips_uid ON service_ips (uid);

CREATE TABLE IF NOT EXISTS service_node_ports (
    port integer PRIMARY KEY,
    uid  text    NOT NULL
);
CREATE INDEX IF NOT EXISTS service_node_ports_uid ON service_node_ports (uid);
