package reconcile

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

const (
	revOld = "web-old"
	revNew = "web-new"
)

// set is web: selector app=nginx, serviceName nginx, one claim template www.
func set(replicas int32, mutate ...func(*statefulsetv1.StatefulSet)) *statefulsetv1.StatefulSet {
	class := "standard"
	s := &statefulsetv1.StatefulSet{
		Metadata: &corev1.ObjectMeta{Name: "web", Namespace: "default", Uid: "set-uid", Generation: 1},
		Spec: &statefulsetv1.StatefulSetSpec{
			Replicas:            proto.Int32(replicas),
			Selector:            &corev1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}},
			ServiceName:         "nginx",
			PodManagementPolicy: OrderedReady,
			UpdateStrategy: &statefulsetv1.StatefulSetUpdateStrategy{Type: RollingUpdate,
				RollingUpdate: &statefulsetv1.RollingUpdateStatefulSetStrategy{Partition: proto.Int32(0)}},
			Template: &corev1.PodTemplateSpec{
				Metadata: &corev1.ObjectMeta{Labels: map[string]string{"app": "nginx"}},
				Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "nginx", Image: "nginx:new"}}},
			},
			VolumeClaimTemplates: []*statefulsetv1.PersistentVolumeClaim{{
				Metadata: &corev1.ObjectMeta{Name: "www"},
				Spec: &statefulsetv1.PersistentVolumeClaimSpec{AccessModes: []string{"ReadWriteOnce"}, StorageClassName: &class,
					Resources: &corev1.ResourceRequirements{Requests: map[string]*structpb.Value{"storage": structpb.NewStringValue("1Gi")}}},
			}},
		},
	}
	for _, m := range mutate {
		m(s)
	}
	return s
}

func parallel(s *statefulsetv1.StatefulSet) { s.Spec.PodManagementPolicy = Parallel }

func partition(p int32) func(*statefulsetv1.StatefulSet) {
	return func(s *statefulsetv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = proto.Int32(p) }
}

func maxUnavailable(v int) func(*statefulsetv1.StatefulSet) {
	return func(s *statefulsetv1.StatefulSet) {
		s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = structpb.NewNumberValue(float64(v))
	}
}

func onDelete(s *statefulsetv1.StatefulSet) {
	s.Spec.UpdateStrategy = &statefulsetv1.StatefulSetUpdateStrategy{Type: OnDelete}
}

// pod states
const (
	pending     = "pending"
	ready       = "ready"
	running     = "running" // running, not ready
	failed      = "failed"
	terminating = "terminating"
)

func pod(s *statefulsetv1.StatefulSet, ordinal int, state, revision string) *corev1.Pod {
	p := NewPod(s, ordinal, revision)
	p.Metadata.Uid = "uid-" + strconv.Itoa(ordinal)
	p.Status = &corev1.PodStatus{Phase: "Pending"}
	switch state {
	case ready, terminating:
		p.Status = &corev1.PodStatus{Phase: "Running", Conditions: []*corev1.Condition{{Type: "Ready", Status: "True",
			LastTransitionTime: timestamppb.New(t0.Add(-time.Minute))}}}
		if state == terminating {
			p.Metadata.DeletionTimestamp = timestamppb.New(t0)
		}
	case running:
		p.Status = &corev1.PodStatus{Phase: "Running"}
	case failed:
		p.Status = &corev1.PodStatus{Phase: "Failed"}
	}
	return p
}

// pods builds web-0.. from states ("" skips an ordinal), all at revision rev.
func pods(s *statefulsetv1.StatefulSet, rev string, states ...string) []*corev1.Pod {
	var out []*corev1.Pod
	for i, st := range states {
		if st != "" {
			out = append(out, pod(s, i, st, rev))
		}
	}
	return out
}

func input(s *statefulsetv1.StatefulSet, ps []*corev1.Pod, claimsFor ...int) Input {
	claims := map[string]*statefulsetv1.PersistentVolumeClaim{}
	for _, o := range claimsFor {
		c := NewClaim(s, s.Spec.VolumeClaimTemplates[0], o)
		claims[c.Metadata.Name] = c
	}
	return Input{Set: s, CurrentSet: s, CurrentRevision: revNew, UpdateRevision: revNew, Pods: ps, Claims: claims, Now: t0}
}

