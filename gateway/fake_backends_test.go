package gateway

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// apiErr builds a backend error the way the services encode them: a gRPC status
// with Kubernetes' message, an ErrorInfo carrying the StatusReason and the
// object, and for Invalid a BadRequest listing the causes.
func apiErr(code codes.Code, reason, group, kind, name, msg string, causes ...*errdetails.BadRequest_FieldViolation) error {
	st := status.New(code, msg)
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{
		Reason:   reason,
		Domain:   ErrorDomain,
		Metadata: map[string]string{"group": group, "kind": kind, "name": name},
	}}
	if len(causes) > 0 {
		details = append(details, &errdetails.BadRequest{FieldViolations: causes})
	}
	withDetails, err := st.WithDetails(details...)
	if err != nil {
		panic(err)
	}
	return withDetails.Err()
}

// fakeDeployments is a map-backed DeploymentService that records what it was asked.
// slowWatchEstablish is how long a watch of namespace "slow" takes to be established.
const slowWatchEstablish = time.Second

type fakeDeployments struct {
	deploymentv1.UnimplementedDeploymentServiceServer

	mu      sync.Mutex
	objs    map[string]*deploymentv1.Deployment
	version int
	// conflicts makes the next N updates fail with Conflict (a concurrent writer).
	conflicts int
	// Updates counts successful updates.
	Updates int
	// Deletes records every delete request.
	Deletes []*deploymentv1.DeleteDeploymentRequest
	// slowEstablished is when the last watch in namespace "slow" was established
	// (slowWatchEstablish after it was asked for).
	slowEstablished time.Time
	// Watches records every watch request; events are sent to every open watch.
	Watches []*deploymentv1.WatchDeploymentsRequest
	watchCh chan *deploymentv1.WatchDeploymentsResponse
}

func newFakeDeployments() *fakeDeployments {
	return &fakeDeployments{objs: map[string]*deploymentv1.Deployment{}, watchCh: make(chan *deploymentv1.WatchDeploymentsResponse, 16)}
}

func notFoundDeployment(name string) error {
	return apiErr(codes.NotFound, ReasonNotFound, "apps", "deployments", name, fmt.Sprintf("deployments.apps %q not found", name))
}

