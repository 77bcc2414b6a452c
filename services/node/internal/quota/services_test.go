package quota

import (
	"testing"
	"time"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

func svc(name, typ string, ports int) *nodev1.Service {
	s := &nodev1.Service{Metadata: &corev1.ObjectMeta{Name: name}, Spec: &nodev1.ServiceSpec{Type: typ}}
	for i := 0; i < ports; i++ {
		s.Spec.Ports = append(s.Spec.Ports, &nodev1.ServicePort{Port: int32(80 + i)})
	}
	return s
}

func TestAdmitService(t *testing.T) {
	cases := map[string]struct {
		quota    *corev1.ResourceQuota
		stored   []*nodev1.Service
		svc      *nodev1.Service
		wantErr  string
		wantUsed string
	}{
		"fits": {
			quota: rq("q", rl("services", "2", "services.nodeports", "3")), stored: []*nodev1.Service{svc("a", "ClusterIP", 1)},
			svc: svc("b", "NodePort", 2), wantUsed: "services=2,services.nodeports=2",
		},
		"node ports exceeded": {
			quota: rq("q", rl("services", "5", "services.nodeports", "1")), stored: []*nodev1.Service{svc("a", "NodePort", 1)},
			svc:     svc("b", "LoadBalancer", 2),
			wantErr: "exceeded quota: q, requested: services.nodeports=2, used: services.nodeports=1, limited: services.nodeports=1",
		},
		"load balancers and the object count": {
			quota: rq("q", rl("services.loadbalancers", "0", "count/services", "9")),
			svc:   svc("lb", "LoadBalancer", 1),
			wantErr: "exceeded quota: q, requested: services.loadbalancers=1, used: services.loadbalancers=0, " +
				"limited: services.loadbalancers=0",
		},
		"a scoped quota is about pods": {
			quota: rq("q", rl("services", "0"), ScopeBestEffort), svc: svc("a", "ClusterIP", 1), wantUsed: "services=0",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			n := NewNamespace(nil, []*corev1.ResourceQuota{tc.quota}, nil, tc.stored, time.Unix(0, 0))
			err := n.AdmitService(tc.svc)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := n.Quotas[0].Used.String(); got != tc.wantUsed {
				t.Fatalf("used %s, want %s", got, tc.wantUsed)
			}
		})
	}
}