// updating is an input where the set's template changed: current revision old.
func updating(s *statefulsetv1.StatefulSet, ps []*corev1.Pod) Input {
	in := input(s, ps, 0, 1, 2, 3, 4)
	cur := proto.Clone(s).(*statefulsetv1.StatefulSet)
	cur.Spec.Template.Spec.Containers[0].Image = "nginx:old"
	in.CurrentSet, in.CurrentRevision = cur, revOld
	return in
}

func names[T interface{ GetMetadata() *corev1.ObjectMeta }](list []T) []string {
	out := []string{}
	for _, x := range list {
		out = append(out, x.GetMetadata().GetName())
	}
	return out
}

func TestDecide(t *testing.T) {
	s3 := set(3)
	s5 := set(5)
	cases := []struct {
		name                   string
		in                     Input
		create, delete, claims []string
		createRevisions        []string // revision of each created pod
	}{
		{name: "ordered: empty set creates web-0 and its claim first", in: input(s3, nil),
			create: []string{"web-0"}, delete: []string{}, claims: []string{"www-web-0"}},
		{name: "ordered: web-1 waits for web-0 to be Running and Ready", in: input(s3, pods(s3, revNew, pending), 0),
			create: []string{}, delete: []string{}, claims: []string{}},
		{name: "ordered: running but not ready still waits", in: input(s3, pods(s3, revNew, running), 0),
			create: []string{}, delete: []string{}, claims: []string{}},
		{name: "ordered: web-0 ready, web-1 comes", in: input(s3, pods(s3, revNew, ready), 0),
			create: []string{"web-1"}, delete: []string{}, claims: []string{"www-web-1"}},
		{name: "ordered: web-0 fails while web-1 runs: web-0 is recreated, web-2 is not created",
			in: input(s3, pods(s3, revNew, failed, ready), 0, 1), create: []string{}, delete: []string{"web-0"}, claims: []string{}},
		{name: "ordered: a missing middle ordinal comes back before anything else", in: input(s3, pods(s3, revNew, ready, "", ready), 0, 1, 2),
			create: []string{"web-1"}, delete: []string{}, claims: []string{}},
		{name: "ordered: a terminating pod is waited for before it is recreated", in: input(s3, pods(s3, revNew, ready, terminating), 0, 1),
			create: []string{}, delete: []string{}, claims: []string{}},
		{name: "parallel: all at once", in: input(set(3, parallel), nil),
			create: []string{"web-0", "web-1", "web-2"}, delete: []string{}, claims: []string{"www-web-0", "www-web-1", "www-web-2"}},
		{name: "parallel: unhealthy web-0 does not hold back the others", in: input(set(3, parallel), pods(set(3, parallel), revNew, pending), 0),
			create: []string{"web-1", "web-2"}, delete: []string{}, claims: []string{"www-web-1", "www-web-2"}},
		{name: "scale down 5 to 2: web-4 goes first", in: input(set(2), pods(s5, revNew, ready, ready, ready, ready, ready), 0, 1, 2, 3, 4),
			create: []string{}, delete: []string{"web-4"}, claims: []string{}},
		{name: "scale down: web-3 waits until web-4 is gone", in: input(set(2), pods(s5, revNew, ready, ready, ready, ready, terminating), 0, 1, 2, 3, 4),
			create: []string{}, delete: []string{}, claims: []string{}},
		{name: "scale down waits while a kept replica is unhealthy", in: input(set(2), pods(s5, revNew, ready, pending, ready), 0, 1, 2),
			create: []string{}, delete: []string{}, claims: []string{}},
		{name: "parallel scale down: all condemned at once", in: input(set(2, parallel), pods(s5, revNew, ready, ready, ready, ready, ready), 0, 1, 2, 3, 4),
			create: []string{}, delete: []string{"web-4", "web-3", "web-2"}, claims: []string{}},
		{name: "rolling update: highest ordinal first, one at a time", in: updating(s5, pods(s5, revOld, ready, ready, ready, ready, ready)),
			create: []string{}, delete: []string{"web-4"}, claims: []string{}},
		{name: "rolling update: the deleted pod comes back at the update revision", in: updating(s5, pods(s5, revOld, ready, ready, ready, ready)),
			create: []string{"web-4"}, createRevisions: []string{revNew}, delete: []string{}, claims: []string{}},
		{name: "rolling update: waits for the updated pod to be ready", in: updating(s5, append(pods(s5, revOld, ready, ready, ready, ready), pod(s5, 4, running, revNew))),
			create: []string{}, delete: []string{}, claims: []string{}},
		{name: "rolling update: next ordinal once the updated one is ready", in: updating(s5, append(pods(s5, revOld, ready, ready, ready, ready), pod(s5, 4, ready, revNew))),
			create: []string{}, delete: []string{"web-3"}, claims: []string{}},
		{name: "partition 3: ordinals below it keep the current revision", in: updating(set(5, partition(3)), append(pods(s5, revOld, ready, ready, ready), pod(s5, 3, ready, revNew), pod(s5, 4, ready, revNew))),
			create: []string{}, delete: []string{}, claims: []string{}},
		{name: "partition 3: a deleted pod below it comes back at the current revision", in: updating(set(5, partition(3)), append(pods(s5, revOld, ready, "", ready), pod(s5, 3, ready, revNew), pod(s5, 4, ready, revNew))),
			create: []string{"web-1"}, createRevisions: []string{revOld}, delete: []string{}, claims: []string{}},
		{name: "partition 3: the canary goes from web-4", in: updating(set(5, partition(3)), pods(s5, revOld, ready, ready, ready, ready, ready)),
			create: []string{}, delete: []string{"web-4"}, claims: []string{}},
		{name: "maxUnavailable 2: two at a time from the top", in: updating(set(5, maxUnavailable(2)), pods(s5, revOld, ready, ready, ready, ready, ready)),
			create: []string{}, delete: []string{"web-4", "web-3"}, claims: []string{}},
		{name: "maxUnavailable 2 with one pod unavailable: one more", in: updating(set(5, maxUnavailable(2), parallel), append(pods(s5, revOld, ready, ready, ready, ready), pod(s5, 4, running, revNew))),
			create: []string{}, delete: []string{"web-3"}, claims: []string{}},
		{name: "OnDelete: nothing is replaced", in: updating(set(5, onDelete), pods(s5, revOld, ready, ready, ready, ready, ready)),
			create: []string{}, delete: []string{}, claims: []string{}},
		{name: "OnDelete: a deleted pod comes back updated", in: updating(set(5, onDelete), pods(s5, revOld, ready, ready, "", ready, ready)),
			create: []string{"web-2"}, createRevisions: []string{revNew}, delete: []string{}, claims: []string{}},
		{name: "a deleted claim is made again for a living pod", in: input(s3, pods(s3, revNew, ready, ready, ready), 0, 2),
			create: []string{}, delete: []string{}, claims: []string{"www-web-1"}},
		{name: "a deleting StatefulSet does nothing", in: input(set(3, func(s *statefulsetv1.StatefulSet) { s.Metadata.DeletionTimestamp = timestamppb.New(t0) }), nil),
			create: []string{}, delete: []string{}, claims: []string{}},
		{name: "ordinals.start 5 names pods from web-5", in: input(set(2, parallel, func(s *statefulsetv1.StatefulSet) {
			s.Spec.Ordinals = &statefulsetv1.StatefulSetOrdinals{Start: 5}
		}), nil), create: []string{"web-5", "web-6"}, delete: []string{}, claims: []string{"www-web-5", "www-web-6"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := Decide(tc.in)
			if got := names(p.CreatePods); !slices.Equal(got, tc.create) {
				t.Errorf("created pods %v, want %v", got, tc.create)
			}
			if got := names(p.DeletePods); !slices.Equal(got, tc.delete) {
				t.Errorf("deleted pods %v, want %v", got, tc.delete)
			}
			if got := names(p.CreateClaims); !slices.Equal(got, tc.claims) {
				t.Errorf("created claims %v, want %v", got, tc.claims)
			}
			for i, want := range tc.createRevisions {
				if got := Revision(p.CreatePods[i]); got != want {
					t.Errorf("pod %s at revision %s, want %s", p.CreatePods[i].Metadata.Name, got, want)
				}
			}
		})
	}
}

