package reconcile

import (
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// rsCheckProto fails the test when got and want differ.
func rsCheckProto(t *testing.T, what string, got, want proto.Message) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Errorf("%s =\n%s\nwant\n%s", what, prototext.Format(got), prototext.Format(want))
	}
}

func TestPlanReplicaSetStampsPods(t *testing.T) {
	rs := rsTestReplicaSet(3)
	planner := ReplicaSetPlanner{NameSuffix: rsSuffixes("x8kfz", "7qzv9", "m2xcd")}
	plan := planner.PlanReplicaSet(rs, nil, nil, rsNow)

	yes := true
	for i, suffix := range []string{"x8kfz", "7qzv9", "m2xcd"} {
		want := &corev1.Pod{
			ApiVersion: "v1",
			Kind:       "Pod",
			Metadata: &corev1.ObjectMeta{
				Name:         "frontend-" + suffix,
				GenerateName: "frontend-",
				Namespace:    "default",
				Labels:       map[string]string{"app": "frontend", "tier": "web"},
				Annotations:  map[string]string{"team": "shop"},
				OwnerReferences: []*corev1.OwnerReference{{
					ApiVersion: "apps/v1", Kind: "ReplicaSet", Name: "frontend", Uid: "rs-uid",
					Controller: &yes, BlockOwnerDeletion: &yes,
				}},
				CreationTimestamp: timestamppb.New(rsNow),
			},
			Spec:   rsTemplate().GetSpec(),
			Status: &corev1.PodStatus{Phase: "Pending"},
		}
		if i >= len(plan.Create) {
			t.Fatalf("created %d pods, want 3", len(plan.Create))
		}
		rsCheckProto(t, "created pod", plan.Create[i], want)
	}
	if len(plan.Create) != 3 || len(plan.Delete) != 0 {
		t.Errorf("create %d delete %d, want 3 and 0", len(plan.Create), len(plan.Delete))
	}

	// The pods are copies: changing one leaves the template alone.
	plan.Create[0].Spec.Containers[0].Image = "changed"
	plan.Create[0].Metadata.Labels["app"] = "changed"
	if rs.Spec.Template.Spec.Containers[0].Image == "changed" || rs.Spec.Template.Metadata.Labels["app"] == "changed" {
		t.Error("created pod shares memory with the template")
	}
}