func (f *fakeDeployments) CreateDeployment(_ context.Context, req *deploymentv1.CreateDeploymentRequest) (*deploymentv1.CreateDeploymentResponse, error) {
	d := proto.Clone(req.GetDeployment()).(*deploymentv1.Deployment)
	if d == nil || d.GetMetadata().GetName() == "" {
		return nil, apiErr(codes.InvalidArgument, ReasonInvalid, "apps", "Deployment", "", `Deployment.apps "" is invalid: metadata.name: Required value: name or generateName is required`,
			&errdetails.BadRequest_FieldViolation{Field: "metadata.name", Description: "Required value: name or generateName is required", Reason: "FieldValueRequired"})
	}
	name := d.GetMetadata().GetName()
	if spec := d.GetSpec(); spec != nil && spec.Replicas != nil && *spec.Replicas < 0 {
		r := spec.Replicas
		return nil, apiErr(codes.InvalidArgument, ReasonInvalid, "apps", "Deployment", name,
			fmt.Sprintf(`Deployment.apps %q is invalid: spec.replicas: Invalid value: %d: must be greater than or equal to 0`, name, *r),
			&errdetails.BadRequest_FieldViolation{Field: "spec.replicas", Description: fmt.Sprintf("Invalid value: %d: must be greater than or equal to 0", *r), Reason: "FieldValueInvalid"})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	key := req.GetNamespace() + "/" + name
	if _, ok := f.objs[key]; ok {
		return nil, apiErr(codes.AlreadyExists, ReasonAlreadyExists, "apps", "deployments", name, fmt.Sprintf("deployments.apps %q already exists", name))
	}
	f.version++
	d.ApiVersion, d.Kind = "apps/v1", "Deployment"
	d.Metadata.Namespace = req.GetNamespace()
	d.Metadata.Uid = "uid-" + name
	d.Metadata.Generation = 1
	d.Metadata.ResourceVersion = strconv.Itoa(f.version)
	d.Metadata.CreationTimestamp = timestamppb.New(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	d.Status = &deploymentv1.DeploymentStatus{ObservedGeneration: 1}
	f.objs[key] = d
	return &deploymentv1.CreateDeploymentResponse{Deployment: proto.Clone(d).(*deploymentv1.Deployment)}, nil
}

func (f *fakeDeployments) GetDeployment(_ context.Context, req *deploymentv1.GetDeploymentRequest) (*deploymentv1.GetDeploymentResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.objs[req.GetNamespace()+"/"+req.GetName()]
	if !ok {
		return nil, notFoundDeployment(req.GetName())
	}
	return &deploymentv1.GetDeploymentResponse{Deployment: proto.Clone(d).(*deploymentv1.Deployment)}, nil
}

func (f *fakeDeployments) ListDeployments(_ context.Context, req *deploymentv1.ListDeploymentsRequest) (*deploymentv1.ListDeploymentsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &deploymentv1.ListDeploymentsResponse{ApiVersion: "apps/v1", Kind: "DeploymentList", Metadata: &corev1.ListMeta{ResourceVersion: strconv.Itoa(f.version)}}
	keys := make([]string, 0, len(f.objs))
	for k := range f.objs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if d := f.objs[k]; req.GetNamespace() == "" || d.GetMetadata().GetNamespace() == req.GetNamespace() {
			resp.Items = append(resp.Items, proto.Clone(d).(*deploymentv1.Deployment))
		}
	}
	return resp, nil
}

func (f *fakeDeployments) UpdateDeployment(_ context.Context, req *deploymentv1.UpdateDeploymentRequest) (*deploymentv1.UpdateDeploymentResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := req.GetNamespace() + "/" + req.GetName()
	cur, ok := f.objs[key]
	if !ok {
		return nil, notFoundDeployment(req.GetName())
	}
	conflict := apiErr(codes.Aborted, ReasonConflict, "apps", "deployments", req.GetName(), fmt.Sprintf(
		"Operation cannot be fulfilled on deployments.apps %q: the object has been modified; please apply your changes to the latest version and try again", req.GetName()))
	if f.conflicts > 0 {
		f.conflicts--
		f.version++ // a concurrent writer got there first
		cur.Metadata.ResourceVersion = strconv.Itoa(f.version)
		return nil, conflict
	}
	d := req.GetDeployment()
	if rv := d.GetMetadata().GetResourceVersion(); rv != "" && rv != cur.GetMetadata().GetResourceVersion() {
		return nil, conflict
	}
	next := proto.Clone(cur).(*deploymentv1.Deployment)
	next.Metadata.Labels = d.GetMetadata().GetLabels()
	next.Metadata.Annotations = d.GetMetadata().GetAnnotations()
	if mf := d.GetMetadata().GetManagedFields(); len(mf) > 0 {
		next.Metadata.ManagedFields = mf
	}
	if !proto.Equal(next.GetSpec(), d.GetSpec()) {
		next.Spec = d.GetSpec()
		next.Metadata.Generation++
	}
	f.version++
	f.Updates++
	next.Metadata.ResourceVersion = strconv.Itoa(f.version)
	f.objs[key] = next
	return &deploymentv1.UpdateDeploymentResponse{Deployment: proto.Clone(next).(*deploymentv1.Deployment)}, nil
}

func (f *fakeDeployments) DeleteDeployment(_ context.Context, req *deploymentv1.DeleteDeploymentRequest) (*deploymentv1.DeleteDeploymentResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Deletes = append(f.Deletes, req)
	key := req.GetNamespace() + "/" + req.GetName()
	d, ok := f.objs[key]
	if !ok {
		return nil, notFoundDeployment(req.GetName())
	}
	delete(f.objs, key)
	return &deploymentv1.DeleteDeploymentResponse{Status: &corev1.Status{
		Kind: "Status", ApiVersion: "v1", Metadata: &corev1.ListMeta{}, Status: "Success",
		Details: &corev1.StatusDetails{Name: req.GetName(), Group: "apps", Kind: "deployments", Uid: d.GetMetadata().GetUid()},
	}}, nil
}

func (f *fakeDeployments) GetDeploymentScale(ctx context.Context, req *deploymentv1.GetDeploymentScaleRequest) (*deploymentv1.GetDeploymentScaleResponse, error) {
	got, err := f.GetDeployment(ctx, &deploymentv1.GetDeploymentRequest{Namespace: req.GetNamespace(), Name: req.GetName()})
	if err != nil {
		return nil, err
	}
	d := got.GetDeployment()
	return &deploymentv1.GetDeploymentScaleResponse{Scale: &corev1.Scale{
		ApiVersion: "autoscaling/v1", Kind: "Scale",
		Metadata: &corev1.ObjectMeta{Name: d.GetMetadata().GetName(), Namespace: d.GetMetadata().GetNamespace(), ResourceVersion: d.GetMetadata().GetResourceVersion()},
		Spec:     &corev1.ScaleSpec{Replicas: d.GetSpec().GetReplicas()},
	}}, nil
}

func (f *fakeDeployments) UpdateDeploymentScale(_ context.Context, req *deploymentv1.UpdateDeploymentScaleRequest) (*deploymentv1.UpdateDeploymentScaleResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, ok := f.objs[req.GetNamespace()+"/"+req.GetName()]
	if !ok {
		return nil, notFoundDeployment(req.GetName())
	}
	r := req.GetScale().GetSpec().GetReplicas()
	if cur.Spec == nil {
		cur.Spec = &deploymentv1.DeploymentSpec{}
	}
	cur.Spec.Replicas = &r
	if mf := req.GetScale().GetMetadata().GetManagedFields(); len(mf) > 0 { // as crud.KeepScaleManagers
		cur.Metadata.ManagedFields = mf
	}
	f.version++
	f.Updates++
	cur.Metadata.ResourceVersion = strconv.Itoa(f.version)
	scale := proto.Clone(req.GetScale()).(*corev1.Scale)
	scale.Metadata.ResourceVersion = cur.Metadata.ResourceVersion
	return &deploymentv1.UpdateDeploymentScaleResponse{Scale: scale}, nil
}

func (f *fakeDeployments) WatchDeployments(req *deploymentv1.WatchDeploymentsRequest, stream grpc.ServerStreamingServer[deploymentv1.WatchDeploymentsResponse]) error {
	f.mu.Lock()
	f.Watches = append(f.Watches, req)
	var initial []*deploymentv1.Deployment
	for _, d := range f.objs {
		if req.GetNamespace() == "" || d.GetMetadata().GetNamespace() == req.GetNamespace() {
			initial = append(initial, proto.Clone(d).(*deploymentv1.Deployment))
		}
	}
	f.mu.Unlock()
	if req.GetNamespace() == "slow" {
		// A backend whose watch takes a while to be established (its cache catching up).
		select {
		case <-time.After(slowWatchEstablish):
		case <-stream.Context().Done():
			return nil
		}
		f.mu.Lock()
		f.slowEstablished = time.Now()
		f.mu.Unlock()
	}
	if err := stream.SendHeader(nil); err != nil { // tell the client the watch is established
		return err
	}
	for _, d := range initial {
		if err := stream.Send(&deploymentv1.WatchDeploymentsResponse{Type: "ADDED", Object: d}); err != nil {
			return err
		}
	}
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case ev, ok := <-f.watchCh:
			if !ok {
				return nil
			}
			if ev.GetType() == "ERROR" {
				return status.Error(codes.Internal, "watch broke")
			}
			if err := stream.Send(ev); err != nil {
				return err
			}
		}
	}
}

