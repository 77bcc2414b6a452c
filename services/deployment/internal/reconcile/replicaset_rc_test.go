package reconcile

import (
	"slices"
	"testing"
	"time"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func rsTestRC(replicas *int32) *deploymentv1.ReplicationController {
	return &deploymentv1.ReplicationController{
		ApiVersion: "v1",
		Kind:       "ReplicationController",
		Metadata: &corev1.ObjectMeta{
			Name: "nginx", Namespace: "web", Uid: "rc-uid", Generation: 4, ResourceVersion: "9",
		},
		Spec: &deploymentv1.ReplicationControllerSpec{
			Replicas: replicas,
			Selector: map[string]string{"app": "frontend"},
			Template: rsTemplate(),
		},
	}
}

func TestPlanReplicationController(t *testing.T) {
	yes := true
	tests := map[string]struct {
		rc         *deploymentv1.ReplicationController
		pods       []*corev1.Pod
		wantCreate []string
		wantDelete []string
		wantEvents []string
		wantStatus *deploymentv1.ReplicaSetStatus
	}{
		"scale up stamps pods owned by the ReplicationController": {
			rc:         rsTestRC(rsInt32(2)),
			wantCreate: []string{"nginx-aaaaa", "nginx-bbbbb"},
			wantEvents: []string{"SuccessfulCreate Created pod: nginx-aaaaa", "SuccessfulCreate Created pod: nginx-bbbbb"},
			wantStatus: &deploymentv1.ReplicaSetStatus{Replicas: rsInt32(0), ObservedGeneration: 4, TerminatingReplicas: rsInt32(0)},
		},
		"unset replicas means 1": {
			rc:         rsTestRC(nil),
			wantCreate: []string{"nginx-aaaaa"},
			wantEvents: []string{"SuccessfulCreate Created pod: nginx-aaaaa"},
			wantStatus: &deploymentv1.ReplicaSetStatus{Replicas: rsInt32(0), ObservedGeneration: 4, TerminatingReplicas: rsInt32(0)},
		},
		"scale down by rank, no co-location": {
			rc: rsTestRC(rsInt32(1)),
			pods: []*corev1.Pod{
				rsTestPod("nginx-old", rsOnNode("node-a"), rsReady(rsAgo(time.Hour))),
				rsTestPod("nginx-crowded", rsOnNode("node-a"), rsReady(rsAgo(time.Hour))),
				rsTestPod("nginx-new", rsOnNode("node-b"), rsReady(rsAgo(time.Hour)), rsCreated(rsAgo(time.Minute))),
			},
			wantDelete: []string{"nginx-new", "nginx-old"},
			wantEvents: []string{"SuccessfulDelete Deleted pod: nginx-new", "SuccessfulDelete Deleted pod: nginx-old"},
			wantStatus: &deploymentv1.ReplicaSetStatus{
				Replicas: rsInt32(3), FullyLabeledReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3,
				ObservedGeneration: 4, TerminatingReplicas: rsInt32(0),
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			plan := ReplicaSetPlanner{NameSuffix: rsSuffixes("aaaaa", "bbbbb")}.PlanReplicationController(tc.rc, tc.pods, rsNow)
			if got := rsPodNames(plan.Create); !slices.Equal(got, tc.wantCreate) {
				t.Errorf("create = %v, want %v", got, tc.wantCreate)
			}
			if got := rsPodNames(plan.Delete); !slices.Equal(got, tc.wantDelete) {
				t.Errorf("delete = %v, want %v", got, tc.wantDelete)
			}
			for _, p := range plan.Create {
				rsCheckProto(t, "ownerReference", p.GetMetadata().GetOwnerReferences()[0], &corev1.OwnerReference{
					ApiVersion: "v1", Kind: "ReplicationController", Name: "nginx", Uid: "rc-uid",
					Controller: &yes, BlockOwnerDeletion: &yes,
				})
				if p.GetMetadata().GetNamespace() != "web" || p.GetMetadata().GetGenerateName() != "nginx-" {
					t.Errorf("pod namespace/generateName = %s/%s", p.GetMetadata().GetNamespace(), p.GetMetadata().GetGenerateName())
				}
			}
			var events []string
			for _, e := range plan.Events {
				events = append(events, e.GetReason()+" "+e.GetMessage())
				rsCheckProto(t, "involvedObject", e.GetInvolvedObject(), &corev1.ObjectReference{
					Kind: "ReplicationController", Namespace: "web", Name: "nginx", Uid: "rc-uid", ApiVersion: "v1", ResourceVersion: "9",
				})
				if e.GetSource().GetComponent() != "replication-controller" {
					t.Errorf("event source = %q", e.GetSource().GetComponent())
				}
			}
			if !slices.Equal(events, tc.wantEvents) {
				t.Errorf("events = %q, want %q", events, tc.wantEvents)
			}
			rsCheckProto(t, "status", plan.Status, tc.wantStatus)
			rsCheckProto(t, "CalculateReplicationControllerStatus",
				CalculateReplicationControllerStatus(tc.rc, tc.pods, nil, rsNow), tc.wantStatus)
		})
	}
}

func TestReplicationControllerEvent(t *testing.T) {
	e := ReplicationControllerEvent(rsTestRC(rsInt32(1)), "Warning", ReasonFailedDelete, "Error deleting: gone", rsNow)
	want := &corev1.Event{
		ApiVersion: "v1",
		Kind:       "Event",
		Metadata:   &corev1.ObjectMeta{Name: "nginx.1828ac0686338000", Namespace: "web"},
		InvolvedObject: &corev1.ObjectReference{
			Kind: "ReplicationController", Namespace: "web", Name: "nginx", Uid: "rc-uid", ApiVersion: "v1", ResourceVersion: "9",
		},
		Reason:             "FailedDelete",
		Message:            "Error deleting: gone",
		Source:             &corev1.EventSource{Component: "replication-controller"},
		FirstTimestamp:     timestamppb.New(rsNow),
		LastTimestamp:      timestamppb.New(rsNow),
		Count:              1,
		Type:               "Warning",
		ReportingComponent: "replication-controller",
	}
	rsCheckProto(t, "event", e, want)
}
