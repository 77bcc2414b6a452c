package controller

import (
	"fmt"
	"sort"
	"strings"

	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/validation"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// LabelHeadless marks the Endpoints of a headless Service, as Kubernetes'
// endpoints controller does (service.kubernetes.io/headless).
const LabelHeadless = "service.kubernetes.io/headless"

// AnnotationTriggerTime is set on the Endpoints the controller writes
// (endpoints.kubernetes.io/last-change-trigger-time): Endpoints without it are
// a user's and are never deleted by the controller.
const AnnotationTriggerTime = "endpoints.kubernetes.io/last-change-trigger-time"

// endpointsFor is the endpoints controller's decision for a Service with a
// selector, given the pods of its namespace (Kubernetes' syncService):
//   - a pod counts when it matches the selector, is not terminal, has an IP and
//     is not being deleted (terminating pods count when publishNotReadyAddresses);
//   - a ready pod goes to addresses, others to notReadyAddresses (all to
//     addresses when publishNotReadyAddresses);
//   - hostname is the pod's spec.hostname when its spec.subdomain names the
//     Service; nodeName and targetRef (Pod, namespace, name, uid) are set;
//   - each Service port gives an EndpointPort with the port resolved on the
//     pod (a named targetPort looks up the containers' ports; a pod without it
//     gets no address for that port); a headless Service without ports gets
//     addresses without ports;
//   - addresses sharing the same ports are packed in one subset, sorted by IP.
//
// Labels are the Service's (plus service.kubernetes.io/headless for a headless
// Service); the caller adds the trigger-time annotation when it writes.
func endpointsFor(svc *nodev1.Service, pods []*corev1.Pod) *nodev1.Endpoints {
	sm := svc.GetMetadata()
	sp := svc.GetSpec()
	labels := map[string]string{}
	for k, v := range sm.GetLabels() {
		labels[k] = v
	}
	headless := sp.GetClusterIp() == "None"
	if headless {
		labels[LabelHeadless] = ""
	}
	if len(labels) == 0 {
		labels = nil
	}
	ep := &nodev1.Endpoints{ApiVersion: "v1", Kind: "Endpoints",
		Metadata: &corev1.ObjectMeta{Name: sm.GetName(), Namespace: sm.GetNamespace(), Labels: labels}}
	if len(sp.GetSelector()) == 0 {
		return ep
	}
	sel := k8slabels.SelectorFromSet(sp.GetSelector())
	tolerateUnready := sp.GetPublishNotReadyAddresses()
	type subset struct {
		ports           []*nodev1.EndpointPort
		ready, notReady []*nodev1.EndpointAddress
	}
	subsets := map[string]*subset{}
	for _, p := range pods {
		pm := p.GetMetadata()
		if pm.GetNamespace() != sm.GetNamespace() || !sel.Matches(k8slabels.Set(pm.GetLabels())) {
			continue
		}
		if podutil.IsPodTerminal(p) {
			continue
		}
		ip := podIP(p)
		if ip == "" || pm.GetDeletionTimestamp() != nil && !tolerateUnready {
			continue
		}
		node := p.GetSpec().GetNodeName()
		addr := &nodev1.EndpointAddress{Ip: ip, NodeName: &node,
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pm.GetNamespace(), Name: pm.GetName(), Uid: pm.GetUid()}}
		if h := p.GetSpec().GetHostname(); h != "" && p.GetSpec().GetSubdomain() == sm.GetName() {
			addr.Hostname = h
		}
		var ports []*nodev1.EndpointPort
		if len(sp.GetPorts()) == 0 {
			if !headless {
				continue
			}
		} else {
			for _, sport := range sp.GetPorts() {
				num, ok := findPort(p, sport)
				if !ok {
					continue
				}
				ports = append(ports, &nodev1.EndpointPort{Name: sport.GetName(), Port: num, Protocol: sport.GetProtocol(), AppProtocol: sport.AppProtocol})
			}
			if len(ports) == 0 {
				continue
			}
		}
		key := portsKey(ports)
		ss := subsets[key]
		if ss == nil {
			ss = &subset{ports: ports}
			subsets[key] = ss
		}
		if tolerateUnready || podutil.IsPodReady(p) {
			ss.ready = append(ss.ready, addr)
		} else {
			ss.notReady = append(ss.notReady, addr)
		}
	}
	keys := make([]string, 0, len(subsets))
	for k := range subsets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ss := subsets[k]
		sortAddresses(ss.ready)
		sortAddresses(ss.notReady)
		ep.Subsets = append(ep.Subsets, &nodev1.EndpointSubset{Addresses: ss.ready, NotReadyAddresses: ss.notReady, Ports: ss.ports})
	}
	return ep
}

func podIP(p *corev1.Pod) string {
	if ip := p.GetStatus().GetPodIp(); ip != "" {
		return ip
	}
	for _, ip := range p.GetStatus().GetPodIps() {
		if ip.GetIp() != "" {
			return ip.GetIp()
		}
	}
	return ""
}

// findPort is Kubernetes' podutil.FindPort: a numeric targetPort as is, a
// named one looked up in the containers' ports (same name and protocol).
func findPort(p *corev1.Pod, sport *nodev1.ServicePort) (int32, bool) {
	tp, err := validation.ToIntOrString(sport.GetTargetPort())
	if err != nil {
		return 0, false
	}
	if tp.Type == 0 { // intstr.Int
		if tp.IntVal == 0 {
			return sport.GetPort(), true
		}
		return tp.IntVal, true
	}
	proto := sport.GetProtocol()
	if proto == "" {
		proto = "TCP"
	}
	for _, cs := range [][]*corev1.Container{p.GetSpec().GetContainers(), p.GetSpec().GetInitContainers()} {
		for _, c := range cs {
			for _, cp := range c.GetPorts() {
				cproto := cp.GetProtocol()
				if cproto == "" {
					cproto = "TCP"
				}
				if cp.GetName() == tp.StrVal && cproto == proto {
					return cp.GetContainerPort(), true
				}
			}
		}
	}
	return 0, false
}

func portsKey(ports []*nodev1.EndpointPort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = fmt.Sprintf("%s/%s/%d", p.GetName(), p.GetProtocol(), p.GetPort())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func sortAddresses(a []*nodev1.EndpointAddress) {
	sort.Slice(a, func(i, j int) bool {
		if a[i].GetIp() != a[j].GetIp() {
			return ipLess(a[i].GetIp(), a[j].GetIp())
		}
		return a[i].GetTargetRef().GetUid() < a[j].GetTargetRef().GetUid()
	})
}

// ipLess orders dotted IPv4 addresses numerically (others as strings).
func ipLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	if len(pa) != 4 || len(pb) != 4 {
		return a < b
	}
	for i := range 4 {
		if len(pa[i]) != len(pb[i]) {
			return len(pa[i]) < len(pb[i])
		}
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return false
}
