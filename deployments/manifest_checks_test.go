package deployments

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// workload is the pod-owning part of a Deployment or StatefulSet.
type workload struct {
	obj         object
	replicas    *int32
	selector    *metav1.LabelSelector
	template    *corev1.PodTemplateSpec
	serviceName string   // StatefulSet only
	claims      []string // StatefulSet volumeClaimTemplates names
}

// index is the decoded set, by kind and name (one namespace).
type index struct {
	objs      []object
	byKey     map[string]object
	workloads []workload
}

func newIndex(objs []object) *index {
	idx := &index{objs: objs, byKey: map[string]object{}}
	for _, o := range objs {
		idx.byKey[o.kind+"/"+o.value.GetName()] = o
		switch v := o.value.(type) {
		case *appsv1.Deployment:
			idx.workloads = append(idx.workloads, workload{
				obj: o, replicas: v.Spec.Replicas, selector: v.Spec.Selector, template: &v.Spec.Template,
			})
		case *appsv1.StatefulSet:
			w := workload{
				obj: o, replicas: v.Spec.Replicas, selector: v.Spec.Selector, template: &v.Spec.Template,
				serviceName: v.Spec.ServiceName,
			}
			for _, c := range v.Spec.VolumeClaimTemplates {
				w.claims = append(w.claims, c.Name)
			}
			idx.workloads = append(idx.workloads, w)
		}
	}
	return idx
}

func (idx *index) get(kind, name string) (object, bool) {
	o, ok := idx.byKey[kind+"/"+name]
	return o, ok
}

func (idx *index) configMap(name string) (*corev1.ConfigMap, bool) {
	o, ok := idx.get("ConfigMap", name)
	if !ok {
		return nil, false
	}
	return o.value.(*corev1.ConfigMap), true
}

func (idx *index) secret(name string) (*corev1.Secret, bool) {
	o, ok := idx.get("Secret", name)
	if !ok {
		return nil, false
	}
	return o.value.(*corev1.Secret), true
}

func (idx *index) service(name string) (*corev1.Service, bool) {
	o, ok := idx.get("Service", name)
	if !ok {
		return nil, false
	}
	return o.value.(*corev1.Service), true
}

// checkSet runs every consistency check over one decoded set of manifests.
func checkSet(objs []object) []error {
	idx := newIndex(objs)
	var errs []error
	seen := map[string]string{}
	for _, o := range objs {
		errs = append(errs, checkMeta(o)...)
		key := o.kind + "/" + o.value.GetName()
		if prev, dup := seen[key]; dup {
			errs = append(errs, fmt.Errorf("%s: duplicate of %s", o, prev))
		}
		seen[key] = o.source
	}
	for _, w := range idx.workloads {
		errs = append(errs, checkWorkload(idx, w)...)
	}
	for _, o := range objs {
		if svc, ok := o.value.(*corev1.Service); ok {
			errs = append(errs, checkService(idx, o, svc)...)
		}
	}
	errs = append(errs, checkAddresses(idx)...)
	return errs
}

// checkMeta: a valid name, the project's namespace and recommended labels.
func checkMeta(o object) []error {
	var errs []error
	name := o.value.GetName()
	if name == "" {
		return []error{fmt.Errorf("%s: metadata.name is missing", o)}
	}
	nameErrs := validation.IsDNS1123Subdomain(name)
	if o.kind == "Service" || o.kind == "Namespace" {
		nameErrs = validation.IsDNS1123Label(name)
	}
	for _, e := range nameErrs {
		errs = append(errs, fmt.Errorf("%s: metadata.name: %s", o, e))
	}
	if o.kind != "Namespace" && o.value.GetNamespace() != wantNamespace {
		errs = append(errs, fmt.Errorf("%s: metadata.namespace = %q, want %q", o, o.value.GetNamespace(), wantNamespace))
	}
	l := o.value.GetLabels()
	if l[labelName] == "" {
		errs = append(errs, fmt.Errorf("%s: label %s is missing", o, labelName))
	}
	if l[labelPartOf] != partOf {
		errs = append(errs, fmt.Errorf("%s: label %s = %q, want %q", o, labelPartOf, l[labelPartOf], partOf))
	}
	return errs
}

