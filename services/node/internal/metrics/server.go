package metrics

import (
	"context"
	"fmt"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/defaults"
	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/validation"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	metricsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/metrics/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// Loads is the stored Load kind (in the node service's schema).
var Loads = store.Kind[*metricsv1.Load]{Name: "Load", Quiet: true, New: func() *metricsv1.Load { return &metricsv1.Load{} }}

var (
	pods  = store.Kind[*corev1.Pod]{Name: "Pod", New: func() *corev1.Pod { return &corev1.Pod{} }}
	nodes = store.Kind[*nodev1.Node]{Name: "Node", New: func() *nodev1.Node { return &nodev1.Node{} }}
)

// LoadResource is the Load kind with Kubernetes' API semantics.
func LoadResource(db *store.DB, now func() time.Time) *crud.Resource[*metricsv1.Load] {
	return &crud.Resource[*metricsv1.Load]{
		Kind: Loads, APIVersion: "sim.podwarden.io/v1", KindName: "Load", Namespaced: true,
		GR: apierr.GroupResource{Group: "sim.podwarden.io", Resource: "loads"}, GK: apierr.GroupKind{Group: "sim.podwarden.io", Kind: "Load"},
		DB: db, Now: now,
		TypeMeta:  func(l *metricsv1.Load) (*string, *string) { return &l.ApiVersion, &l.Kind },
		Validate:  ValidateLoad,
		SpecEqual: func(a, b *metricsv1.Load) bool { return proto.Equal(a.Spec, b.Spec) },
	}
}

// ValidateLoad requires a non-empty label selector and non-negative quantities.
func ValidateLoad(l, _ *metricsv1.Load, _ bool) field.ErrorList {
	errs := validation.ValidateObjectMeta(l.GetMetadata(), true, validation.NameIsDNSSubdomain, field.NewPath("metadata"))
	spec := field.NewPath("spec")
	s := l.GetSpec()
	if s.GetSelector() == "" {
		errs = append(errs, field.Required(spec.Child("selector"), "a label selector like app=hpa-nginx"))
	} else if _, err := labels.Parse(s.GetSelector()); err != nil {
		errs = append(errs, field.Invalid(spec.Child("selector"), s.GetSelector(), err.Error()))
	}
	quantity := func(v *structpbValue, p *field.Path) {
		if v == nil {
			return
		}
		q, err := defaults.Quantity(v)
		if err != nil {
			errs = append(errs, field.Invalid(p, v.AsInterface(), "must be a quantity like 580m or 1Gi"))
		} else if q.Sign() < 0 {
			errs = append(errs, field.Invalid(p, q.String(), "must be greater than or equal to 0"))
		}
	}
	quantity(s.GetCpu(), spec.Child("cpu"))
	quantity(s.GetMemory(), spec.Child("memory"))
	for name, v := range s.GetMetrics() {
		quantity(v, spec.Child("metrics").Key(name))
	}
	return errs
}

// LoadServer serves LoadService.
type LoadServer struct {
	metricsv1.UnimplementedLoadServiceServer
	R *crud.Resource[*metricsv1.Load]
}

// CreateLoad stores a Load.
func (s *LoadServer) CreateLoad(ctx context.Context, req *metricsv1.CreateLoadRequest) (*metricsv1.CreateLoadResponse, error) {
	if req.GetLoad() == nil {
		return nil, apierr.BadRequest("a Load is required in the request body")
	}
	out, err := s.R.Create(ctx, req.GetNamespace(), req.GetLoad(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &metricsv1.CreateLoadResponse{Load: out}, nil
}

// GetLoad returns a Load.
func (s *LoadServer) GetLoad(ctx context.Context, req *metricsv1.GetLoadRequest) (*metricsv1.GetLoadResponse, error) {
	out, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &metricsv1.GetLoadResponse{Load: out}, nil
}

// ListLoads lists Loads.
func (s *LoadServer) ListLoads(ctx context.Context, req *metricsv1.ListLoadsRequest) (*metricsv1.ListLoadsResponse, error) {
	res, err := s.R.List(ctx, req.GetNamespace(), crud.ListOptions{LabelSelector: req.GetLabelSelector(), FieldSelector: req.GetFieldSelector()})
	if err != nil {
		return nil, err
	}
	return &metricsv1.ListLoadsResponse{ApiVersion: "sim.podwarden.io/v1", Kind: "LoadList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdateLoad replaces a Load.
func (s *LoadServer) UpdateLoad(ctx context.Context, req *metricsv1.UpdateLoadRequest) (*metricsv1.UpdateLoadResponse, error) {
	if req.GetLoad() == nil {
		return nil, apierr.BadRequest("a Load is required in the request body")
	}
	out, err := s.R.Update(ctx, req.GetNamespace(), req.GetName(), req.GetLoad(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &metricsv1.UpdateLoadResponse{Load: out}, nil
}

// DeleteLoad deletes a Load.
func (s *LoadServer) DeleteLoad(ctx context.Context, req *metricsv1.DeleteLoadRequest) (*metricsv1.DeleteLoadResponse, error) {
	st, _, err := s.R.Delete(ctx, req.GetNamespace(), req.GetName(), "", req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &metricsv1.DeleteLoadResponse{Status: st}, nil
}

// Server serves MetricsService from the stored pods and Loads.
type Server struct {
	metricsv1.UnimplementedMetricsServiceServer
	DB    *store.DB
	Clock clock.Clock
	// Measured, when set, is a pod's real CPU and memory usage (milli-units),
	// measured from its processes (the exec runtime's, in their sandbox's
	// cgroup); ok false leaves the pod to the Loads.
	Measured func(p *corev1.Pod) (cpu, memory int64, ok bool)
}

func (s *Server) snapshot(ctx context.Context, ns string) ([]*corev1.Pod, map[string]Usage, []*metricsv1.Load, error) {
	return s.snapshotFor(ctx, ns, k8slabels.Everything())
}

// snapshotFor reads the pods of ns that sel matches, and the usage the Loads give
// them. The pods are read with sel's equality requirements pushed down to SQL, plus,
// for every Load reaching one of them, the pods that Load matches (its share depends
// on all of them), so an autoscaler's query does not read the whole namespace.
func (s *Server) snapshotFor(ctx context.Context, ns string, sel k8slabels.Selector) ([]*corev1.Pod, map[string]Usage, []*metricsv1.Load, error) {
	ps, err := pods.List(ctx, s.DB.Pool, store.ListOptions{Namespace: ns, Labels: labels.Equalities(sel)})
	if err != nil {
		return nil, nil, nil, apierr.Internal(err)
	}
	ps = filterPods(ps, sel)
	ls, err := Loads.List(ctx, s.DB.Pool, store.ListOptions{Namespace: ns})
	if err != nil {
		return nil, nil, nil, apierr.Internal(err)
	}
	all := ps
	if !sel.Empty() {
		seen := map[string]bool{}
		for _, p := range ps {
			seen[p.GetMetadata().GetNamespace()+"/"+p.GetMetadata().GetName()] = true
		}
		for _, l := range ls {
			lsel, err := labels.Parse(l.GetSpec().GetSelector())
			if err != nil || lsel.Empty() || !reachesAny(lsel, l.GetMetadata().GetNamespace(), ps) {
				continue
			}
			more, err := pods.List(ctx, s.DB.Pool, store.ListOptions{Namespace: l.GetMetadata().GetNamespace(), Labels: labels.Equalities(lsel)})
			if err != nil {
				return nil, nil, nil, apierr.Internal(err)
			}
			for _, p := range filterPods(more, lsel) {
				if k := p.GetMetadata().GetNamespace() + "/" + p.GetMetadata().GetName(); !seen[k] {
					seen[k] = true
					all = append(all, p)
				}
			}
		}
	}
	usage := PodUsage(all, ls)
	if s.Measured != nil {
		for _, p := range all {
			k := p.GetMetadata().GetNamespace() + "/" + p.GetMetadata().GetName()
			u, known := usage[k]
			if !known {
				continue // not running
			}
			if cpu, mem, ok := s.Measured(p); ok {
				u.CPU, u.Memory = cpu, mem
				usage[k] = u
			}
		}
	}
	return ps, usage, ls, nil
}

func filterPods(ps []*corev1.Pod, sel k8slabels.Selector) []*corev1.Pod {
	out := ps[:0]
	for _, p := range ps {
		if sel.Matches(labelSet(p.GetMetadata().GetLabels())) {
			out = append(out, p)
		}
	}
	return out
}

func reachesAny(sel k8slabels.Selector, ns string, ps []*corev1.Pod) bool {
	for _, p := range ps {
		if p.GetMetadata().GetNamespace() == ns && sel.Matches(labelSet(p.GetMetadata().GetLabels())) {
			return true
		}
	}
	return false
}

func (s *Server) podMetrics(p *corev1.Pod, u Usage, now time.Time) *metricsv1.PodMetrics {
	m := p.GetMetadata()
	return &metricsv1.PodMetrics{ApiVersion: "metrics.k8s.io/v1beta1", Kind: "PodMetrics",
		Metadata:  &corev1.ObjectMeta{Name: m.GetName(), Namespace: m.GetNamespace(), Labels: m.GetLabels(), CreationTimestamp: timestamppb.New(now.Truncate(time.Second))},
		Timestamp: timestamppb.New(now.Truncate(time.Second)), Window: Window.String(), Containers: ContainerUsage(p, u)}
}

// ListPodMetrics is GET /apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods.
func (s *Server) ListPodMetrics(ctx context.Context, req *metricsv1.ListPodMetricsRequest) (*metricsv1.ListPodMetricsResponse, error) {
	sel, err := labels.Parse(req.GetLabelSelector())
	if err != nil {
		return nil, apierr.BadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
	}
	ps, usage, _, err := s.snapshotFor(ctx, req.GetNamespace(), sel)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	out := &metricsv1.ListPodMetricsResponse{ApiVersion: "metrics.k8s.io/v1beta1", Kind: "PodMetricsList", Metadata: &corev1.ListMeta{}}
	for _, p := range ps {
		u, ok := usage[p.GetMetadata().GetNamespace()+"/"+p.GetMetadata().GetName()]
		if !ok || !sel.Matches(labelSet(p.GetMetadata().GetLabels())) {
			continue
		}
		out.Items = append(out.Items, s.podMetrics(p, u, now))
	}
	return out, nil
}

// GetPodMetrics is GET /apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods/{name}.
func (s *Server) GetPodMetrics(ctx context.Context, req *metricsv1.GetPodMetricsRequest) (*metricsv1.GetPodMetricsResponse, error) {
	ps, usage, _, err := s.snapshot(ctx, req.GetNamespace())
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if p.GetMetadata().GetName() != req.GetName() {
			continue
		}
		if u, ok := usage[p.GetMetadata().GetNamespace()+"/"+p.GetMetadata().GetName()]; ok {
			return &metricsv1.GetPodMetricsResponse{PodMetrics: s.podMetrics(p, u, s.Clock.Now())}, nil
		}
	}
	return nil, apierr.NotFound(apierr.GroupResource{Group: "metrics.k8s.io", Resource: "pods"}, req.GetName())
}

func (s *Server) nodeMetrics(ctx context.Context, selector string) ([]*metricsv1.NodeMetrics, error) {
	sel, err := labels.Parse(selector)
	if err != nil {
		return nil, apierr.BadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
	}
	ns, err := nodes.List(ctx, s.DB.Pool, store.ListOptions{})
	if err != nil {
		return nil, apierr.Internal(err)
	}
	ps, usage, _, err := s.snapshot(ctx, "")
	if err != nil {
		return nil, err
	}
	cpu, mem := map[string]int64{}, map[string]int64{}
	for _, p := range ps {
		if u, ok := usage[p.GetMetadata().GetNamespace()+"/"+p.GetMetadata().GetName()]; ok {
			cpu[p.GetSpec().GetNodeName()] += u.CPU
			mem[p.GetSpec().GetNodeName()] += u.Memory
		}
	}
	now := s.Clock.Now().Truncate(time.Second)
	var out []*metricsv1.NodeMetrics
	for _, n := range ns {
		name := n.GetMetadata().GetName()
		if !sel.Matches(labelSet(n.GetMetadata().GetLabels())) {
			continue
		}
		out = append(out, &metricsv1.NodeMetrics{ApiVersion: "metrics.k8s.io/v1beta1", Kind: "NodeMetrics",
			Metadata:  &corev1.ObjectMeta{Name: name, Labels: n.GetMetadata().GetLabels(), CreationTimestamp: timestamppb.New(now)},
			Timestamp: timestamppb.New(now), Window: Window.String(),
			Usage: map[string]*structpbValue{"cpu": cpuQuantity(cpu[name]), "memory": memoryQuantity(mem[name])}})
	}
	return out, nil
}

// ListNodeMetrics is GET /apis/metrics.k8s.io/v1beta1/nodes: the sum over each node's pods.
func (s *Server) ListNodeMetrics(ctx context.Context, req *metricsv1.ListNodeMetricsRequest) (*metricsv1.ListNodeMetricsResponse, error) {
	items, err := s.nodeMetrics(ctx, req.GetLabelSelector())
	if err != nil {
		return nil, err
	}
	return &metricsv1.ListNodeMetricsResponse{ApiVersion: "metrics.k8s.io/v1beta1", Kind: "NodeMetricsList", Metadata: &corev1.ListMeta{}, Items: items}, nil
}

// GetNodeMetrics is GET /apis/metrics.k8s.io/v1beta1/nodes/{name}.
func (s *Server) GetNodeMetrics(ctx context.Context, req *metricsv1.GetNodeMetricsRequest) (*metricsv1.GetNodeMetricsResponse, error) {
	items, err := s.nodeMetrics(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, n := range items {
		if n.GetMetadata().GetName() == req.GetName() {
			return &metricsv1.GetNodeMetricsResponse{NodeMetrics: n}, nil
		}
	}
	return nil, apierr.NotFound(apierr.GroupResource{Group: "metrics.k8s.io", Resource: "nodes"}, req.GetName())
}

// ListPodCustomMetrics returns metric_name of every running pod the selector matches
// (0 for the pods no Load with that metric reaches).
func (s *Server) ListPodCustomMetrics(ctx context.Context, req *metricsv1.ListPodCustomMetricsRequest) (*metricsv1.ListPodCustomMetricsResponse, error) {
	sel, err := labels.Parse(req.GetLabelSelector())
	if err != nil {
		return nil, apierr.BadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
	}
	ps, usage, _, err := s.snapshotFor(ctx, req.GetNamespace(), sel)
	if err != nil {
		return nil, err
	}
	now := timestamppb.New(s.Clock.Now().Truncate(time.Second))
	out := &metricsv1.ListPodCustomMetricsResponse{ApiVersion: "custom.metrics.k8s.io/v1beta2", Kind: "MetricValueList"}
	for _, p := range ps {
		m := p.GetMetadata()
		u, ok := usage[m.GetNamespace()+"/"+m.GetName()]
		if !ok || !sel.Matches(labelSet(m.GetLabels())) {
			continue
		}
		out.Items = append(out.Items, &metricsv1.MetricValue{
			DescribedObject: &corev1.ObjectReference{Kind: "Pod", Namespace: m.GetNamespace(), Name: m.GetName(), ApiVersion: "v1"},
			MetricName:      req.GetMetricName(), Timestamp: now, Value: milliQuantity(u.Custom[req.GetMetricName()])})
	}
	return out, nil
}

// GetObjectCustomMetric returns the total of metric_name over the namespace's Loads
// (the described object is not simulated further).
func (s *Server) GetObjectCustomMetric(ctx context.Context, req *metricsv1.GetObjectCustomMetricRequest) (*metricsv1.GetObjectCustomMetricResponse, error) {
	ls, err := Loads.List(ctx, s.DB.Pool, store.ListOptions{Namespace: req.GetNamespace()})
	if err != nil {
		return nil, apierr.Internal(err)
	}
	var total int64
	found := false
	for _, l := range ls {
		if v, ok := l.GetSpec().GetMetrics()[req.GetMetricName()]; ok {
			total += defaults.MilliValue(v)
			found = true
		}
	}
	if !found {
		return nil, apierr.NotFound(apierr.GroupResource{Group: "custom.metrics.k8s.io", Resource: req.GetKind()},
			fmt.Sprintf("%s (metric %s: no Load in namespace %q carries it)", req.GetName(), req.GetMetricName(), req.GetNamespace()))
	}
	return &metricsv1.GetObjectCustomMetricResponse{MetricValue: &metricsv1.MetricValue{
		DescribedObject: &corev1.ObjectReference{Kind: req.GetKind(), Namespace: req.GetNamespace(), Name: req.GetName()},
		MetricName:      req.GetMetricName(), Timestamp: timestamppb.New(s.Clock.Now().Truncate(time.Second)), Value: milliQuantity(total)}}, nil
}

// ListExternalMetrics returns metric_name of each Load in the namespace whose labels
// match the selector.
func (s *Server) ListExternalMetrics(ctx context.Context, req *metricsv1.ListExternalMetricsRequest) (*metricsv1.ListExternalMetricsResponse, error) {
	sel, err := labels.Parse(req.GetLabelSelector())
	if err != nil {
		return nil, apierr.BadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
	}
	ls, err := Loads.List(ctx, s.DB.Pool, store.ListOptions{Namespace: req.GetNamespace()})
	if err != nil {
		return nil, apierr.Internal(err)
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].GetMetadata().GetName() < ls[j].GetMetadata().GetName() })
	now := timestamppb.New(s.Clock.Now().Truncate(time.Second))
	out := &metricsv1.ListExternalMetricsResponse{ApiVersion: "external.metrics.k8s.io/v1beta1", Kind: "ExternalMetricValueList"}
	for _, l := range ls {
		v, ok := l.GetSpec().GetMetrics()[req.GetMetricName()]
		if !ok || !sel.Matches(labelSet(l.GetMetadata().GetLabels())) {
			continue
		}
		out.Items = append(out.Items, &metricsv1.ExternalMetricValue{MetricName: req.GetMetricName(), MetricLabels: l.GetMetadata().GetLabels(),
			Timestamp: now, Value: milliQuantity(defaults.MilliValue(v))})
	}
	return out, nil
}