// TestOrderedCreationSteps drives the planner like the controller does: apply the
// plan, let the pods become ready, plan again; every step creates exactly the next
// ordinal, never two.
func TestOrderedCreationSteps(t *testing.T) {
	s := set(4)
	var ps []*corev1.Pod
	for step := 0; step < 4; step++ {
		p := Decide(input(s, ps))
		if got := names(p.CreatePods); !slices.Equal(got, []string{PodName(s, step)}) {
			t.Fatalf("step %d: created %v", step, got)
		}
		ps = append(ps, pod(s, step, ready, revNew))
	}
	if p := Decide(input(s, ps, 0, 1, 2, 3)); len(p.CreatePods)+len(p.DeletePods) != 0 {
		t.Fatalf("steady state acts: %v %v", names(p.CreatePods), names(p.DeletePods))
	}
}

func TestNewPodIdentityAndStorage(t *testing.T) {
	s := set(3)
	s.Spec.Template.Spec.Volumes = []*corev1.Volume{{Name: "www"}, {Name: "config"}}
	p := NewPod(s, 2, revNew)
	if p.Metadata.Name != "web-2" || p.Spec.Hostname != "web-2" || p.Spec.Subdomain != "nginx" {
		t.Fatalf("identity: name %s hostname %s subdomain %s", p.Metadata.Name, p.Spec.Hostname, p.Spec.Subdomain)
	}
	want := map[string]string{"app": "nginx", HashLabel: revNew, PodNameLabel: "web-2", PodIndexLabel: "2"}
	for k, v := range want {
		if p.Metadata.Labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, p.Metadata.Labels[k], v)
		}
	}
	if len(p.Spec.Volumes) != 2 || p.Spec.Volumes[0].GetPersistentVolumeClaim().GetClaimName() != "www-web-2" || p.Spec.Volumes[1].Name != "config" {
		t.Fatalf("volumes: %v", p.Spec.Volumes)
	}
	if ref := p.Metadata.OwnerReferences[0]; ref.GetKind() != "StatefulSet" || !ref.GetController() || ref.GetUid() != "set-uid" {
		t.Fatalf("owner: %v", ref)
	}
	c := NewClaim(s, s.Spec.VolumeClaimTemplates[0], 2)
	if c.Metadata.Name != "www-web-2" || c.Metadata.Labels["app"] != "nginx" || c.Status.GetPhase() != "Pending" {
		t.Fatalf("claim: %v", c)
	}
}

