package reconcile

import (
	"errors"
	"testing"
	"time"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var errTestQuota = errors.New(`pods "frontend-x8kfz" is forbidden: exceeded quota: compute-resources`)

func rsInt32(v int32) *int32 { return &v }

func TestReplicaSetStatus(t *testing.T) {
	staleFailure := &corev1.Condition{
		Type: "ReplicaFailure", Status: "True", Reason: "FailedCreate", Message: "old error",
		LastTransitionTime: timestamppb.New(rsAgo(time.Hour)),
	}
	other := &corev1.Condition{Type: "Other", Status: "True", Reason: "Kept"}
	withStatus := func(s *deploymentv1.ReplicaSetStatus) rsOpt {
		return func(rs *deploymentv1.ReplicaSet) { rs.Status = s }
	}
	tests := map[string]struct {
		rs        *deploymentv1.ReplicaSet
		pods      []*corev1.Pod
		manageErr error
		want      *deploymentv1.ReplicaSetStatus
	}{
		"counts with minReadySeconds": {
			rs: rsTestReplicaSet(5, func(rs *deploymentv1.ReplicaSet) { rs.Spec.MinReadySeconds = 10 }),
			pods: []*corev1.Pod{
				rsTestPod("available", rsReady(rsAgo(30*time.Second))),
				rsTestPod("warming-up", rsReady(rsAgo(4*time.Second))),
				rsTestPod("not-ready"),
				rsTestPod("extra-labels", rsReady(rsAgo(time.Hour)),
					rsLabels(map[string]string{"app": "frontend", "tier": "web", "canary": "yes"})),
				rsTestPod("missing-label", rsLabels(map[string]string{"tier": "web"})),
				rsTestPod("terminating", rsReady(rsAgo(time.Hour)), rsDeleting(rsAgo(time.Second))),
				rsTestPod("failed", rsPhase("Failed")),
				rsTestPod("succeeded", rsPhase("Succeeded")),
				rsTestPod("failed-deleting", rsPhase("Failed"), rsDeleting(rsAgo(time.Second))),
			},
			want: &deploymentv1.ReplicaSetStatus{
				Replicas:             rsInt32(5),
				FullyLabeledReplicas: 4,
				ReadyReplicas:        3,
				AvailableReplicas:    2,
				ObservedGeneration:   2,
				TerminatingReplicas:  rsInt32(1),
			},
		},
		"ready is available at once without minReadySeconds": {
			rs: rsTestReplicaSet(2),
			pods: []*corev1.Pod{
				rsTestPod("just-ready", rsReady(rsNow)),
				rsTestPod("ready-no-time", rsReady(time.Time{})),
			},
			want: &deploymentv1.ReplicaSetStatus{
				Replicas: rsInt32(2), FullyLabeledReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2,
				ObservedGeneration: 2, TerminatingReplicas: rsInt32(0),
			},
		},
		"no pods writes zeros": {
			rs: rsTestReplicaSet(0, withStatus(&deploymentv1.ReplicaSetStatus{Replicas: rsInt32(3), ReadyReplicas: 3, ObservedGeneration: 1})),
			want: &deploymentv1.ReplicaSetStatus{
				Replicas: rsInt32(0), ObservedGeneration: 2, TerminatingReplicas: rsInt32(0),
			},
		},
		"create error sets ReplicaFailure FailedCreate": {
			rs:        rsTestReplicaSet(3, withStatus(&deploymentv1.ReplicaSetStatus{Conditions: []*corev1.Condition{other}})),
			pods:      []*corev1.Pod{rsTestPod("a")},
			manageErr: errTestQuota,
			want: &deploymentv1.ReplicaSetStatus{
				Replicas: rsInt32(1), FullyLabeledReplicas: 1, ObservedGeneration: 2, TerminatingReplicas: rsInt32(0),
				Conditions: []*corev1.Condition{other, {
					Type: "ReplicaFailure", Status: "True", Reason: "FailedCreate", Message: errTestQuota.Error(),
					LastTransitionTime: timestamppb.New(rsNow),
				}},
			},
		},
		"delete error sets ReplicaFailure FailedDelete": {
			rs:        rsTestReplicaSet(0),
			pods:      []*corev1.Pod{rsTestPod("a")},
			manageErr: errors.New("store unavailable"),
			want: &deploymentv1.ReplicaSetStatus{
				Replicas: rsInt32(1), FullyLabeledReplicas: 1, ObservedGeneration: 2, TerminatingReplicas: rsInt32(0),
				Conditions: []*corev1.Condition{{
					Type: "ReplicaFailure", Status: "True", Reason: "FailedDelete", Message: "store unavailable",
					LastTransitionTime: timestamppb.New(rsNow),
				}},
			},
		},
		"error with a ReplicaFailure already set keeps it": {
			rs:        rsTestReplicaSet(3, withStatus(&deploymentv1.ReplicaSetStatus{Conditions: []*corev1.Condition{staleFailure}})),
			manageErr: errTestQuota,
			want: &deploymentv1.ReplicaSetStatus{
				Replicas: rsInt32(0), ObservedGeneration: 2, TerminatingReplicas: rsInt32(0),
				Conditions: []*corev1.Condition{staleFailure},
			},
		},
		"success clears ReplicaFailure and keeps other conditions": {
			rs: rsTestReplicaSet(1, withStatus(&deploymentv1.ReplicaSetStatus{Conditions: []*corev1.Condition{staleFailure, other}})),
			pods: []*corev1.Pod{
				rsTestPod("a"),
			},
			want: &deploymentv1.ReplicaSetStatus{
				Replicas: rsInt32(1), FullyLabeledReplicas: 1, ObservedGeneration: 2, TerminatingReplicas: rsInt32(0),
				Conditions: []*corev1.Condition{other},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			plan := ReplicaSetPlanner{ManageErr: tc.manageErr, NameSuffix: rsSuffixes()}.PlanReplicaSet(tc.rs, tc.pods, nil, rsNow)
			rsCheckProto(t, "plan status", plan.Status, tc.want)
			rsCheckProto(t, "CalculateReplicaSetStatus", CalculateReplicaSetStatus(tc.rs, tc.pods, tc.manageErr, rsNow), tc.want)
		})
	}
}

func TestReplicaSetStatusDoesNotAliasInput(t *testing.T) {
	cond := &corev1.Condition{Type: "Other", Status: "True"}
	rs := rsTestReplicaSet(1, func(rs *deploymentv1.ReplicaSet) {
		rs.Status = &deploymentv1.ReplicaSetStatus{Conditions: []*corev1.Condition{cond}}
	})
	status := CalculateReplicaSetStatus(rs, nil, errTestQuota, rsNow)
	status.Conditions[0].Status = "False"
	if cond.Status != "True" || len(rs.Status.Conditions) != 1 {
		t.Errorf("input status changed: %v", rs.Status)
	}
}
