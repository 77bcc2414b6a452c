package scheduler

import (
	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// ReasonNodePorts is the NodePorts filter's reason, word for word.
const ReasonNodePorts = "node(s) didn't have free ports for the requested pod ports"

// hostPort is one host port a container asks for: kube-scheduler's
// HostPortInfo key (an empty IP is 0.0.0.0, an empty protocol TCP).
type hostPort struct {
	ip, protocol string
	port         int32
}

const anyIP = "0.0.0.0"

// hostPorts are the host ports pod's containers ask for (NodePorts'
// getContainerPorts: the containers and the restartable init containers).
func hostPorts(pod *corev1.Pod) []hostPort {
	var out []hostPort
	add := func(cs []*corev1.Container, sidecarsOnly bool) {
		for _, c := range cs {
			if sidecarsOnly && c.GetRestartPolicy() != "Always" {
				continue
			}
			for _, p := range c.GetPorts() {
				if p.GetHostPort() <= 0 {
					continue
				}
				hp := hostPort{ip: p.GetHostIp(), protocol: p.GetProtocol(), port: p.GetHostPort()}
				if hp.ip == "" {
					hp.ip = anyIP
				}
				if hp.protocol == "" {
					hp.protocol = "TCP"
				}
				out = append(out, hp)
			}
		}
	}
	add(pod.GetSpec().GetInitContainers(), true)
	add(pod.GetSpec().GetContainers(), false)
	return out
}

// portsConflict is HostPortInfo.CheckConflict: a wanted port conflicts with a
// used one of the same protocol and number when either listens on 0.0.0.0 or
// both on the same IP.
func portsConflict(want []hostPort, used map[hostPort]int) bool {
	for _, w := range want {
		if w.ip == anyIP {
			for u := range used {
				if u.protocol == w.protocol && u.port == w.port {
					return true
				}
			}
			continue
		}
		if used[w] > 0 || used[hostPort{ip: anyIP, protocol: w.protocol, port: w.port}] > 0 {
			return true
		}
	}
	return false
}
