package service

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/podwarden/podwarden/services/node/internal/sandbox"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

func TestServicePorts(t *testing.T) {
	svc := func(name, typ, ip string, ports ...*nodev1.ServicePort) *nodev1.Service {
		return &nodev1.Service{Metadata: &corev1.ObjectMeta{Namespace: "default", Name: name}, Spec: &nodev1.ServiceSpec{Type: typ, ClusterIp: ip, Ports: ports}}
	}
	ep := func(name string, ready, notReady []string, ports ...*nodev1.EndpointPort) *nodev1.Endpoints {
		ss := &nodev1.EndpointSubset{Ports: ports}
		for _, ip := range ready {
			ss.Addresses = append(ss.Addresses, &nodev1.EndpointAddress{Ip: ip})
		}
		for _, ip := range notReady {
			ss.NotReadyAddresses = append(ss.NotReadyAddresses, &nodev1.EndpointAddress{Ip: ip})
		}
		return &nodev1.Endpoints{Metadata: &corev1.ObjectMeta{Namespace: "default", Name: name}, Subsets: []*nodev1.EndpointSubset{ss}}
	}
	ap := netip.MustParseAddrPort
	tests := map[string]struct {
		svcs []*nodev1.Service
		eps  []*nodev1.Endpoints
		want []sandbox.ServicePort
	}{
		"ready endpoints at the target port; not-ready ones left out": {
			svcs: []*nodev1.Service{svc("web", "ClusterIP", "10.100.0.5", &nodev1.ServicePort{Name: "http", Port: 80})},
			eps:  []*nodev1.Endpoints{ep("web", []string{"10.244.1.2", "10.244.2.2"}, []string{"10.244.1.9"}, &nodev1.EndpointPort{Name: "http", Port: 8080, Protocol: "TCP"})},
			want: []sandbox.ServicePort{{Name: "default/web:http", ClusterIP: netip.MustParseAddr("10.100.0.5"), Protocol: "TCP", Port: 80,
				Endpoints: []netip.AddrPort{ap("10.244.1.2:8080"), ap("10.244.2.2:8080")}}},
		},
		"no Endpoints: a port with none (rejected)": {
			svcs: []*nodev1.Service{svc("empty", "", "10.100.0.6", &nodev1.ServicePort{Port: 80, Protocol: "TCP"})},
			want: []sandbox.ServicePort{{Name: "default/empty:", ClusterIP: netip.MustParseAddr("10.100.0.6"), Protocol: "TCP", Port: 80}},
		},
		"ports matched by name and protocol": {
			svcs: []*nodev1.Service{svc("dns", "NodePort", "10.100.0.7",
				&nodev1.ServicePort{Name: "dns", Port: 53, Protocol: "UDP", NodePort: 30053},
				&nodev1.ServicePort{Name: "dns-tcp", Port: 53, Protocol: "TCP", NodePort: 30054})},
			eps: []*nodev1.Endpoints{ep("dns", []string{"10.244.1.3"}, nil,
				&nodev1.EndpointPort{Name: "dns", Port: 5353, Protocol: "UDP"}, &nodev1.EndpointPort{Name: "dns-tcp", Port: 5354, Protocol: "TCP"})},
			want: []sandbox.ServicePort{
				{Name: "default/dns:dns", ClusterIP: netip.MustParseAddr("10.100.0.7"), Protocol: "UDP", Port: 53, NodePort: 30053, Endpoints: []netip.AddrPort{ap("10.244.1.3:5353")}},
				{Name: "default/dns:dns-tcp", ClusterIP: netip.MustParseAddr("10.100.0.7"), Protocol: "TCP", Port: 53, NodePort: 30054, Endpoints: []netip.AddrPort{ap("10.244.1.3:5354")}},
			},
		},
		"headless and ExternalName Services have no rules": {
			svcs: []*nodev1.Service{svc("nginx", "ClusterIP", "None", &nodev1.ServicePort{Port: 80}), svc("ext", "ExternalName", "", &nodev1.ServicePort{Port: 80})},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			eps := map[string]*nodev1.Endpoints{}
			for _, e := range tc.eps {
				eps["default/"+e.GetMetadata().GetName()] = e
			}
			if got := servicePorts(tc.svcs, eps); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