func TestStatus(t *testing.T) {
	s := set(3)
	cases := []struct {
		name                              string
		in                                Input
		replicas, ready, current, updated int32
		currentRevision                   string
	}{
		{name: "all ready at one revision", in: input(s, pods(s, revNew, ready, ready, ready)), replicas: 3, ready: 3, current: 3, updated: 3, currentRevision: revNew},
		{name: "mid update: current stays until every pod is updated", in: updating(s, append(pods(s, revOld, ready, ready), pod(s, 2, ready, revNew))),
			replicas: 3, ready: 3, current: 2, updated: 1, currentRevision: revOld},
		{name: "update complete: the update revision becomes current", in: updating(s, pods(s, revNew, ready, ready, ready)),
			replicas: 3, ready: 3, current: 3, updated: 3, currentRevision: revNew},
		{name: "terminating pods count as replicas, not as current or updated", in: input(s, pods(s, revNew, ready, terminating)),
			replicas: 2, ready: 2, current: 1, updated: 1, currentRevision: revNew},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := Status(tc.in)
			if st.GetReplicas() != tc.replicas || st.GetReadyReplicas() != tc.ready || st.GetCurrentReplicas() != tc.current ||
				st.GetUpdatedReplicas() != tc.updated || st.GetCurrentRevision() != tc.currentRevision {
				t.Fatalf("status %v", st)
			}
		})
	}
}