func checkWorkload(idx *index, w workload) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{w.obj}, args...)...))
	}
	if w.replicas == nil {
		fail("spec.replicas is not set")
	} else if w.template.Labels[labelComponent] == "controller" && *w.replicas < 2 {
		fail("a controller service runs at least 2 replicas (leader election), got %d", *w.replicas)
	}
	if w.selector == nil || (len(w.selector.MatchLabels) == 0 && len(w.selector.MatchExpressions) == 0) {
		fail("spec.selector is missing or empty")
	} else if sel, err := metav1.LabelSelectorAsSelector(w.selector); err != nil {
		fail("spec.selector: %v", err)
	} else if !sel.Matches(labels.Set(w.template.Labels)) {
		fail("spec.selector %s does not match spec.template.metadata.labels %v", sel, w.template.Labels)
	}
	if w.template.Labels[labelName] == "" || w.template.Labels[labelPartOf] != partOf {
		fail("spec.template.metadata.labels must carry %s and %s=%s", labelName, labelPartOf, partOf)
	}
	if w.obj.kind == "StatefulSet" {
		if svc, ok := idx.service(w.serviceName); !ok {
			fail("spec.serviceName %q names no Service in the set", w.serviceName)
		} else if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			fail("spec.serviceName %q must be a headless Service (clusterIP: None)", w.serviceName)
		}
	}

	spec := &w.template.Spec
	if len(spec.Containers) == 0 {
		fail("no containers")
	}
	volumes := map[string]bool{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = true
		switch {
		case v.ConfigMap != nil && !optional(v.ConfigMap.Optional):
			if _, ok := idx.configMap(v.ConfigMap.Name); !ok {
				fail("volume %q: ConfigMap %q is not in the set", v.Name, v.ConfigMap.Name)
			}
		case v.Secret != nil && !optional(v.Secret.Optional):
			if _, ok := idx.secret(v.Secret.SecretName); !ok {
				fail("volume %q: Secret %q is not in the set", v.Name, v.Secret.SecretName)
			}
		}
	}
	for _, c := range w.claims {
		volumes[c] = true
	}
	for _, c := range spec.Containers {
		errs = append(errs, checkContainer(idx, w, c, volumes)...)
	}
	return errs
}

func checkContainer(idx *index, w workload, c corev1.Container, volumes map[string]bool) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: container %q: "+format, append([]any{w.obj, c.Name}, args...)...))
	}
	if c.Image == "" {
		fail("image is missing")
	} else if !strings.Contains(c.Image[strings.LastIndex(c.Image, "/")+1:], ":") || strings.HasSuffix(c.Image, ":latest") {
		fail("image %q: pin a tag other than latest", c.Image)
	}
	for name, p := range map[string]*corev1.Probe{"readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe, "startupProbe": c.StartupProbe} {
		if p == nil {
			if name != "startupProbe" {
				fail("%s is missing", name)
			}
			continue
		}
		if err := checkProbe(c, p); err != nil {
			fail("%s: %v", name, err)
		}
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			fail("resources.requests.%s is missing", r)
		}
		if _, ok := c.Resources.Limits[r]; !ok {
			fail("resources.limits.%s is missing", r)
		}
	}
	for _, m := range c.VolumeMounts {
		if !volumes[m.Name] {
			fail("volumeMount %q names no volume or volumeClaimTemplate", m.Name)
		}
	}
	for _, e := range c.EnvFrom {
		if e.ConfigMapRef != nil && !optional(e.ConfigMapRef.Optional) {
			if _, ok := idx.configMap(e.ConfigMapRef.Name); !ok {
				fail("envFrom: ConfigMap %q is not in the set", e.ConfigMapRef.Name)
			}
		}
		if e.SecretRef != nil && !optional(e.SecretRef.Optional) {
			if _, ok := idx.secret(e.SecretRef.Name); !ok {
				fail("envFrom: Secret %q is not in the set", e.SecretRef.Name)
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			continue
		}
		if r := e.ValueFrom.ConfigMapKeyRef; r != nil && !optional(r.Optional) {
			if cm, ok := idx.configMap(r.Name); !ok {
				fail("env %s: ConfigMap %q is not in the set", e.Name, r.Name)
			} else if _, ok := configMapValue(cm, r.Key); !ok {
				fail("env %s: ConfigMap %q has no key %q", e.Name, r.Name, r.Key)
			}
		}
		if r := e.ValueFrom.SecretKeyRef; r != nil && !optional(r.Optional) {
			if s, ok := idx.secret(r.Name); !ok {
				fail("env %s: Secret %q is not in the set", e.Name, r.Name)
			} else if _, ok := secretValue(s, r.Key); !ok {
				fail("env %s: Secret %q has no key %q", e.Name, r.Name, r.Key)
			}
		}
	}
	if addr, ok := envValue(c, "PODWARDEN_GRPC_ADDR"); ok {
		_, port, err := splitHostPort(addr)
		switch {
		case err != nil:
			fail("PODWARDEN_GRPC_ADDR: %v", err)
		case !hasContainerPort(c, port, corev1.ProtocolTCP):
			fail("PODWARDEN_GRPC_ADDR port %d is not a containerPort", port)
		case c.ReadinessProbe != nil && (c.ReadinessProbe.GRPC == nil || c.ReadinessProbe.GRPC.Port != port):
			fail("readinessProbe must be a grpc probe on PODWARDEN_GRPC_ADDR's port %d", port)
		}
	}
	return errs
}

