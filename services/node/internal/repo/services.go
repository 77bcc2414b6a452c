package repo

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/podwarden/podwarden/shared/store"

	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// Services and Endpoints are stored kinds (both watchable: the cluster DNS of
// every replica follows their change log).
var (
	Services  = store.Kind[*nodev1.Service]{Name: "Service", New: func() *nodev1.Service { return &nodev1.Service{} }, Watch: true}
	Endpoints = store.Kind[*nodev1.Endpoints]{Name: "Endpoints", New: func() *nodev1.Endpoints { return &nodev1.Endpoints{} }, Watch: true}
)

// ClaimServiceIP records ip as the ClusterIP of the Service with this uid. It
// reports false when another Service holds it (the transaction stays usable).
func ClaimServiceIP(ctx context.Context, q store.Querier, ip, uid string) (bool, error) {
	var holder string
	err := q.QueryRow(ctx, `WITH i AS (INSERT INTO service_ips (ip, uid) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING uid)
		SELECT uid FROM i UNION ALL SELECT uid FROM service_ips WHERE ip=$1 LIMIT 1`, ip, uid).Scan(&holder)
	if err != nil {
		return false, fmt.Errorf("claim service ip %s: %w", ip, err)
	}
	return holder == uid, nil
}

// ClaimNodePort records port as a node port of the Service with this uid (a
// Service may use one port for TCP and UDP). It reports false when another
// Service holds it.
func ClaimNodePort(ctx context.Context, q store.Querier, port int32, uid string) (bool, error) {
	var holder string
	err := q.QueryRow(ctx, `WITH i AS (INSERT INTO service_node_ports (port, uid) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING uid)
		SELECT uid FROM i UNION ALL SELECT uid FROM service_node_ports WHERE port=$1 LIMIT 1`, port, uid).Scan(&holder)
	if err != nil {
		return false, fmt.Errorf("claim node port %d: %w", port, err)
	}
	return holder == uid, nil
}

// UsedNodePorts lists the node ports in use.
func UsedNodePorts(ctx context.Context, q store.Querier) (map[int32]bool, error) {
	rows, err := q.Query(ctx, "SELECT port FROM service_node_ports")
	if err != nil {
		return nil, fmt.Errorf("list node ports: %w", err)
	}
	ports, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("list node ports: %w", err)
	}
	out := make(map[int32]bool, len(ports))
	for _, p := range ports {
		out[p] = true
	}
	return out, nil
}

// ReleaseServiceIPs frees the ClusterIPs of the Service with this uid but keep.
func ReleaseServiceIPs(ctx context.Context, q store.Querier, uid string, keep ...string) error {
	if keep == nil {
		keep = []string{}
	}
	if _, err := q.Exec(ctx, "DELETE FROM service_ips WHERE uid=$1 AND NOT ip = ANY($2)", uid, keep); err != nil {
		return fmt.Errorf("release service ips of %s: %w", uid, err)
	}
	return nil
}

// ReleaseNodePorts frees the node ports of the Service with this uid but keep.
func ReleaseNodePorts(ctx context.Context, q store.Querier, uid string, keep ...int32) error {
	if keep == nil {
		keep = []int32{}
	}
	if _, err := q.Exec(ctx, "DELETE FROM service_node_ports WHERE uid=$1 AND NOT port = ANY($2)", uid, keep); err != nil {
		return fmt.Errorf("release node ports of %s: %w", uid, err)
	}
	return nil
}

// DeleteService removes the Service and frees its ClusterIP and node ports.
func DeleteService(ctx context.Context, tx pgx.Tx, namespace, name, uid string) (*nodev1.Service, error) {
	gone, err := Services.Delete(ctx, tx, namespace, name, uid)
	if err != nil {
		return nil, err
	}
	uid = gone.GetMetadata().GetUid()
	if err := ReleaseServiceIPs(ctx, tx, uid); err != nil {
		return nil, err
	}
	return gone, ReleaseNodePorts(ctx, tx, uid)
}
