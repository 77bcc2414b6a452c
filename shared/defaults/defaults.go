// Package defaults applies Kubernetes' defaulting (pkg/apis/core/v1
// SetDefaults_PodSpec, SetDefaults_Container, SetDefaults_Probe, ...) to
// podwarden's proto types, so a stored object reads back as `kubectl get -o json`
// shows it. Every function is idempotent: defaulting twice equals defaulting once.
package defaults

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Default values, as Kubernetes names them.
const (
	RestartPolicyAlways                  = "Always"
	DNSClusterFirst                      = "ClusterFirst"
	DefaultSchedulerName                 = "default-scheduler"
	DefaultTerminationGracePeriodSeconds = int64(30)
	TerminationMessagePathDefault        = "/dev/termination-log"
	TerminationMessageReadFile           = "File"
	PullAlways                           = "Always"
	PullIfNotPresent                     = "IfNotPresent"
	ProtocolTCP                          = "TCP"
	ProbeTimeoutSeconds                  = int32(1)
	ProbePeriodSeconds                   = int32(10)
	ProbeSuccessThreshold                = int32(1)
	ProbeFailureThreshold                = int32(3)
	// DefaultVolumeMode is 0644, the defaultMode of secret, configMap,
	// downwardAPI and projected volumes.
	DefaultVolumeMode = 0o644
)

// DefaultTypeMeta fills an empty apiVersion and kind with the values the
// request path implies ("apps/v1", "Deployment"). Set values are left alone
// (validation.ValidateTypeMeta rejects a mismatch).
func DefaultTypeMeta(apiVersion, kind *string, wantAPIVersion, wantKind string) {
	if apiVersion != nil && *apiVersion == "" {
		*apiVersion = wantAPIVersion
	}
	if kind != nil && *kind == "" {
		*kind = wantKind
	}
}

// DefaultPodTemplateSpec applies SetDefaults_PodSpec and the container,
// port, probe, volume and quantity defaults to a pod template. A nil spec
// is created. restartPolicy defaults to Always: a caller wanting another
// default (none does in Kubernetes) sets it first.
func DefaultPodTemplateSpec(t *corev1.PodTemplateSpec) {
	if t == nil {
		return
	}
	if t.Spec == nil {
		t.Spec = &corev1.PodSpec{}
	}
	DefaultPodSpec(t.Spec)
}

// DefaultPodSpec is SetDefaults_PodSpec plus the defaults of everything a
// PodSpec holds:
//   - dnsPolicy ClusterFirst, restartPolicy Always, securityContext {},
//     terminationGracePeriodSeconds 30, schedulerName default-scheduler;
//   - each (init) container: see DefaultContainer;
//   - volumes: no source -> emptyDir {}; secret, configMap, downwardAPI and
//     projected get defaultMode 420; hostPath gets type "";
//   - overhead quantities in canonical form.
func DefaultPodSpec(s *corev1.PodSpec) {
	if s == nil {
		return
	}
	if s.DnsPolicy == "" {
		s.DnsPolicy = DNSClusterFirst
	}
	if s.RestartPolicy == "" {
		s.RestartPolicy = RestartPolicyAlways
	}
	if s.SecurityContext == nil {
		s.SecurityContext = &structpb.Struct{Fields: map[string]*structpb.Value{}}
	}
	if s.TerminationGracePeriodSeconds == nil {
		v := DefaultTerminationGracePeriodSeconds
		s.TerminationGracePeriodSeconds = &v
	}
	if s.SchedulerName == "" {
		s.SchedulerName = DefaultSchedulerName
	}
	for _, c := range s.InitContainers {
		DefaultContainer(c)
	}
	for _, c := range s.Containers {
		DefaultContainer(c)
	}
	for _, v := range s.Volumes {
		defaultVolume(v)
	}
	NormalizeQuantities(s.Overhead)
}

// DefaultContainer is SetDefaults_Container and friends: imagePullPolicy
// (Always for a "latest" or missing tag, IfNotPresent otherwise),
// terminationMessagePath /dev/termination-log, terminationMessagePolicy File,
// resources {} with quantities in canonical form, ports' protocol TCP,
// env valueFrom.fieldRef.apiVersion v1, and probe defaults (DefaultProbe),
// lifecycle httpGet path "/" and scheme HTTP.
func DefaultContainer(c *corev1.Container) {
	if c == nil {
		return
	}
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = PullPolicy(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = TerminationMessageReadFile
	}
	if c.Resources == nil {
		c.Resources = &corev1.ResourceRequirements{}
	}
	NormalizeQuantities(c.Resources.Limits)
	NormalizeQuantities(c.Resources.Requests)
	for _, p := range c.Ports {
		if p != nil && p.Protocol == "" {
			p.Protocol = ProtocolTCP
		}
	}
	for _, e := range c.Env {
		if ref := structField(e.GetValueFrom(), "fieldRef"); ref != nil {
			setIfAbsent(ref, "apiVersion", structpb.NewStringValue("v1"))
		}
	}
	DefaultProbe(c.LivenessProbe)
	DefaultProbe(c.ReadinessProbe)
	DefaultProbe(c.StartupProbe)
	if lc := c.GetLifecycle(); lc != nil {
		for _, h := range []string{"postStart", "preStop"} {
			defaultHTTPGet(structField(structField(lc, h), "httpGet"))
		}
	}
}