func TestPlanReplicaSetManageReplicas(t *testing.T) {
	tests := map[string]struct {
		planner    ReplicaSetPlanner
		rs         *deploymentv1.ReplicaSet
		pods       []*corev1.Pod
		related    []*corev1.Pod
		wantCreate []string
		wantDelete []string
	}{
		"scale up from 0 to 3": {
			rs:         rsTestReplicaSet(3),
			wantCreate: []string{"frontend-aaaaa", "frontend-bbbbb", "frontend-ccccc"},
		},
		"replace the one missing pod": {
			rs:         rsTestReplicaSet(3),
			pods:       []*corev1.Pod{rsTestPod("frontend-x1"), rsTestPod("frontend-x2")},
			wantCreate: []string{"frontend-aaaaa"},
		},
		"steady state does nothing": {
			rs:   rsTestReplicaSet(2),
			pods: []*corev1.Pod{rsTestPod("frontend-x1"), rsTestPod("frontend-x2")},
		},
		"unset replicas means 1": {
			rs:         rsTestReplicaSet(0, func(rs *deploymentv1.ReplicaSet) { rs.Spec.Replicas = nil }),
			wantCreate: []string{"frontend-aaaaa"},
		},
		"failed and succeeded pods are not counted": {
			rs: rsTestReplicaSet(3),
			pods: []*corev1.Pod{
				rsTestPod("frontend-ok"),
				rsTestPod("frontend-failed", rsPhase("Failed")),
				rsTestPod("frontend-done", rsPhase("Succeeded")),
			},
			wantCreate: []string{"frontend-aaaaa", "frontend-bbbbb"},
		},
		"failed and succeeded pods are not deleted": {
			// Both would be the first victims were they active.
			rs: rsTestReplicaSet(1),
			pods: []*corev1.Pod{
				rsTestPod("frontend-failed", rsOnNode(""), rsPhase("Failed")),
				rsTestPod("frontend-old", rsReady(rsAgo(time.Hour))),
				rsTestPod("frontend-new"),
				rsTestPod("frontend-done", rsOnNode(""), rsPhase("Succeeded")),
			},
			wantDelete: []string{"frontend-new"},
		},
		"terminating pods are not counted": {
			rs: rsTestReplicaSet(2),
			pods: []*corev1.Pod{
				rsTestPod("frontend-ok"),
				rsTestPod("frontend-going", rsDeleting(rsAgo(time.Second))),
			},
			wantCreate: []string{"frontend-aaaaa"},
		},
		"terminating pods are not deleted again": {
			// frontend-going would be the first victim were it active.
			rs: rsTestReplicaSet(1),
			pods: []*corev1.Pod{
				rsTestPod("frontend-old", rsReady(rsAgo(time.Hour))),
				rsTestPod("frontend-going", rsOnNode(""), rsPhase("Pending"), rsDeleting(rsAgo(time.Second))),
				rsTestPod("frontend-new", rsReady(rsAgo(10*time.Second))),
			},
			wantDelete: []string{"frontend-new"},
		},
		"scale down deletes victims in rank order": {
			rs: rsTestReplicaSet(2),
			pods: []*corev1.Pod{
				rsTestPod("ready-long", rsReady(rsAgo(time.Hour))),
				rsTestPod("running-not-ready", rsRestarts(2)),
				rsTestPod("ready-recent", rsReady(rsAgo(10*time.Second))),
				rsTestPod("unscheduled", rsOnNode(""), rsPhase("Pending")),
				rsTestPod("pending", rsPhase("Pending")),
			},
			wantDelete: []string{"unscheduled", "pending", "running-not-ready"},
		},
		"scale to zero deletes every active pod": {
			rs: rsTestReplicaSet(0),
			pods: []*corev1.Pod{
				rsTestPod("ready", rsReady(rsAgo(time.Hour))),
				rsTestPod("failed", rsPhase("Failed")),
				rsTestPod("pending", rsPhase("Pending")),
			},
			wantDelete: []string{"pending", "ready"},
		},
		"siblings' pods rank co-location for a ReplicaSet with a controller": {
			rs: rsTestReplicaSet(1, rsOwnedByDeployment),
			pods: []*corev1.Pod{
				rsTestPod("on-a", rsOnNode("node-a")),
				rsTestPod("on-b", rsOnNode("node-b"), rsCreated(rsAgo(time.Minute))),
			},
			related: []*corev1.Pod{
				rsTestPod("old-rs-1", rsOnNode("node-a")),
				rsTestPod("old-rs-2", rsOnNode("node-a")),
			},
			wantDelete: []string{"on-a"},
		},
		"own pods rank co-location for a ReplicaSet with a controller": {
			rs: rsTestReplicaSet(2, rsOwnedByDeployment),
			pods: []*corev1.Pod{
				rsTestPod("a1", rsOnNode("node-a")),
				rsTestPod("b1", rsOnNode("node-b"), rsCreated(rsAgo(time.Minute))),
				rsTestPod("a2", rsOnNode("node-a")),
			},
			wantDelete: []string{"a1"},
		},
		"no co-location ranking without a controller, as in Kubernetes": {
			rs: rsTestReplicaSet(1),
			pods: []*corev1.Pod{
				rsTestPod("on-a", rsOnNode("node-a")),
				rsTestPod("on-b", rsOnNode("node-b"), rsCreated(rsAgo(time.Minute))),
			},
			related: []*corev1.Pod{
				rsTestPod("other-1", rsOnNode("node-a")),
				rsTestPod("other-2", rsOnNode("node-a")),
			},
			wantDelete: []string{"on-b"},
		},
		"replica set being deleted neither creates nor deletes": {
			rs: rsTestReplicaSet(0, func(rs *deploymentv1.ReplicaSet) {
				rs.Metadata.DeletionTimestamp = timestamppb.New(rsAgo(time.Second))
			}),
			pods: []*corev1.Pod{rsTestPod("frontend-x1")},
		},
		"generated names skip names in use": {
			planner: ReplicaSetPlanner{NameSuffix: rsSuffixes("aaaaa", "aaaaa", "bbbbb", "ccccc", "ddddd")},
			rs:      rsTestReplicaSet(3),
			pods: []*corev1.Pod{
				rsTestPod("frontend-bbbbb"),
			},
			related:    []*corev1.Pod{rsTestPod("frontend-ccccc")},
			wantCreate: []string{"frontend-aaaaa", "frontend-ddddd"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			planner := tc.planner
			if planner.NameSuffix == nil {
				planner.NameSuffix = rsSuffixes("aaaaa", "bbbbb", "ccccc", "ddddd", "eeeee")
			}
			plan := planner.PlanReplicaSet(tc.rs, tc.pods, tc.related, rsNow)
			if got := rsPodNames(plan.Create); !slices.Equal(got, tc.wantCreate) {
				t.Errorf("create = %v, want %v", got, tc.wantCreate)
			}
			if got := rsPodNames(plan.Delete); !slices.Equal(got, tc.wantDelete) {
				t.Errorf("delete = %v, want %v", got, tc.wantDelete)
			}
		})
	}
}