// checkProbe: the probe has a handler, and its port is one the container declares.
func checkProbe(c corev1.Container, p *corev1.Probe) error {
	switch {
	case p.GRPC != nil:
		if !hasContainerPort(c, p.GRPC.Port, corev1.ProtocolTCP) {
			return fmt.Errorf("grpc port %d is not a containerPort", p.GRPC.Port)
		}
	case p.HTTPGet != nil:
		if _, ok := resolvePort(c, p.HTTPGet.Port, corev1.ProtocolTCP); !ok {
			return fmt.Errorf("httpGet port %s is not a containerPort", p.HTTPGet.Port.String())
		}
	case p.TCPSocket != nil:
		if _, ok := resolvePort(c, p.TCPSocket.Port, corev1.ProtocolTCP); !ok {
			return fmt.Errorf("tcpSocket port %s is not a containerPort", p.TCPSocket.Port.String())
		}
	case p.Exec != nil:
		if len(p.Exec.Command) == 0 {
			return fmt.Errorf("exec command is empty")
		}
	default:
		return fmt.Errorf("no handler (grpc, httpGet, tcpSocket or exec)")
	}
	return nil
}

// checkService: a selector that matches a workload of the set, and every
// port's targetPort declared by the containers of every matched workload.
func checkService(idx *index, o object, svc *corev1.Service) []error {
	if len(svc.Spec.Selector) == 0 {
		return []error{fmt.Errorf("%s: spec.selector is empty: it would select no pod of the set", o)}
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var matched []workload
	for _, w := range idx.workloads {
		if sel.Matches(labels.Set(w.template.Labels)) {
			matched = append(matched, w)
		}
	}
	if len(matched) == 0 {
		return []error{fmt.Errorf("%s: selector %s matches no workload in the set", o, sel)}
	}
	if len(svc.Spec.Ports) == 0 {
		return []error{fmt.Errorf("%s: spec.ports is empty", o)}
	}
	var errs []error
	for _, p := range svc.Spec.Ports {
		target := p.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(p.Port)
		}
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		for _, w := range matched {
			found := false
			for _, c := range w.template.Spec.Containers {
				if _, ok := resolvePort(c, target, proto); ok {
					found = true
					break
				}
			}
			if !found {
				errs = append(errs, fmt.Errorf("%s: port %q targetPort %s/%s is not a containerPort of %s", o, p.Name, target.String(), proto, w.obj))
			}
		}
	}
	return errs
}

// listenAddrKeys are the PODWARDEN_*_ADDR variables that name a listen
// address, not a peer to reach.
var listenAddrKeys = map[string]bool{"PODWARDEN_GRPC_ADDR": true, "PODWARDEN_HTTP_ADDR": true, "PODWARDEN_DNS_ADDR": true, "PODWARDEN_METRICS_ADDR": true}

var peerAddrKey = regexp.MustCompile(`^PODWARDEN_([A-Z0-9_]+)_ADDR$`)