// DefaultProbe is SetDefaults_Probe (timeoutSeconds 1, periodSeconds 10,
// successThreshold 1, failureThreshold 3) plus SetDefaults_HTTPGetAction
// (path "/", scheme HTTP). nil is left nil.
func DefaultProbe(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = ProbeTimeoutSeconds
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = ProbePeriodSeconds
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = ProbeSuccessThreshold
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = ProbeFailureThreshold
	}
	defaultHTTPGet(p.HttpGet)
}

func defaultHTTPGet(s *structpb.Struct) {
	if s == nil {
		return
	}
	setIfEmptyString(s, "path", "/")
	setIfEmptyString(s, "scheme", "HTTP")
}

func defaultVolume(v *corev1.Volume) {
	if v == nil {
		return
	}
	if v.PersistentVolumeClaim == nil && v.EmptyDir == nil && v.ConfigMap == nil && v.Secret == nil &&
		v.HostPath == nil && v.Projected == nil && v.DownwardApi == nil && v.Csi == nil && v.Nfs == nil &&
		v.Ephemeral == nil && v.Image == nil {
		v.EmptyDir = &structpb.Struct{Fields: map[string]*structpb.Value{}}
	}
	for _, s := range []*structpb.Struct{v.Secret, v.ConfigMap, v.DownwardApi, v.Projected} {
		setIfAbsent(s, "defaultMode", structpb.NewNumberValue(DefaultVolumeMode))
	}
	setIfAbsent(v.HostPath, "type", structpb.NewStringValue(""))
}

// DefaultPod applies DefaultPodSpec and then what SetDefaults_Pod adds to a
// pod (not to a template): requests default to limits for each resource with
// a limit and no request, enableServiceLinks true, and with hostNetwork each
// port's hostPort defaults to its containerPort.
func DefaultPod(p *corev1.Pod) {
	if p == nil {
		return
	}
	if p.Spec == nil {
		p.Spec = &corev1.PodSpec{}
	}
	DefaultPodSpec(p.Spec)
	for _, list := range [][]*corev1.Container{p.Spec.Containers, p.Spec.InitContainers} {
		for _, c := range list {
			if c == nil {
				continue
			}
			if len(c.GetResources().GetLimits()) > 0 {
				if c.Resources.Requests == nil {
					c.Resources.Requests = map[string]*structpb.Value{}
				}
				for k, v := range c.Resources.Limits {
					if _, ok := c.Resources.Requests[k]; !ok && v != nil {
						c.Resources.Requests[k] = proto.Clone(v).(*structpb.Value)
					}
				}
			}
			if p.Spec.HostNetwork {
				for _, port := range c.Ports {
					if port != nil && port.HostPort == 0 {
						port.HostPort = port.ContainerPort
					}
				}
			}
		}
	}
	if p.Spec.EnableServiceLinks == nil {
		t := true
		p.Spec.EnableServiceLinks = &t
	}
}

// structField returns s[key] when it is an object, else nil.
func structField(s *structpb.Struct, key string) *structpb.Struct {
	if s == nil {
		return nil
	}
	return s.GetFields()[key].GetStructValue()
}

// setIfAbsent sets s[key] = v when s is non-nil and has no such key.
func setIfAbsent(s *structpb.Struct, key string, v *structpb.Value) {
	if s == nil {
		return
	}
	if s.Fields == nil {
		s.Fields = map[string]*structpb.Value{}
	}
	if _, ok := s.Fields[key]; !ok {
		s.Fields[key] = v
	}
}

// setIfEmptyString sets s[key] = v when it is absent or "".
func setIfEmptyString(s *structpb.Struct, key, v string) {
	if s == nil {
		return
	}
	if s.Fields == nil {
		s.Fields = map[string]*structpb.Value{}
	}
	if cur, ok := s.Fields[key]; !ok || cur.GetStringValue() == "" && isStringOrNull(cur) {
		s.Fields[key] = structpb.NewStringValue(v)
	}
}

func isStringOrNull(v *structpb.Value) bool {
	switch v.GetKind().(type) {
	case nil, *structpb.Value_NullValue, *structpb.Value_StringValue:
		return true
	}
	return false
}
