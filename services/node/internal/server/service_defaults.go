package server

import (
	"google.golang.org/protobuf/types/known/structpb"

	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// Service types, affinities and policies.
const (
	TypeClusterIP    = "ClusterIP"
	TypeNodePort     = "NodePort"
	TypeLoadBalancer = "LoadBalancer"
	TypeExternalName = "ExternalName"

	ClusterIPNone = "None"

	policyCluster     = "Cluster"
	policySingleStack = "SingleStack"
	policyRequireDual = "RequireDualStack"
	familyIPv4        = "IPv4"
	affinityNone      = "None"
	affinityClientIP  = "ClientIP"

	// defaultClientIPTimeout is Kubernetes' DefaultClientIPServiceAffinitySeconds (3 hours).
	defaultClientIPTimeout = 10800
)

// defaultService is core/v1 SetDefaults_Service plus what the Service REST
// strategy fills in before allocation: type ClusterIP, sessionAffinity None
// (ClientIP gets a 3h timeout), port protocol TCP, targetPort = port,
// externalTrafficPolicy Cluster when externally accessible, internalTrafficPolicy
// Cluster, allocateLoadBalancerNodePorts true, clusterIPs from clusterIP, and
// status.loadBalancer {}.
func defaultService(s *nodev1.Service) {
	if s.Spec == nil {
		s.Spec = &nodev1.ServiceSpec{}
	}
	sp := s.Spec
	if sp.SessionAffinity == "" {
		sp.SessionAffinity = affinityNone
	}
	switch sp.SessionAffinity {
	case affinityNone:
		sp.SessionAffinityConfig = nil
	case affinityClientIP:
		if ip := sp.GetSessionAffinityConfig().GetClientIp(); ip == nil || ip.TimeoutSeconds == nil {
			t := int32(defaultClientIPTimeout)
			sp.SessionAffinityConfig = &nodev1.SessionAffinityConfig{ClientIp: &nodev1.ClientIPConfig{TimeoutSeconds: &t}}
		}
	}
	if sp.Type == "" {
		sp.Type = TypeClusterIP
	}
	for _, p := range sp.Ports {
		if p == nil {
			continue
		}
		if p.Protocol == "" {
			p.Protocol = "TCP"
		}
		if isZeroIntOrString(p.TargetPort) {
			p.TargetPort = structpb.NewNumberValue(float64(p.Port))
		}
	}
	if externallyAccessible(sp) && sp.ExternalTrafficPolicy == "" {
		sp.ExternalTrafficPolicy = policyCluster
	}
	if sp.InternalTrafficPolicy == nil && sp.Type != TypeExternalName {
		v := policyCluster
		sp.InternalTrafficPolicy = &v
	}
	if sp.Type == TypeLoadBalancer && sp.AllocateLoadBalancerNodePorts == nil {
		v := true
		sp.AllocateLoadBalancerNodePorts = &v
	}
	if sp.ClusterIp != "" && len(sp.ClusterIps) == 0 {
		sp.ClusterIps = []string{sp.ClusterIp}
	}
	if s.Status == nil {
		s.Status = &nodev1.ServiceStatus{}
	}
	if s.Status.LoadBalancer == nil {
		s.Status.LoadBalancer = &structpb.Struct{}
	}
}

func isZeroIntOrString(v *structpb.Value) bool {
	switch k := v.GetKind().(type) {
	case nil:
		return true
	case *structpb.Value_NumberValue:
		return k.NumberValue == 0
	case *structpb.Value_StringValue:
		return k.StringValue == ""
	}
	return false
}

// externallyAccessible is Kubernetes' service.ExternallyAccessible.
func externallyAccessible(sp *nodev1.ServiceSpec) bool {
	return sp.GetType() == TypeLoadBalancer || sp.GetType() == TypeNodePort ||
		sp.GetType() == TypeClusterIP && len(sp.GetExternalIps()) > 0
}

// needsNodePorts reports whether the Service's ports get node ports.
func needsNodePorts(sp *nodev1.ServiceSpec) bool {
	return sp.GetType() == TypeNodePort || sp.GetType() == TypeLoadBalancer && sp.GetAllocateLoadBalancerNodePorts()
}

// isHeadless reports a Service with clusterIP None.
func isHeadless(sp *nodev1.ServiceSpec) bool {
	return sp.GetClusterIp() == ClusterIPNone || len(sp.GetClusterIps()) == 1 && sp.GetClusterIps()[0] == ClusterIPNone
}

// defaultIPFamilies fills ipFamilies and ipFamilyPolicy after allocation, as a
// single-stack IPv4 cluster does: SingleStack [IPv4], but RequireDualStack for
// a headless Service without selector (its endpoints may be of any family).
func defaultIPFamilies(sp *nodev1.ServiceSpec) {
	if sp.GetType() == TypeExternalName {
		return
	}
	if len(sp.IpFamilies) == 0 {
		sp.IpFamilies = []string{familyIPv4}
	}
	if sp.IpFamilyPolicy == nil {
		v := policySingleStack
		if isHeadless(sp) && len(sp.Selector) == 0 {
			v = policyRequireDual
		}
		sp.IpFamilyPolicy = &v
	}
}