func TestPlanReplicaSetBurst(t *testing.T) {
	tests := map[string]struct {
		burst      int
		replicas   int32
		pods       int
		wantCreate int
		wantDelete int
	}{
		"creates capped at 500":          {replicas: 600, wantCreate: 500},
		"deletes capped at 500":          {replicas: 0, pods: 501, wantDelete: 500},
		"exactly 500 creates":            {replicas: 500, wantCreate: 500},
		"next sync creates the rest":     {replicas: 600, pods: 500, wantCreate: 100},
		"planner burst caps creates":     {burst: 2, replicas: 5, wantCreate: 2},
		"planner burst caps deletes":     {burst: 2, replicas: 1, pods: 6, wantDelete: 2},
		"below the burst nothing capped": {burst: 10, replicas: 4, pods: 1, wantCreate: 3},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			n := 0
			planner := ReplicaSetPlanner{BurstReplicas: tc.burst, NameSuffix: func() string {
				n++
				return fmt.Sprintf("%05d", n)
			}}
			plan := planner.PlanReplicaSet(rsTestReplicaSet(tc.replicas), rsManyPods(tc.pods), nil, rsNow)
			if len(plan.Create) != tc.wantCreate || len(plan.Delete) != tc.wantDelete {
				t.Errorf("create %d delete %d, want %d and %d", len(plan.Create), len(plan.Delete), tc.wantCreate, tc.wantDelete)
			}
			if got := len(plan.Events); got != tc.wantCreate+tc.wantDelete {
				t.Errorf("%d events, want %d", got, tc.wantCreate+tc.wantDelete)
			}
			seen := map[string]bool{}
			for _, p := range plan.Create {
				if seen[p.GetMetadata().GetName()] {
					t.Fatalf("duplicate pod name %s", p.GetMetadata().GetName())
				}
				seen[p.GetMetadata().GetName()] = true
			}
		})
	}
}