func (f *fakeDeployments) WatchRolloutStatus(req *deploymentv1.WatchRolloutStatusRequest, stream grpc.ServerStreamingServer[deploymentv1.WatchRolloutStatusResponse]) error {
	if req.GetName() == "missing" {
		return notFoundDeployment(req.GetName())
	}
	msgs := []*deploymentv1.WatchRolloutStatusResponse{
		{Message: fmt.Sprintf("Waiting for deployment %q rollout to finish: 1 of 3 updated replicas are available...", req.GetName())},
		{Done: true, Message: fmt.Sprintf("deployment %q successfully rolled out", req.GetName())},
	}
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeDeployments) lastDelete() *deploymentv1.DeleteDeploymentRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.Deletes) == 0 {
		return nil
	}
	return f.Deletes[len(f.Deletes)-1]
}

func (f *fakeDeployments) updates() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Updates
}

func (f *fakeDeployments) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.objs)
}

func (f *fakeDeployments) watchRequests() []*deploymentv1.WatchDeploymentsRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.Watches)
}

// fakePods is a map-backed PodService.
type fakePods struct {
	nodev1.UnimplementedPodServiceServer

	mu      sync.Mutex
	objs    map[string]*corev1.Pod
	version int
	Deletes []*nodev1.DeletePodRequest
	Watches []*nodev1.WatchPodsRequest
}

func newFakePods() *fakePods { return &fakePods{objs: map[string]*corev1.Pod{}} }

