// Package streams serves a pod's streams: `kubectl exec`, `attach` and
// `port-forward` through the kubelet's own CRI streaming server
// (k8s.io/cri-streaming), and the pod and service HTTP proxies. The gRPC
// PodStreamService checks what kube-apiserver and the kubelet check and hands
// out one-time URLs on the streaming server; the REST facade proxies the
// client's upgrade there. What runs is the container's runtime's: the sim's
// shell (package simsh) and simulated web servers for a sim container, real
// processes and ports under the exec runtime.
package streams

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/podwarden/podwarden/shared/apierr"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// ResolveContainer is kube-apiserver's choice of the container a stream
// request names (its streamLocation): the only container when none is named,
// else a container or init container of the pod; errors are its BadRequests.
func ResolveContainer(p *corev1.Pod, container string) (string, error) {
	name := p.GetMetadata().GetName()
	spec := p.GetSpec()
	if container == "" {
		switch len(spec.GetContainers()) {
		case 1:
			return spec.GetContainers()[0].GetName(), nil
		case 0:
			return "", apierr.BadRequest(fmt.Sprintf("a container name must be specified for pod %s", name))
		}
		msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: %s", name, names(spec.GetContainers()))
		if len(spec.GetInitContainers()) > 0 {
			msg += fmt.Sprintf(" or one of the init containers: %s", names(spec.GetInitContainers()))
		}
		return "", apierr.BadRequest(msg)
	}
	for _, c := range append(append([]*corev1.Container{}, spec.GetContainers()...), spec.GetInitContainers()...) {
		if c.GetName() == container {
			if spec.GetNodeName() == "" {
				return "", apierr.BadRequest(fmt.Sprintf("pod %s does not have a host assigned", name))
			}
			return container, nil
		}
	}
	return "", apierr.BadRequest(fmt.Sprintf("container %s is not valid for pod %s", container, name))
}

// names prints container names as Go prints a []string.
func names(cs []*corev1.Container) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.GetName()
	}
	return fmt.Sprint(out)
}

// Assigned is kube-apiserver's check that the pod has a node.
func Assigned(p *corev1.Pod) error {
	if p.GetSpec().GetNodeName() == "" {
		return apierr.BadRequest(fmt.Sprintf("pod %s does not have a host assigned", p.GetMetadata().GetName()))
	}
	return nil
}

// KubeletRefusal is what the kubelet answers a stream for a container that is
// not running (its findContainer finds running containers only); "" when the
// container runs.
func KubeletRefusal(p *corev1.Pod, container string) string {
	for _, cs := range append(append([]*corev1.ContainerStatus{}, p.GetStatus().GetContainerStatuses()...), p.GetStatus().GetInitContainerStatuses()...) {
		if cs.GetName() == container && cs.GetState().GetRunning() != nil {
			return ""
		}
	}
	return fmt.Sprintf("container not found (%q)", container)
}

// Container is the spec of a container of the pod (nil when none).
func Container(p *corev1.Pod, name string) *corev1.Container {
	for _, c := range append(append([]*corev1.Container{}, p.GetSpec().GetContainers()...), p.GetSpec().GetInitContainers()...) {
		if c.GetName() == name {
			return c
		}
	}
	return nil
}

// Hostname is the pod's hostname: spec.hostname, else its name.
func Hostname(p *corev1.Pod) string {
	if h := p.GetSpec().GetHostname(); h != "" {
		return h
	}
	return p.GetMetadata().GetName()
}

// ClusterDomain is the cluster's DNS domain.
const ClusterDomain = "cluster.local"

// HostsFile is the /etc/hosts the kubelet writes into a pod's containers.
func HostsFile(p *corev1.Pod) string {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	if ip := p.GetStatus().GetPodIp(); ip != "" {
		host := Hostname(p)
		if sub := p.GetSpec().GetSubdomain(); sub != "" {
			fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", ip, host, sub, p.GetMetadata().GetNamespace(), ClusterDomain, host)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", ip, host)
		}
	}
	if aliases := p.GetSpec().GetHostAliases(); len(aliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range aliases {
			ip := a.GetFields()["ip"].GetStringValue()
			var hosts []string
			for _, h := range a.GetFields()["hostnames"].GetListValue().GetValues() {
				hosts = append(hosts, h.GetStringValue())
			}
			fmt.Fprintf(&b, "%s\t%s\n", ip, strings.Join(hosts, "\t"))
		}
	}
	return b.String()
}

// ResolvConf is a ClusterFirst pod's /etc/resolv.conf: the cluster DNS and
// the pod's search path.
func ResolvConf(p *corev1.Pod, dnsIP string) string {
	ns := p.GetMetadata().GetNamespace()
	return fmt.Sprintf("search %s.svc.%s svc.%s %s\nnameserver %s\noptions ndots:5\n", ns, ClusterDomain, ClusterDomain, ClusterDomain, dnsIP)
}

