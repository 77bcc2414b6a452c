package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/node/internal/admission"
	"github.com/podwarden/podwarden/services/node/internal/podstatus"
	"github.com/podwarden/podwarden/services/node/internal/repo"
	"github.com/podwarden/podwarden/services/node/internal/sim"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/defaults"
	"github.com/podwarden/podwarden/shared/naming"
	"github.com/podwarden/podwarden/shared/validation"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// PodServer implements PodService.
type PodServer struct {
	nodev1.UnimplementedPodServiceServer
	Deps
	R *crud.Resource[*corev1.Pod]
}

func checkPodTypeMeta(p *corev1.Pod) error {
	if errs := validation.ValidateTypeMeta(p.ApiVersion, p.Kind, "v1", "Pod"); len(errs) > 0 {
		return apierr.BadRequest(fmt.Sprintf("the API version in the data (%s) or kind (%s) does not match the expected API version (v1) and kind (Pod) of this endpoint", p.ApiVersion, p.Kind))
	}
	return nil
}

func namespaceOf(reqNS string, m *corev1.ObjectMeta) (string, error) {
	ns := reqNS
	if ns == "" {
		ns = m.GetNamespace()
	}
	if ns == "" {
		ns = "default"
	}
	if m.GetNamespace() != "" && m.GetNamespace() != ns {
		return "", apierr.BadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	return ns, nil
}

// CreatePod creates a bare pod (or one a client owns): defaulted, validated,
// stored Pending; the scheduler picks it up like a commanded pod.
func (s *PodServer) CreatePod(ctx context.Context, req *nodev1.CreatePodRequest) (*nodev1.CreatePodResponse, error) {
	p := req.GetPod()
	if p == nil || p.Metadata == nil {
		return nil, apierr.BadRequest("metadata is required")
	}
	if err := checkPodTypeMeta(p); err != nil {
		return nil, err
	}
	m := p.Metadata
	ns, err := namespaceOf(req.GetNamespace(), m)
	if err != nil {
		return nil, err
	}
	m.Namespace = ns
	if m.Name == "" && m.GenerateName != "" {
		m.Name = naming.GenerateName(m.GenerateName)
	}
	now := s.now()
	m.Uid, m.ResourceVersion, m.Generation = "", "", 0
	m.CreationTimestamp = timestamppb.New(now.Truncate(1e9))
	m.DeletionTimestamp, m.DeletionGracePeriodSeconds = nil, nil
	admission.Prepare(p)
	if errs := admission.ValidateCreate(p); len(errs) > 0 {
		return nil, apierr.Invalid(podGK, m.Name, errs)
	}
	var out *corev1.Pod
	dryRun := isDryRun(req.GetDryRun())
	err = writeTx(ctx, s.DB, podsGR, m.Name, dryRun, func(tx pgx.Tx) error {
		// LimitRanger and ResourceQuota admission, under the namespace's quota locks.
		adm, err := repo.LoadAdmission(ctx, tx, ns, now)
		if err != nil {
			return err
		}
		if err := adm.Admit(p); err != nil {
			return apierr.Forbidden(podsGR, m.Name, err)
		}
		if len(adm.Ranges) > 0 {
			if errs := admission.ValidateCreate(p); len(errs) > 0 {
				return apierr.Invalid(podGK, m.Name, errs)
			}
		}
		if out, err = repo.CreatePod(ctx, tx, now, p, nil); err != nil {
			return err
		}
		return repo.WriteQuotaStatuses(ctx, tx, adm)
	})
	if err != nil {
		return nil, err
	}
	if dryRun {
		out.Metadata.ResourceVersion = "" // never stored
	}
	return &nodev1.CreatePodResponse{Pod: out}, nil
}

// GetPod returns one pod.
func (s *PodServer) GetPod(ctx context.Context, req *nodev1.GetPodRequest) (*nodev1.GetPodResponse, error) {
	p, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &nodev1.GetPodResponse{Pod: p}, nil
}

// ListPods lists the pods of a namespace ("" = all) with label and field
// selectors (spec.nodeName, status.phase, metadata.name, ...; != works too).
func (s *PodServer) ListPods(ctx context.Context, req *nodev1.ListPodsRequest) (*nodev1.ListPodsResponse, error) {
	res, err := s.R.List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &nodev1.ListPodsResponse{ApiVersion: "v1", Kind: "PodList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdatePod replaces metadata and the parts of the spec Kubernetes lets change
// on a pod (images, activeDeadlineSeconds, added tolerations); the status is
// the kubelet's and is kept.
func (s *PodServer) UpdatePod(ctx context.Context, req *nodev1.UpdatePodRequest) (*nodev1.UpdatePodResponse, error) {
	p := req.GetPod()
	if p == nil || p.Metadata == nil {
		return nil, apierr.BadRequest("metadata is required")
	}
	if err := checkPodTypeMeta(p); err != nil {
		return nil, err
	}
	ns, err := namespaceOf(req.GetNamespace(), p.Metadata)
	if err != nil {
		return nil, err
	}
	name := req.GetName()
	if name == "" {
		name = p.Metadata.Name
	}
	if p.Metadata.Name == "" {
		p.Metadata.Name = name
	}
	if p.Metadata.Name != name {
		return nil, apierr.BadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", p.Metadata.Name, name))
	}
	var out *corev1.Pod
	dryRun := isDryRun(req.GetDryRun())
	err = writeTx(ctx, s.DB, podsGR, name, dryRun, func(tx pgx.Tx) error {
		old, err := repo.Pods.GetForUpdate(ctx, tx, ns, name)
		if err != nil {
			return err
		}
		om := old.Metadata
		next := proto.Clone(p).(*corev1.Pod)
		m := next.Metadata
		m.Namespace = ns
		if m.ResourceVersion != "" && m.ResourceVersion != om.ResourceVersion {
			return apierr.Conflict(podsGR, name, apierr.OptimisticLockErrorMsg)
		}
		if m.Uid != "" && m.Uid != om.Uid {
			return apierr.Conflict(podsGR, name, fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", m.Uid, om.Uid))
		}
		m.Uid, m.ResourceVersion, m.CreationTimestamp, m.GenerateName = om.Uid, om.ResourceVersion, om.CreationTimestamp, om.GenerateName
		m.DeletionTimestamp, m.DeletionGracePeriodSeconds = om.DeletionTimestamp, om.DeletionGracePeriodSeconds
		if m.Generation == 0 {
			m.Generation = om.Generation
		}
		next.ApiVersion, next.Kind, next.Status = "v1", "Pod", old.Status
		defaults.DefaultPod(next)
		admission.AddDefaultTolerations(next)
		if errs := admission.ValidateUpdate(next, old); len(errs) > 0 {
			return apierr.Invalid(podGK, name, errs)
		}
		if proto.Equal(next, old) {
			out = old
			return nil
		}
		if dryRun {
			out = next // the resourceVersion stays the stored one
			return nil
		}
		out, err = repo.UpdatePod(ctx, tx, s.now(), next, repo.OwnerKind(old), nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &nodev1.UpdatePodResponse{Pod: out}, nil
}

// UpdatePodStatus writes the status subresource, as a kubelet, a controller or
// a test suite does (`PUT pods/{name}/status`): only status changes (metadata
// and spec stay as stored), validated as Kubernetes' ValidatePodStatusUpdate
// does; the write is published to the pod's owner like the kubelet's own, and the
// simulated kubelet goes on from it (a pod marked Failed stays Failed).
func (s *PodServer) UpdatePodStatus(ctx context.Context, req *nodev1.UpdatePodStatusRequest) (*nodev1.UpdatePodStatusResponse, error) {
	p := req.GetPod()
	if p == nil || p.Metadata == nil {
		return nil, apierr.BadRequest("metadata is required")
	}
	if err := checkPodTypeMeta(p); err != nil {
		return nil, err
	}
	ns, err := namespaceOf(req.GetNamespace(), p.Metadata)
	if err != nil {
		return nil, err
	}
	name := req.GetName()
	if p.Metadata.Name == "" {
		p.Metadata.Name = name
	}
	if p.Metadata.Name != name {
		return nil, apierr.BadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", p.Metadata.Name, name))
	}
	var out *corev1.Pod
	dryRun := isDryRun(req.GetDryRun())
	err = writeTx(ctx, s.DB, podsGR, name, dryRun, func(tx pgx.Tx) error {
		old, err := repo.Pods.GetForUpdate(ctx, tx, ns, name)
		if err != nil {
			return err
		}
		m := p.GetMetadata()
		if m.ResourceVersion != "" && m.ResourceVersion != old.GetMetadata().GetResourceVersion() {
			return apierr.Conflict(podsGR, name, apierr.OptimisticLockErrorMsg)
		}
		if m.Uid != "" && m.Uid != old.GetMetadata().GetUid() {
			return apierr.Conflict(podsGR, name, fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", m.Uid, old.GetMetadata().GetUid()))
		}
		next := proto.Clone(old).(*corev1.Pod)
		next.Status = proto.Clone(p.GetStatus()).(*corev1.PodStatus)
		if next.Status == nil {
			next.Status = &corev1.PodStatus{}
		}
		if errs := admission.ValidateStatusUpdate(next, old); len(errs) > 0 {
			return apierr.Invalid(podGK, name, errs)
		}
		if proto.Equal(next, old) || dryRun {
			out = next
			return nil
		}
		out, err = repo.UpdatePod(ctx, tx, s.now(), next, repo.OwnerKind(old), nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	out.ApiVersion, out.Kind = "v1", "Pod"
	return &nodev1.UpdatePodStatusResponse{Pod: out}, nil
}

// disruptionTarget is the pod condition of a pod deleted by a disruption (eviction).
const disruptionTarget = "DisruptionTarget"

// DeletePod deletes gracefully: the pod comes back with deletionTimestamp set
// and goes once its containers stopped; grace 0 (or an unscheduled or
// terminated pod) removes it at once. A DisruptionTarget condition in the
// request is added to the pod's status as it is deleted (an eviction's).
func (s *PodServer) DeletePod(ctx context.Context, req *nodev1.DeletePodRequest) (*nodev1.DeletePodResponse, error) {
	ns, name := req.GetNamespace(), req.GetName()
	if ns == "" {
		ns = "default"
	}
	grace := req.GracePeriodSeconds
	if grace == nil && req.GetOptions() != nil {
		grace = req.GetOptions().GracePeriodSeconds
	}
	if grace != nil && *grace < 0 {
		one := int64(1) // kube-apiserver turns a negative grace period into 1
		grace = &one
	}
	// Only the condition a disruption sets on its way (an eviction's DisruptionTarget):
	// the field is reachable over REST too, and must not write any other condition.
	if c := req.GetCondition(); c != nil && c.GetType() != disruptionTarget {
		return nil, apierr.BadRequest(fmt.Sprintf("condition: only a %s condition is set on deletion, not %q", disruptionTarget, c.GetType()))
	}
	var out *corev1.Pod
	err := inTx(ctx, s.DB, podsGR, name, func(tx pgx.Tx) error {
		p, err := repo.Pods.GetForUpdate(ctx, tx, ns, name)
		if err != nil {
			return err
		}
		if err := preconditions(req.GetOptions(), podsGR, p.Metadata); err != nil {
			return err
		}
		if isDryRun(req.GetOptions().GetDryRun()) {
			out = p
			return nil
		}
		if c := req.GetCondition(); c != nil && p.GetMetadata().GetDeletionTimestamp() == nil {
			if p.Status == nil {
				p.Status = &corev1.PodStatus{}
			}
			podstatus.SetCondition(p.Status, c.GetType(), c.GetStatus(), c.GetReason(), c.GetMessage(), s.now())
		}
		out, _, err = repo.GracefulDelete(ctx, tx, s.now(), p, grace)
		return err
	})
	if err != nil {
		return nil, err
	}
	out.ApiVersion, out.Kind = "v1", "Pod"
	return &nodev1.DeletePodResponse{Pod: out}, nil
}

// WatchPods streams pod changes.
func (s *PodServer) WatchPods(req *nodev1.WatchPodsRequest, stream nodev1.PodService_WatchPodsServer) error {
	return s.R.ServeWatch(stream, req.GetNamespace(), req,
		func(typ string, p *corev1.Pod) error {
			return stream.Send(&nodev1.WatchPodsResponse{Type: typ, Object: p})
		})
}

// InjectPodFault crashes a pod's containers, fails the pod, or makes its
// readiness probe fail ("unready") or pass again ("ready").
func (s *PodServer) InjectPodFault(ctx context.Context, req *nodev1.InjectPodFaultRequest) (*nodev1.InjectPodFaultResponse, error) {
	ns, name := req.GetNamespace(), req.GetName()
	if ns == "" {
		ns = "default"
	}
	var out *corev1.Pod
	err := inTx(ctx, s.DB, podsGR, name, func(tx pgx.Tx) error {
		p, err := repo.Pods.GetForUpdate(ctx, tx, ns, name)
		if err != nil {
			return err
		}
		now := s.now()
		evs, err := sim.ApplyFault(p, req.GetFault(), req.GetExitCode(), now)
		if errors.Is(err, sim.ErrFault) {
			return apierr.BadRequest(err.Error())
		}
		if err != nil {
			return err
		}
		out, err = repo.UpdatePod(ctx, tx, now, p, repo.OwnerKind(p), evs)
		return err
	})
	if err != nil {
		return nil, err
	}
	out.ApiVersion, out.Kind = "v1", "Pod"
	return &nodev1.InjectPodFaultResponse{Pod: out}, nil
}
