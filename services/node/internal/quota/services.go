package quota

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/api/resource"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// The resource names a quota counts Services with.
const (
	Services              = "services"
	CountServices         = "count/services"
	ServicesNodePorts     = "services.nodeports"
	ServicesLoadBalancers = "services.loadbalancers"
)

var serviceResources = []string{Services, CountServices, ServicesNodePorts, ServicesLoadBalancers}

// ServiceUsage is the service evaluator's Usage: one service, and the node
// ports (every port of a NodePort or LoadBalancer service, or, without node
// port allocation, those that name one) and load balancers it takes.
func ServiceUsage(s *nodev1.Service) List {
	one := *resource.NewQuantity(1, resource.DecimalSI)
	out := List{Services: one, CountServices: one.DeepCopy()}
	ports := int64(len(s.GetSpec().GetPorts()))
	switch s.GetSpec().GetType() {
	case "NodePort":
		out[ServicesNodePorts] = *resource.NewQuantity(ports, resource.DecimalSI)
	case "LoadBalancer":
		if a := s.GetSpec().AllocateLoadBalancerNodePorts; a != nil && !*a {
			ports = 0
			for _, p := range s.GetSpec().GetPorts() {
				if p.GetNodePort() != 0 {
					ports++
				}
			}
		}
		out[ServicesNodePorts] = *resource.NewQuantity(ports, resource.DecimalSI)
		out[ServicesLoadBalancers] = one.DeepCopy()
	}
	return out
}

// serviceQuota reports whether a quota limits services: one without scopes
// (scopes are about pods).
func serviceQuota(rq *corev1.ResourceQuota) bool {
	return len(rq.GetSpec().GetScopes()) == 0 && len(rq.GetSpec().GetScopeSelector().GetMatchExpressions()) == 0
}

// ChargeService adds a stored service's usage to the quotas that count services.
func ChargeService(quotas []*Quota, s *nodev1.Service) {
	usage := ServiceUsage(s)
	for _, q := range quotas {
		if serviceQuota(q.Object) {
			q.Used = Add(q.Used, Mask(usage, serviceResourceNames(Names(q.Hard))))
		}
	}
}

func serviceResourceNames(names []string) []string {
	var out []string
	for _, n := range names {
		if slices.Contains(serviceResources, n) {
			out = append(out, n)
		}
	}
	return out
}

// AdmitService is the quota admission of a new Service: its usage must fit
// under every quota that counts services, and is charged to them when it does.
func (n *Namespace) AdmitService(s *nodev1.Service) error {
	var matched []*Quota
	for _, q := range n.Quotas {
		if serviceQuota(q.Object) && len(serviceResourceNames(Names(q.Hard))) > 0 {
			matched = append(matched, q)
		}
	}
	return charge(matched, RemoveZeros(ServiceUsage(s)))
}

// charge is the end of the quota admission's CheckRequest: delta must fit under
// every quota's hard limits (the message names what it exceeds); then it is
// added to each quota's usage.
func charge(quotas []*Quota, delta List) error {
	if len(delta) == 0 {
		return nil
	}
	next := make([]List, len(quotas))
	for i, q := range quotas {
		requested := Mask(delta, Names(q.Hard))
		newUsage := Add(q.Used, requested)
		if ok, exceeded := LessThanOrEqual(Mask(newUsage, Names(requested)), q.Hard); !ok {
			return fmt.Errorf("exceeded quota: %s, requested: %s, used: %s, limited: %s", q.Object.GetMetadata().GetName(),
				Mask(requested, exceeded), Mask(q.Used, exceeded), Mask(q.Hard, exceeded))
		}
		next[i] = newUsage
	}
	for i, q := range quotas {
		q.Used = next[i]
	}
	return nil
}