func TestPlanReplicaSetEvents(t *testing.T) {
	rs := rsTestReplicaSet(1)
	planner := ReplicaSetPlanner{NameSuffix: rsSuffixes("x8kfz")}

	up := planner.PlanReplicaSet(rs, nil, nil, rsNow)
	ts := timestamppb.New(rsNow)
	want := &corev1.Event{
		ApiVersion: "v1",
		Kind:       "Event",
		Metadata:   &corev1.ObjectMeta{Name: "frontend.1828ac0686338000", Namespace: "default"},
		InvolvedObject: &corev1.ObjectReference{
			Kind: "ReplicaSet", Namespace: "default", Name: "frontend", Uid: "rs-uid",
			ApiVersion: "apps/v1", ResourceVersion: "41",
		},
		Reason:             "SuccessfulCreate",
		Message:            "Created pod: frontend-x8kfz",
		Source:             &corev1.EventSource{Component: "replicaset-controller"},
		FirstTimestamp:     ts,
		LastTimestamp:      ts,
		Count:              1,
		Type:               "Normal",
		ReportingComponent: "replicaset-controller",
	}
	if len(up.Events) != 1 {
		t.Fatalf("scale up: %d events, want 1", len(up.Events))
	}
	rsCheckProto(t, "scale-up event", up.Events[0], want)

	down := planner.PlanReplicaSet(rsTestReplicaSet(0), []*corev1.Pod{rsTestPod("frontend-a"), rsTestPod("frontend-b")}, nil, rsNow)
	var got []string
	names := map[string]bool{}
	for _, e := range down.Events {
		got = append(got, e.GetType()+" "+e.GetReason()+" "+e.GetMessage())
		names[e.GetMetadata().GetName()] = true
	}
	wantDown := []string{"Normal SuccessfulDelete Deleted pod: frontend-a", "Normal SuccessfulDelete Deleted pod: frontend-b"}
	if !slices.Equal(got, wantDown) {
		t.Errorf("scale-down events = %q, want %q", got, wantDown)
	}
	if len(names) != len(down.Events) {
		t.Errorf("event names not unique: %v", names)
	}

	warn := ReplicaSetEvent(rs, "Warning", ReasonFailedCreate, "Error creating: quota exceeded", rsNow)
	if warn.GetType() != "Warning" || warn.GetReason() != "FailedCreate" || warn.GetInvolvedObject().GetName() != "frontend" {
		t.Errorf("failure event = %s", prototext.Format(warn))
	}
}

func TestPlanReplicaSetRequeue(t *testing.T) {
	tests := map[string]struct {
		minReady  int32
		pods      []*corev1.Pod
		manageErr error
		want      time.Duration
	}{
		"nothing waits without minReadySeconds": {
			pods: []*corev1.Pod{rsTestPod("a", rsReady(rsAgo(time.Second)))},
		},
		"earliest pod to become available": {
			minReady: 10,
			pods: []*corev1.Pod{
				rsTestPod("a", rsReady(rsAgo(2*time.Second))),
				rsTestPod("b", rsReady(rsAgo(7*time.Second))),
				rsTestPod("c", rsReady(rsAgo(time.Minute))),
				rsTestPod("d"),
			},
			want: 3 * time.Second,
		},
		"all available": {
			minReady: 10,
			pods:     []*corev1.Pod{rsTestPod("a", rsReady(rsAgo(time.Minute)))},
		},
		"ready without transition time waits minReadySeconds": {
			minReady: 10,
			pods:     []*corev1.Pod{rsTestPod("a", rsReady(time.Time{}))},
			want:     10 * time.Second,
		},
		"no requeue on error (the error requeues)": {
			minReady:  10,
			pods:      []*corev1.Pod{rsTestPod("a", rsReady(rsAgo(2*time.Second)))},
			manageErr: errTestQuota,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rs := rsTestReplicaSet(int32(len(tc.pods)), func(rs *deploymentv1.ReplicaSet) { rs.Spec.MinReadySeconds = tc.minReady })
			plan := ReplicaSetPlanner{ManageErr: tc.manageErr}.PlanReplicaSet(rs, tc.pods, nil, rsNow)
			if plan.RequeueAfter != tc.want {
				t.Errorf("RequeueAfter = %v, want %v", plan.RequeueAfter, tc.want)
			}
		})
	}
}