// Files are the files the kubelet puts in every container.
func Files(p *corev1.Pod, dnsIP string) map[string]string {
	return map[string]string{
		"/etc/hosts":       HostsFile(p),
		"/etc/hostname":    Hostname(p) + "\n",
		"/etc/resolv.conf": ResolvConf(p, dnsIP),
	}
}

// DefaultPath is the PATH of a container image that sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Env is the environment of container c, as the kubelet builds it: PATH
// (path), HOSTNAME, HOME, the kubernetes Service's variables (kubeIP, port
// 443), then the container's env with fieldRef values resolved. Values from
// ConfigMaps, Secrets and resources are not resolvable here and are left out.
func Env(p *corev1.Pod, c *corev1.Container, path, kubeIP string) []string {
	env := []string{"PATH=" + path, "HOSTNAME=" + Hostname(p), "HOME=/root"}
	if kubeIP != "" {
		env = append(env,
			"KUBERNETES_SERVICE_HOST="+kubeIP,
			"KUBERNETES_SERVICE_PORT=443",
			"KUBERNETES_SERVICE_PORT_HTTPS=443",
			"KUBERNETES_PORT=tcp://"+kubeIP+":443",
			"KUBERNETES_PORT_443_TCP=tcp://"+kubeIP+":443",
			"KUBERNETES_PORT_443_TCP_PROTO=tcp",
			"KUBERNETES_PORT_443_TCP_PORT=443",
			"KUBERNETES_PORT_443_TCP_ADDR="+kubeIP,
		)
	}
	vals := map[string]string{}
	for _, e := range c.GetEnv() {
		v, ok := e.GetValue(), true
		if e.GetValueFrom() != nil {
			v, ok = fieldRef(p, e.GetValueFrom().GetFields()["fieldRef"].GetStructValue().GetFields()["fieldPath"].GetStringValue())
		}
		if !ok {
			continue
		}
		v = expandRefs(v, vals)
		vals[e.GetName()] = v
		env = setEnv(env, e.GetName(), v)
	}
	return env
}

// ProcessEnv is the environment of container c as a process of this machine
// (the exec runtime): Env with the machine's PATH (so its programs run) and
// its temporary directory as HOME.
func ProcessEnv(p *corev1.Pod, c *corev1.Container, kubeIP string) []string {
	return setEnv(Env(p, c, os.Getenv("PATH"), kubeIP), "HOME", os.TempDir())
}

func setEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if strings.HasPrefix(kv, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// expandRefs applies $(VAR) references to earlier variables, as the kubelet does.
func expandRefs(v string, vals map[string]string) string {
	if !strings.Contains(v, "$(") {
		return v
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return len(keys[a]) > len(keys[b]) })
	for _, k := range keys {
		v = strings.ReplaceAll(v, "$("+k+")", vals[k])
	}
	return v
}

// fieldRef resolves a downward-API field path.
func fieldRef(p *corev1.Pod, path string) (string, bool) {
	m := p.GetMetadata()
	switch path {
	case "metadata.name":
		return m.GetName(), true
	case "metadata.namespace":
		return m.GetNamespace(), true
	case "metadata.uid":
		return m.GetUid(), true
	case "spec.nodeName":
		return p.GetSpec().GetNodeName(), true
	case "spec.serviceAccountName":
		return p.GetSpec().GetServiceAccountName(), true
	case "status.podIP":
		return p.GetStatus().GetPodIp(), true
	case "status.hostIP":
		return p.GetStatus().GetHostIp(), true
	}
	for prefix, vals := range map[string]map[string]string{"metadata.labels": m.GetLabels(), "metadata.annotations": m.GetAnnotations()} {
		if rest, ok := strings.CutPrefix(path, prefix+"['"); ok {
			key := strings.TrimSuffix(rest, "']")
			return vals[key], true
		}
	}
	return "", false
}

// ParseProxyName splits the name of a proxy path: "[scheme:]name[:port]".
func ParseProxyName(s string) (scheme, name, port string) {
	parts := strings.Split(s, ":")
	switch len(parts) {
	case 1:
		return "", parts[0], ""
	case 2:
		return "", parts[0], parts[1]
	default:
		return parts[0], parts[1], parts[2]
	}
}

// PodPort resolves a proxy's port, a number or a container port's name; ""
// is the first declared port, else 80.
func PodPort(p *corev1.Pod, port string) (int32, error) {
	if port == "" {
		for _, c := range p.GetSpec().GetContainers() {
			for _, cp := range c.GetPorts() {
				return cp.GetContainerPort(), nil
			}
		}
		return 80, nil
	}
	if n, err := strconv.Atoi(port); err == nil && n > 0 && n < 65536 {
		return int32(n), nil
	}
	for _, c := range p.GetSpec().GetContainers() {
		for _, cp := range c.GetPorts() {
			if cp.GetName() == port {
				return cp.GetContainerPort(), nil
			}
		}
	}
	return 0, apierr.BadRequest(fmt.Sprintf("no such port %q on pod %s", port, p.GetMetadata().GetName()))
}