// checkAddresses: every peer address the set configures (PODWARDEN_<SVC>_ADDR,
// PODWARDEN_NATS_URL, PODWARDEN_POSTGRES_DSN) resolves to a Service port of the
// set, and every gRPC service has a PODWARDEN_<SVC>_ADDR (the gateway fronts it).
func checkAddresses(idx *index) []error {
	var errs []error
	peers := map[string]bool{} // upper-case service names with a PODWARDEN_<SVC>_ADDR
	check := func(where, key, value string) {
		switch {
		case key == "PODWARDEN_NATS_URL":
			for _, u := range strings.Split(value, ",") {
				if err := resolveURL(idx, u); err != nil {
					errs = append(errs, fmt.Errorf("%s: %s: %v", where, key, err))
				}
			}
		case key == "PODWARDEN_POSTGRES_DSN":
			if err := resolveURL(idx, value); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: %v", where, key, err))
			}
		case peerAddrKey.MatchString(key) && !listenAddrKeys[key]:
			peers[peerAddrKey.FindStringSubmatch(key)[1]] = true
			host, port, err := splitHostPort(value)
			if err == nil {
				err = resolveHostPort(idx, host, port)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %s=%s: %v", where, key, value, err))
			}
		}
	}
	for _, o := range idx.objs {
		switch v := o.value.(type) {
		case *corev1.ConfigMap:
			for k, val := range v.Data {
				check(o.String(), k, val)
			}
		case *corev1.Secret:
			for k := range v.StringData {
				val, _ := secretValue(v, k)
				check(o.String(), k, val)
			}
			for k := range v.Data {
				val, _ := secretValue(v, k)
				check(o.String(), k, val)
			}
		}
	}
	for _, w := range idx.workloads {
		for _, c := range w.template.Spec.Containers {
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					check(fmt.Sprintf("%s: container %q", w.obj, c.Name), e.Name, e.Value)
				}
			}
		}
	}
	for _, w := range idx.workloads {
		for _, c := range w.template.Spec.Containers {
			if _, ok := envValue(c, "PODWARDEN_GRPC_ADDR"); !ok {
				continue
			}
			svc := strings.ToUpper(strings.ReplaceAll(w.obj.value.GetName(), "-", "_"))
			if !peers[svc] {
				errs = append(errs, fmt.Errorf("%s serves gRPC but nothing sets PODWARDEN_%s_ADDR: add it to the gateway ConfigMap", w.obj, svc))
			}
		}
	}
	return errs
}

func resolveURL(idx *index, raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return err
	}
	if u.Hostname() == "" || u.Port() == "" {
		return fmt.Errorf("%q: want scheme://host:port", u.Redacted())
	}
	port, err := strconv.ParseInt(u.Port(), 10, 32)
	if err != nil {
		return err
	}
	return resolveHostPort(idx, u.Hostname(), int32(port))
}

// resolveHostPort resolves a namespace-local DNS name: "svc" is a Service,
// "pod-N.svc" is ordinal N of the StatefulSet governed by headless Service svc.
func resolveHostPort(idx *index, host string, port int32) error {
	svcName := host
	if pod, svc, ok := strings.Cut(host, "."); ok {
		svcName = svc
		if err := resolveStatefulPod(idx, pod, svc); err != nil {
			return err
		}
	}
	svc, ok := idx.service(svcName)
	if !ok {
		return fmt.Errorf("host %q: no Service %q in the set", host, svcName)
	}
	for _, p := range svc.Spec.Ports {
		if p.Port == port {
			return nil
		}
	}
	return fmt.Errorf("host %q: Service %q has no port %d", host, svcName, port)
}

func resolveStatefulPod(idx *index, pod, svc string) error {
	for _, w := range idx.workloads {
		name := w.obj.value.GetName()
		if w.obj.kind != "StatefulSet" || w.serviceName != svc || !strings.HasPrefix(pod, name+"-") {
			continue
		}
		ord, err := strconv.Atoi(strings.TrimPrefix(pod, name+"-"))
		if err != nil || ord < 0 {
			continue
		}
		if w.replicas == nil || int32(ord) >= *w.replicas {
			return fmt.Errorf("pod %s.%s: StatefulSet %q has fewer than %d replicas", pod, svc, name, ord+1)
		}
		return nil
	}
	return fmt.Errorf("pod %s.%s: no StatefulSet with serviceName %q has that pod", pod, svc, svc)
}

func splitHostPort(addr string) (string, int32, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.ParseInt(p, 10, 32)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q: bad port", addr)
	}
	return host, int32(port), nil
}

// resolvePort finds the container port a Service targetPort or probe port names.
func resolvePort(c corev1.Container, p intstr.IntOrString, proto corev1.Protocol) (int32, bool) {
	for _, cp := range c.Ports {
		cpProto := cp.Protocol
		if cpProto == "" {
			cpProto = corev1.ProtocolTCP
		}
		if cpProto != proto {
			continue
		}
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

func hasContainerPort(c corev1.Container, port int32, proto corev1.Protocol) bool {
	_, ok := resolvePort(c, intstr.FromInt32(port), proto)
	return ok
}

func envValue(c corev1.Container, name string) (string, bool) {
	i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name && e.ValueFrom == nil })
	if i < 0 {
		return "", false
	}
	return c.Env[i].Value, true
}

func configMapValue(cm *corev1.ConfigMap, key string) (string, bool) {
	if v, ok := cm.Data[key]; ok {
		return v, true
	}
	v, ok := cm.BinaryData[key]
	return string(v), ok
}

func secretValue(s *corev1.Secret, key string) (string, bool) {
	if v, ok := s.StringData[key]; ok {
		return v, true
	}
	v, ok := s.Data[key]
	return string(v), ok
}

func optional(b *bool) bool { return b != nil && *b }