func TestMinReadySeconds(t *testing.T) {
	s := set(2, func(s *statefulsetv1.StatefulSet) { s.Spec.MinReadySeconds = 120 })
	p := Decide(input(s, pods(s, revNew, ready), 0))
	if len(p.CreatePods) != 0 {
		t.Fatalf("web-1 created before web-0 was available for minReadySeconds")
	}
	if p.Requeue != time.Minute {
		t.Fatalf("requeue %v, want 1m (ready for 1m of 2m)", p.Requeue)
	}
	if p.Status.GetAvailableReplicas() != 0 || p.Status.GetReadyReplicas() != 1 {
		t.Fatalf("status %v", p.Status)
	}
}

// TestIsRunningAndAvailable: a StatefulSet counts availability like
// Kubernetes' podutil.IsPodAvailable; in particular a Ready condition without
// a lastTransitionTime is not available when minReadySeconds > 0.
func TestIsRunningAndAvailable(t *testing.T) {
	readyPod := func(phase string, since *timestamppb.Timestamp) *corev1.Pod {
		return &corev1.Pod{Metadata: &corev1.ObjectMeta{}, Status: &corev1.PodStatus{Phase: phase, Conditions: []*corev1.Condition{
			{Type: "Ready", Status: "True", LastTransitionTime: since}}}}
	}
	oneMinute := timestamppb.New(t0.Add(-time.Minute))
	tests := map[string]struct {
		pod       *corev1.Pod
		minReady  int32
		available bool
		wait      time.Duration
	}{
		"ready, minReadySeconds 0":                       {pod: readyPod("Running", oneMinute), available: true},
		"ready 1m of 2m":                                 {pod: readyPod("Running", oneMinute), minReady: 120, wait: time.Minute},
		"ready 1m of 1m":                                 {pod: readyPod("Running", oneMinute), minReady: 60, available: true},
		"no lastTransitionTime, minReadySeconds 0":       {pod: readyPod("Running", nil), available: true},
		"no lastTransitionTime, minReadySeconds 120":     {pod: readyPod("Running", nil), minReady: 120},
		"ready but pending":                              {pod: readyPod("Pending", oneMinute)},
		"running, not ready":                             {pod: pod(set(1), 0, running, revNew)},
		"terminating, ready 1m: available (as upstream)": {pod: pod(set(1), 0, terminating, revNew), minReady: 60, available: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ok, wait := IsRunningAndAvailable(tc.pod, tc.minReady, t0)
			if ok != tc.available || wait != tc.wait {
				t.Fatalf("IsRunningAndAvailable = %v, %v; want %v, %v", ok, wait, tc.available, tc.wait)
			}
		})
	}
}

// TestMinReadySecondsWithoutTransitionTime: with minReadySeconds a Ready pod
// whose condition has no lastTransitionTime is ready but not available, so an
// OrderedReady set does not go on to the next ordinal.
func TestMinReadySecondsWithoutTransitionTime(t *testing.T) {
	s := set(2, func(s *statefulsetv1.StatefulSet) { s.Spec.MinReadySeconds = 10 })
	web0 := pod(s, 0, ready, revNew)
	web0.Status.Conditions[0].LastTransitionTime = nil
	p := Decide(input(s, []*corev1.Pod{web0}, 0))
	if p.Status.GetReadyReplicas() != 1 || p.Status.GetAvailableReplicas() != 0 {
		t.Fatalf("status ready %d available %d, want 1 and 0", p.Status.GetReadyReplicas(), p.Status.GetAvailableReplicas())
	}
	if len(p.CreatePods) != 0 {
		t.Fatalf("created %v before web-0 was available", names(p.CreatePods))
	}
}

func TestIdentityRepair(t *testing.T) {
	s := set(1)
	p := pod(s, 0, ready, revNew)
	delete(p.Metadata.Labels, PodNameLabel)
	plan := Decide(input(s, []*corev1.Pod{p}, 0))
	if len(plan.UpdatePods) != 1 || plan.UpdatePods[0].Metadata.Labels[PodNameLabel] != "web-0" {
		t.Fatalf("identity not repaired: %v", plan.UpdatePods)
	}
}
