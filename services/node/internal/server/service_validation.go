package server

import (
	"fmt"
	"net/netip"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/shared/validation"

	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

var (
	supportedServiceTypes     = []string{TypeClusterIP, TypeExternalName, TypeLoadBalancer, TypeNodePort}
	supportedAffinities       = []string{affinityClientIP, affinityNone}
	supportedProtocols        = []string{"SCTP", "TCP", "UDP"}
	supportedIPFamilies       = []string{"IPv4", "IPv6"}
	supportedIPFamilyPolicies = []string{"PreferDualStack", policyRequireDual, policySingleStack}
	supportedTrafficPolicies  = []string{policyCluster, "Local"}
)

// maxClientIPTimeout is Kubernetes' MaxClientIPServiceAffinitySeconds (1 day).
const maxClientIPTimeout = 86400

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// validateService is core's ValidateService (create) and, with old set,
// ValidateServiceUpdate: Kubernetes' rules and messages, field by field.
func validateService(s, old *nodev1.Service) field.ErrorList {
	meta := field.NewPath("metadata")
	var errs field.ErrorList
	if old == nil {
		errs = validation.ValidateObjectMeta(s.Metadata, true, validation.NameIsDNS1035Label, meta)
	} else {
		errs = validation.ValidateObjectMetaUpdate(s.Metadata, old.Metadata, meta)
		errs = append(errs, validateServiceUpdate(s.GetSpec(), old.GetSpec())...)
	}
	sp := s.GetSpec()
	spec := field.NewPath("spec")
	headless := len(sp.GetClusterIps()) == 1 && sp.GetClusterIps()[0] == ClusterIPNone
	if len(sp.GetPorts()) == 0 && !headless && sp.GetType() != TypeExternalName {
		errs = append(errs, field.Required(spec.Child("ports"), ""))
	}
	switch sp.GetType() {
	case TypeLoadBalancer, TypeNodePort:
		if headless {
			errs = append(errs, field.Invalid(spec.Child("clusterIPs").Index(0), sp.ClusterIps[0],
				fmt.Sprintf("may not be set to 'None' for %s services", sp.GetType())))
		}
	case TypeExternalName:
		if len(sp.GetClusterIps()) > 0 {
			errs = append(errs, field.Forbidden(spec.Child("clusterIPs"), "may not be set for ExternalName services"))
		}
		if len(sp.GetIpFamilies()) > 0 {
			errs = append(errs, field.Forbidden(spec.Child("ipFamilies"), "may not be set for ExternalName services"))
		}
		if sp.IpFamilyPolicy != nil {
			errs = append(errs, field.Forbidden(spec.Child("ipFamilyPolicy"), "may not be set for ExternalName services"))
		}
		if cname := strings.TrimSuffix(sp.GetExternalName(), "."); cname != "" {
			for _, msg := range k8svalidation.IsDNS1123Subdomain(cname) {
				errs = append(errs, field.Invalid(spec.Child("externalName"), cname, msg))
			}
		} else {
			errs = append(errs, field.Required(spec.Child("externalName"), ""))
		}
	}
	names := map[string]bool{}
	for i, p := range sp.GetPorts() {
		errs = append(errs, validateServicePort(p, len(sp.GetPorts()) > 1, names, spec.Child("ports").Index(i))...)
	}
	if len(sp.GetSelector()) > 0 {
		errs = append(errs, validation.ValidateLabels(sp.GetSelector(), spec.Child("selector"))...)
	}
	errs = append(errs, validateAffinity(sp, spec)...)
	errs = append(errs, validateClusterIPs(sp, spec)...)
	for i, ip := range sp.GetExternalIps() {
		p := spec.Child("externalIPs").Index(i)
		if e := k8svalidation.IsValidIP(p, ip); len(e) > 0 {
			errs = append(errs, e...)
		} else {
			errs = append(errs, validateNonSpecialIP(ip, p)...)
		}
	}
	switch {
	case sp.GetType() == "":
		errs = append(errs, field.Required(spec.Child("type"), ""))
	case !contains(supportedServiceTypes, sp.GetType()):
		errs = append(errs, field.NotSupported(spec.Child("type"), sp.GetType(), supportedServiceTypes))
	}
	if sp.GetType() == TypeClusterIP {
		for i, p := range sp.GetPorts() {
			if p.GetNodePort() != 0 {
				errs = append(errs, field.Forbidden(spec.Child("ports").Index(i).Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
			}
		}
	}
	nodePorts := map[int32]bool{}
	ports := map[string]bool{}
	for i, p := range sp.GetPorts() {
		pp := spec.Child("ports").Index(i)
		if np := p.GetNodePort(); np != 0 {
			key := fmt.Sprintf("%s/%d", p.GetProtocol(), np)
			if nodePorts[np] && ports["node:"+key] {
				errs = append(errs, field.Duplicate(pp.Child("nodePort"), np))
			}
			nodePorts[np], ports["node:"+key] = true, true
		}
		key := fmt.Sprintf("%s/%d", p.GetProtocol(), p.GetPort())
		if ports[key] {
			errs = append(errs, field.Duplicate(pp, servicePortKey{Protocol: p.GetProtocol(), Port: p.GetPort()}))
		}
		ports[key] = true
	}
	if len(sp.GetLoadBalancerSourceRanges()) > 0 {
		p := spec.Child("LoadBalancerSourceRanges")
		if sp.GetType() != TypeLoadBalancer {
			errs = append(errs, field.Forbidden(p, "may only be used when `type` is 'LoadBalancer'"))
		}
		for i, r := range sp.GetLoadBalancerSourceRanges() {
			errs = append(errs, k8svalidation.IsValidCIDR(p.Index(i), strings.TrimSpace(r))...)
		}
	}
	if sp.AllocateLoadBalancerNodePorts != nil && sp.GetType() != TypeLoadBalancer {
		errs = append(errs, field.Forbidden(spec.Child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'"))
	}
	if sp.GetType() == TypeLoadBalancer && sp.AllocateLoadBalancerNodePorts == nil {
		errs = append(errs, field.Required(field.NewPath("allocateLoadBalancerNodePorts"), ""))
	}
	if sp.LoadBalancerClass != nil && sp.GetType() != TypeLoadBalancer {
		errs = append(errs, field.Forbidden(spec.Child("loadBalancerClass"), "may only be used when `type` is 'LoadBalancer'"))
	}
	errs = append(errs, validateTrafficPolicies(sp, spec)...)
	return errs
}

// servicePortKey renders a duplicate port the way Kubernetes prints it.
type servicePortKey struct {
	Protocol string
	Port     int32
}

func (k servicePortKey) String() string {
	return fmt.Sprintf("core.ServicePort{Name:\"\", Protocol:%q, AppProtocol:(*string)(nil), Port:%d, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}", k.Protocol, k.Port)
}

func validateServicePort(p *nodev1.ServicePort, requireName bool, names map[string]bool, fp *field.Path) field.ErrorList {
	var errs field.ErrorList
	if p == nil {
		return field.ErrorList{field.Required(fp, "")}
	}
	switch {
	case requireName && p.GetName() == "":
		errs = append(errs, field.Required(fp.Child("name"), ""))
	case p.GetName() != "":
		for _, msg := range k8svalidation.IsDNS1123Label(p.GetName()) {
			errs = append(errs, field.Invalid(fp.Child("name"), p.GetName(), msg))
		}
		if names[p.GetName()] {
			errs = append(errs, field.Duplicate(fp.Child("name"), p.GetName()))
		}
		names[p.GetName()] = true
	}
	for _, msg := range k8svalidation.IsValidPortNum(int(p.GetPort())) {
		errs = append(errs, field.Invalid(fp.Child("port"), p.GetPort(), msg))
	}
	switch {
	case p.GetProtocol() == "":
		errs = append(errs, field.Required(fp.Child("protocol"), ""))
	case !contains(supportedProtocols, p.GetProtocol()):
		errs = append(errs, field.NotSupported(fp.Child("protocol"), p.GetProtocol(), supportedProtocols))
	}
	errs = append(errs, validatePortNumOrName(p.GetTargetPort(), fp.Child("targetPort"))...)
	if p.AppProtocol != nil {
		for _, msg := range k8svalidation.IsQualifiedName(p.GetAppProtocol()) {
			errs = append(errs, field.Invalid(fp.Child("appProtocol"), p.GetAppProtocol(), msg))
		}
	}
	return errs
}

// validatePortNumOrName is ValidatePortNumOrName on an IntOrString Value.
func validatePortNumOrName(v *structpb.Value, fp *field.Path) field.ErrorList {
	var errs field.ErrorList
	is, err := validation.ToIntOrString(v)
	switch {
	case err != nil:
		errs = append(errs, field.Invalid(fp, v.AsInterface(), "must be an integer or a port name"))
	case is.Type == intstr.String:
		for _, msg := range k8svalidation.IsValidPortName(is.StrVal) {
			errs = append(errs, field.Invalid(fp, is.StrVal, msg))
		}
	default:
		for _, msg := range k8svalidation.IsValidPortNum(int(is.IntVal)) {
			errs = append(errs, field.Invalid(fp, is.IntVal, msg))
		}
	}
	return errs
}

func validateAffinity(sp *nodev1.ServiceSpec, spec *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case sp.GetSessionAffinity() == "":
		errs = append(errs, field.Required(spec.Child("sessionAffinity"), ""))
	case !contains(supportedAffinities, sp.GetSessionAffinity()):
		errs = append(errs, field.NotSupported(spec.Child("sessionAffinity"), sp.GetSessionAffinity(), supportedAffinities))
	}
	cp := spec.Child("sessionAffinityConfig")
	switch sp.GetSessionAffinity() {
	case affinityClientIP:
		cfg := sp.GetSessionAffinityConfig()
		switch {
		case cfg == nil:
			errs = append(errs, field.Required(cp, "when session affinity type is ClientIP"))
		case cfg.ClientIp == nil:
			errs = append(errs, field.Required(cp.Child("clientIP"), "when session affinity type is ClientIP"))
		case cfg.ClientIp.TimeoutSeconds == nil:
			errs = append(errs, field.Required(cp.Child("clientIP").Child("timeoutSeconds"), "when session affinity type is ClientIP"))
		case cfg.ClientIp.GetTimeoutSeconds() <= 0 || cfg.ClientIp.GetTimeoutSeconds() > maxClientIPTimeout:
			errs = append(errs, field.Invalid(cp.Child("clientIP").Child("timeoutSeconds"), cfg.ClientIp.GetTimeoutSeconds(),
				fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPTimeout)))
		}
	case affinityNone:
		if sp.SessionAffinityConfig != nil {
			errs = append(errs, field.Forbidden(cp, "must not be set when session affinity is None"))
		}
	}
	return errs
}

// validateClusterIPs is ValidateServiceClusterIPsRelatedFields.
func validateClusterIPs(sp *nodev1.ServiceSpec, spec *field.Path) field.ErrorList {
	if sp.GetType() == TypeExternalName {
		return nil
	}
	var errs field.ErrorList
	ipsPath := spec.Child("clusterIPs")
	ips := sp.GetClusterIps()
	if sp.GetClusterIp() != "" {
		if len(ips) == 0 {
			errs = append(errs, field.Required(ipsPath, ""))
		} else if ips[0] != sp.GetClusterIp() {
			errs = append(errs, field.Invalid(ipsPath, ips, "first value must match `clusterIP`"))
		}
	} else if len(ips) != 0 {
		errs = append(errs, field.Invalid(ipsPath, ips, "must be empty when `clusterIP` is not specified"))
	}
	seen := map[string]bool{}
	for i, f := range sp.GetIpFamilies() {
		if !contains(supportedIPFamilies, f) {
			errs = append(errs, field.NotSupported(spec.Child("ipFamilies").Index(i), f, supportedIPFamilies))
		}
		if seen[f] {
			errs = append(errs, field.Duplicate(spec.Child("ipFamilies").Index(i), f))
		}
		seen[f] = true
	}
	if sp.IpFamilyPolicy != nil && !contains(supportedIPFamilyPolicies, sp.GetIpFamilyPolicy()) {
		errs = append(errs, field.NotSupported(spec.Child("ipFamilyPolicy"), sp.GetIpFamilyPolicy(), supportedIPFamilyPolicies))
	}
	invalid := false
	for i, ip := range ips {
		if i == 0 && ip == ClusterIPNone {
			if len(ips) > 1 {
				invalid = true
				errs = append(errs, field.Invalid(ipsPath, ips, "'None' must be the first and only value"))
			}
			continue
		}
		e := k8svalidation.IsValidIP(ipsPath.Index(i), ip)
		invalid = invalid || len(e) > 0
		errs = append(errs, e...)
	}
	if len(ips) > 2 {
		errs = append(errs, field.Invalid(ipsPath, ips, "may only hold up to 2 values"))
	}
	if invalid {
		return errs
	}
	if len(ips) == 2 {
		a, _ := netip.ParseAddr(ips[0])
		b, _ := netip.ParseAddr(ips[1])
		if a.Is4() == b.Is4() {
			errs = append(errs, field.Invalid(ipsPath, ips, "may specify no more than one IP for each IP family"))
		}
	}
	if !(len(ips) == 1 && ips[0] == ClusterIPNone) {
		for i, ip := range ips {
			if i >= len(sp.GetIpFamilies()) {
				break
			}
			a, _ := netip.ParseAddr(ip)
			switch fam := sp.GetIpFamilies()[i]; {
			case fam == "IPv4" && !a.Is4():
				errs = append(errs, field.Invalid(ipsPath.Index(i), ip, fmt.Sprintf("expected an IPv4 value as indicated by `ipFamilies[%v]`", i)))
			case fam == "IPv6" && a.Is4():
				errs = append(errs, field.Invalid(ipsPath.Index(i), ip, fmt.Sprintf("expected an IPv6 value as indicated by `ipFamilies[%v]`", i)))
			}
		}
	}
	return errs
}

// validateNonSpecialIP is ValidateNonSpecialIP: an external IP may not be
// unspecified, loopback, link-local or link-local multicast.
func validateNonSpecialIP(ip string, fp *field.Path) field.ErrorList {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return field.ErrorList{field.Invalid(fp, ip, "must be a valid IP address")}
	}
	switch {
	case a.IsUnspecified():
		return field.ErrorList{field.Invalid(fp, ip, "may not be unspecified (0.0.0.0)")}
	case a.IsLoopback():
		return field.ErrorList{field.Invalid(fp, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)")}
	case a.IsLinkLocalUnicast():
		return field.ErrorList{field.Invalid(fp, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")}
	case a.IsLinkLocalMulticast():
		return field.ErrorList{field.Invalid(fp, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")}
	}
	return nil
}

func validateTrafficPolicies(sp *nodev1.ServiceSpec, spec *field.Path) field.ErrorList {
	var errs field.ErrorList
	etp := spec.Child("externalTrafficPolicy")
	if !externallyAccessible(sp) {
		if sp.GetExternalTrafficPolicy() != "" {
			errs = append(errs, field.Invalid(etp, sp.GetExternalTrafficPolicy(), "may only be set for externally-accessible services"))
		}
	} else if sp.GetExternalTrafficPolicy() == "" {
		errs = append(errs, field.Required(etp, ""))
	} else if !contains(supportedTrafficPolicies, sp.GetExternalTrafficPolicy()) {
		errs = append(errs, field.NotSupported(etp, sp.GetExternalTrafficPolicy(), supportedTrafficPolicies))
	}
	hc := spec.Child("healthCheckNodePort")
	needsHealthCheck := sp.GetType() == TypeLoadBalancer && sp.GetExternalTrafficPolicy() == "Local"
	if !needsHealthCheck && sp.GetHealthCheckNodePort() != 0 {
		errs = append(errs, field.Invalid(hc, sp.GetHealthCheckNodePort(), "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
	}
	itp := spec.Child("internalTrafficPolicy")
	if sp.InternalTrafficPolicy == nil {
		if sp.GetType() == TypeNodePort || sp.GetType() == TypeLoadBalancer || sp.GetType() == TypeClusterIP {
			errs = append(errs, field.Required(itp, ""))
		}
	} else if !contains(supportedTrafficPolicies, sp.GetInternalTrafficPolicy()) {
		errs = append(errs, field.NotSupported(itp, sp.GetInternalTrafficPolicy(), supportedTrafficPolicies))
	}
	if sp.TrafficDistribution != nil && sp.GetTrafficDistribution() != "PreferClose" {
		errs = append(errs, field.NotSupported(spec.Child("trafficDistribution"), sp.GetTrafficDistribution(), []string{"PreferClose"}))
	}
	return errs
}

// validateServiceUpdate holds what may not change: the ClusterIP once set
// (unless the type goes to or from ExternalName), the IP families of a
// Service with a ClusterIP.
func validateServiceUpdate(sp, old *nodev1.ServiceSpec) field.ErrorList {
	if sp.GetType() == TypeExternalName || old.GetType() == TypeExternalName {
		return nil
	}
	spec := field.NewPath("spec")
	if old.GetClusterIp() != "" && sp.GetClusterIp() != old.GetClusterIp() {
		return field.ErrorList{field.Invalid(spec.Child("clusterIP"), sp.GetClusterIp(), validation.FieldImmutableErrorMsg)}
	}
	var errs field.ErrorList
	oldIPs, ips := old.GetClusterIps(), sp.GetClusterIps()
	if !(isHeadless(old) && isHeadless(sp)) {
		for i := range min(len(oldIPs), len(ips)) {
			if oldIPs[i] != ips[i] {
				errs = append(errs, field.Invalid(spec.Child("clusterIPs").Index(i), ips, "may not change once set"))
			}
		}
		if len(oldIPs) > 0 && len(ips) == 0 {
			errs = append(errs, field.Invalid(spec.Child("clusterIPs").Index(0), ips, "primary clusterIP can not be unset"))
		}
	}
	if !isHeadless(old) && !isHeadless(sp) {
		for i := range min(len(old.GetIpFamilies()), len(sp.GetIpFamilies())) {
			if old.GetIpFamilies()[i] != sp.GetIpFamilies()[i] {
				errs = append(errs, field.Invalid(spec.Child("ipFamilies").Index(0), sp.GetIpFamilies(), "may not change once set"))
				break
			}
		}
	}
	return errs
}
