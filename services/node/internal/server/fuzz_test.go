package server

import (
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/services/node/internal/admission"
	"github.com/podwarden/podwarden/shared/kindfuzz"
	"github.com/podwarden/podwarden/shared/validation"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// The admission of Pods, Services, Endpoints and Nodes, as their handlers run
// it before the store, keeps kindfuzz's properties for any body.

// createMeta is what the create handlers do to metadata before defaulting.
func createMeta(m *corev1.ObjectMeta, namespaced bool) {
	if namespaced && m.Namespace == "" {
		m.Namespace = "default"
	}
	if !namespaced {
		m.Namespace = ""
	}
	if m.Name == "" && m.GenerateName != "" {
		m.Name = m.GenerateName + "abcde"
	}
	m.Uid, m.ResourceVersion, m.Generation = "", "", 0
	m.CreationTimestamp = timestamppb.New(kindfuzz.Created)
	m.DeletionTimestamp, m.DeletionGracePeriodSeconds = nil, nil
}

var pods = kindfuzz.Target[*corev1.Pod]{
	New: func() *corev1.Pod { return &corev1.Pod{} },
	Create: func(p *corev1.Pod) bool {
		if p.Metadata == nil || checkPodTypeMeta(p) != nil {
			return false
		}
		createMeta(p.Metadata, true)
		return true
	},
	Default: admission.Prepare,
	Validate: func(p, _ *corev1.Pod, _ bool) field.ErrorList {
		return admission.ValidateCreate(p)
	},
	Update: func(next, old *corev1.Pod) field.ErrorList {
		admission.AddDefaultTolerations(next)
		return admission.ValidateUpdate(next, old)
	},
}

var services = kindfuzz.Target[*nodev1.Service]{
	New: func() *nodev1.Service { return &nodev1.Service{} },
	Create: func(s *nodev1.Service) bool {
		if s.Metadata == nil || len(validation.ValidateTypeMeta(s.ApiVersion, s.Kind, "v1", "Service")) > 0 {
			return false
		}
		s.ApiVersion, s.Kind = "v1", "Service"
		createMeta(s.Metadata, true)
		s.Metadata.Uid = "0b5b4a4e-6a0e-4d9f-9a43-7a5b0c1d2e3f"
		s.Status = nil
		return true
	},
	Default: defaultService,
	Validate: func(s, _ *nodev1.Service, _ bool) field.ErrorList {
		return validateService(s, nil)
	},
	Update: func(next, old *nodev1.Service) field.ErrorList {
		keepAllocated(next.Spec, old.GetSpec())
		defaultService(next)
		return validateService(next, old)
	},
}

var endpoints = kindfuzz.FromResource(EndpointsResource(nil, nil, nil), func() *nodev1.Endpoints { return &nodev1.Endpoints{} })

var nodes = kindfuzz.Target[*nodev1.Node]{
	New: func() *nodev1.Node { return &nodev1.Node{} },
	Create: func(n *nodev1.Node) bool {
		if n.Metadata == nil || len(validation.ValidateTypeMeta(n.ApiVersion, n.Kind, "v1", "Node")) > 0 {
			return false
		}
		n.ApiVersion, n.Kind = "v1", "Node"
		createMeta(n.Metadata, false)
		return true
	},
	Default: func(*nodev1.Node) {},
	Validate: func(n, _ *nodev1.Node, _ bool) field.ErrorList {
		errs := validation.ValidateObjectMeta(n.Metadata, false, validation.NameIsDNSSubdomain, field.NewPath("metadata"))
		return append(errs, validation.ValidateTaints(n.GetSpec().GetTaints(), field.NewPath("spec", "taints"))...)
	},
	Update: func(next, old *nodev1.Node) field.ErrorList {
		errs := validation.ValidateObjectMetaUpdate(next.Metadata, old.Metadata, field.NewPath("metadata"))
		return append(errs, validation.ValidateTaints(next.GetSpec().GetTaints(), field.NewPath("spec", "taints"))...)
	},
}

func TestAdmitManifests(t *testing.T) {
	pods.CheckManifests(t, "Pod")
	services.CheckManifests(t, "Service")
	endpoints.CheckManifests(t, "Endpoints")
	nodes.CheckManifests(t, "Node")
}

func FuzzPod(f *testing.F) {
	kindfuzz.AddSeeds(f, "Pod")
	f.Fuzz(func(t *testing.T, data []byte, at uint16, value string) {
		pods.Check(t, kindfuzz.Mutate(data, at, value))
	})
}

func FuzzService(f *testing.F) {
	kindfuzz.AddSeeds(f, "Service")
	f.Fuzz(func(t *testing.T, data []byte, at uint16, value string) {
		services.Check(t, kindfuzz.Mutate(data, at, value))
	})
}

func FuzzEndpoints(f *testing.F) {
	kindfuzz.AddSeeds(f, "Endpoints")
	f.Fuzz(func(t *testing.T, data []byte, at uint16, value string) {
		endpoints.Check(t, kindfuzz.Mutate(data, at, value))
	})
}

func FuzzNode(f *testing.F) {
	kindfuzz.AddSeeds(f, "Node")
	f.Fuzz(func(t *testing.T, data []byte, at uint16, value string) {
		nodes.Check(t, kindfuzz.Mutate(data, at, value))
	})
}
