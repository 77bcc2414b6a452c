package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/node/internal/ipam"
	"github.com/podwarden/podwarden/services/node/internal/repo"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// APIServerPort is where the kubernetes Service's endpoint listens (kubeadm's
// apiserver port), on the control-plane node's address.
const APIServerPort = 6443

// clusterServices are the Services a kubeadm cluster has from its first start:
// default/kubernetes (10.96.0.1, https 443 -> 6443, no selector: its Endpoints
// name the control plane) and kube-system/kube-dns (10.96.0.10, dns 53/UDP,
// dns-tcp 53/TCP, metrics 9153/TCP, selecting CoreDNS' pods; the DNS server
// itself is the node service).
func clusterServices() []*nodev1.Service {
	num := func(n int) *structpb.Value { return structpb.NewNumberValue(float64(n)) }
	return []*nodev1.Service{
		{ApiVersion: "v1", Kind: "Service",
			Metadata: &corev1.ObjectMeta{Namespace: "default", Name: "kubernetes",
				Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
			Spec: &nodev1.ServiceSpec{ClusterIp: ipam.KubernetesServiceIP,
				Ports: []*nodev1.ServicePort{{Name: "https", Protocol: "TCP", Port: 443, TargetPort: num(APIServerPort)}}}},
		{ApiVersion: "v1", Kind: "Service",
			Metadata: &corev1.ObjectMeta{Namespace: "kube-system", Name: "kube-dns",
				Labels:      map[string]string{"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"},
				Annotations: map[string]string{"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}},
			Spec: &nodev1.ServiceSpec{ClusterIp: ipam.DNSServiceIP, Selector: map[string]string{"k8s-app": "kube-dns"},
				Ports: []*nodev1.ServicePort{
					{Name: "dns", Protocol: "UDP", Port: 53, TargetPort: num(53)},
					{Name: "dns-tcp", Protocol: "TCP", Port: 53, TargetPort: num(53)},
					{Name: "metrics", Protocol: "TCP", Port: 9153, TargetPort: num(9153)},
				}}},
	}
}

// BootstrapServices creates the cluster's own Services when they are missing
// (at every start, as kube-apiserver keeps default/kubernetes), and the
// kubernetes Endpoints on controlPlaneIP.
func BootstrapServices(ctx context.Context, db *store.DB, now time.Time, controlPlaneIP string) error {
	return db.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('podwarden-cluster-services'))"); err != nil {
			return err
		}
		for _, svc := range clusterServices() {
			m := svc.Metadata
			if _, err := repo.Services.Get(ctx, tx, m.Namespace, m.Name); err == nil {
				continue
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			m.Uid, m.CreationTimestamp = uuid.NewString(), timestamppb.New(now.Truncate(time.Second))
			defaultService(svc)
			if errs := validateService(svc, nil); len(errs) > 0 {
				return fmt.Errorf("bootstrap service %s/%s: %v", m.Namespace, m.Name, errs.ToAggregate())
			}
			if err := allocate(ctx, tx, svc, nil); err != nil {
				return fmt.Errorf("bootstrap service %s/%s: %w", m.Namespace, m.Name, err)
			}
			if _, err := repo.Services.Create(ctx, tx, svc); err != nil {
				return fmt.Errorf("bootstrap service %s/%s: %w", m.Namespace, m.Name, err)
			}
		}
		if controlPlaneIP == "" {
			return nil
		}
		if _, err := repo.Endpoints.Get(ctx, tx, "default", "kubernetes"); !errors.Is(err, store.ErrNotFound) {
			return err
		}
		ep := &nodev1.Endpoints{ApiVersion: "v1", Kind: "Endpoints",
			Metadata: &corev1.ObjectMeta{Namespace: "default", Name: "kubernetes", CreationTimestamp: timestamppb.New(now.Truncate(time.Second)),
				Labels: map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"}},
			Subsets: []*nodev1.EndpointSubset{{Addresses: []*nodev1.EndpointAddress{{Ip: controlPlaneIP}},
				Ports: []*nodev1.EndpointPort{{Name: "https", Port: APIServerPort, Protocol: "TCP"}}}}}
		_, err := repo.Endpoints.Create(ctx, tx, ep)
		return err
	})
}