func (f *fakePods) CreatePod(_ context.Context, req *nodev1.CreatePodRequest) (*nodev1.CreatePodResponse, error) {
	p := proto.Clone(req.GetPod()).(*corev1.Pod)
	name := p.GetMetadata().GetName()
	f.mu.Lock()
	defer f.mu.Unlock()
	key := req.GetNamespace() + "/" + name
	if _, ok := f.objs[key]; ok {
		return nil, apiErr(codes.AlreadyExists, ReasonAlreadyExists, "", "pods", name, fmt.Sprintf("pods %q already exists", name))
	}
	f.version++
	p.ApiVersion, p.Kind = "v1", "Pod"
	p.Metadata.Namespace = req.GetNamespace()
	p.Metadata.ResourceVersion = strconv.Itoa(f.version)
	f.objs[key] = p
	return &nodev1.CreatePodResponse{Pod: proto.Clone(p).(*corev1.Pod)}, nil
}

func (f *fakePods) GetPod(_ context.Context, req *nodev1.GetPodRequest) (*nodev1.GetPodResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.objs[req.GetNamespace()+"/"+req.GetName()]
	if !ok {
		return nil, apiErr(codes.NotFound, ReasonNotFound, "", "pods", req.GetName(), fmt.Sprintf("pods %q not found", req.GetName()))
	}
	return &nodev1.GetPodResponse{Pod: proto.Clone(p).(*corev1.Pod)}, nil
}

func (f *fakePods) UpdatePod(_ context.Context, req *nodev1.UpdatePodRequest) (*nodev1.UpdatePodResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := req.GetNamespace() + "/" + req.GetName()
	cur, ok := f.objs[key]
	if !ok {
		return nil, apiErr(codes.NotFound, ReasonNotFound, "", "pods", req.GetName(), fmt.Sprintf("pods %q not found", req.GetName()))
	}
	if rv := req.GetPod().GetMetadata().GetResourceVersion(); rv != cur.GetMetadata().GetResourceVersion() {
		return nil, apiErr(codes.Aborted, ReasonConflict, "", "pods", req.GetName(), "conflict")
	}
	next := proto.Clone(req.GetPod()).(*corev1.Pod)
	f.version++
	next.Metadata.ResourceVersion = strconv.Itoa(f.version)
	f.objs[key] = next
	return &nodev1.UpdatePodResponse{Pod: proto.Clone(next).(*corev1.Pod)}, nil
}

func (f *fakePods) DeletePod(_ context.Context, req *nodev1.DeletePodRequest) (*nodev1.DeletePodResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Deletes = append(f.Deletes, req)
	key := req.GetNamespace() + "/" + req.GetName()
	p, ok := f.objs[key]
	if !ok {
		return nil, apiErr(codes.NotFound, ReasonNotFound, "", "pods", req.GetName(), fmt.Sprintf("pods %q not found", req.GetName()))
	}
	delete(f.objs, key)
	return &nodev1.DeletePodResponse{Pod: p}, nil
}

func (f *fakePods) WatchPods(req *nodev1.WatchPodsRequest, stream grpc.ServerStreamingServer[nodev1.WatchPodsResponse]) error {
	f.mu.Lock()
	f.Watches = append(f.Watches, req)
	var initial []*corev1.Pod
	for _, p := range f.objs {
		initial = append(initial, proto.Clone(p).(*corev1.Pod))
	}
	f.mu.Unlock()
	for _, p := range initial {
		if err := stream.Send(&nodev1.WatchPodsResponse{Type: "ADDED", Object: p}); err != nil {
			return err
		}
	}
	<-stream.Context().Done()
	return nil
}

func (f *fakePods) lastDelete() *nodev1.DeletePodRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.Deletes) == 0 {
		return nil
	}
	return f.Deletes[len(f.Deletes)-1]
}

// fakeEvents is an EventService answering fixed events (or an error), and
// recording the requests.
type fakeEvents struct {
	corev1.UnimplementedEventServiceServer

	mu       sync.Mutex
	Items    []*corev1.Event
	RV       string // the lists' resourceVersion
	Err      error
	Requests []*corev1.ListEventsRequest
}

func (f *fakeEvents) ListEvents(_ context.Context, req *corev1.ListEventsRequest) (*corev1.ListEventsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Requests = append(f.Requests, req)
	if f.Err != nil {
		return nil, f.Err
	}
	return &corev1.ListEventsResponse{ApiVersion: "v1", Kind: "EventList", Metadata: &corev1.ListMeta{ResourceVersion: f.RV}, Items: f.Items}, nil
}

var (
	_ deploymentv1.DeploymentServiceServer = (*fakeDeployments)(nil)
	_ nodev1.PodServiceServer              = (*fakePods)(nil)
	_ corev1.EventServiceServer            = (*fakeEvents)(nil)
)
