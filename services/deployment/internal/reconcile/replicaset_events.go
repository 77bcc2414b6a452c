package reconcile

import (
	"fmt"
	"time"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The event type and reasons Kubernetes' pod control records on the owner.
const (
	rsEventNormal  = "Normal"
	rsEventWarning = "Warning"

	ReasonSuccessfulCreate = "SuccessfulCreate"
	ReasonSuccessfulDelete = "SuccessfulDelete"
)

// ReplicaSetEvent builds an event about rs as Kubernetes' recorder does
// (source replicaset-controller, count 1, first and last timestamp now, name
// "<rs>.<hex nanoseconds>"). Use it for the Warning events of a failed apply:
// FailedCreate "Error creating: <err>", FailedDelete "Error deleting: <err>".
func ReplicaSetEvent(rs *deploymentv1.ReplicaSet, eventType, reason, message string, now time.Time) *corev1.Event {
	return replicaOwnerEvent(replicaSetOwner(rs), eventType, reason, message, now, 0)
}

// ReplicationControllerEvent is ReplicaSetEvent for rc (source replication-controller).
func ReplicationControllerEvent(rc *deploymentv1.ReplicationController, eventType, reason, message string, now time.Time) *corev1.Event {
	return replicaOwnerEvent(replicationControllerOwner(rc), eventType, reason, message, now, 0)
}

// replicaActionEvents are the SuccessfulCreate/SuccessfulDelete events of a plan.
func replicaActionEvents(o replicaOwner, create, del []*corev1.Pod, now time.Time) []*corev1.Event {
	var events []*corev1.Event
	for _, pod := range create {
		events = append(events, replicaOwnerEvent(o, rsEventNormal, ReasonSuccessfulCreate,
			"Created pod: "+podEventName(pod), now, len(events)))
	}
	for _, pod := range del {
		events = append(events, replicaOwnerEvent(o, rsEventNormal, ReasonSuccessfulDelete,
			"Deleted pod: "+podEventName(pod), now, len(events)))
	}
	return events
}

func podEventName(pod *corev1.Pod) string {
	if name := pod.GetMetadata().GetName(); name != "" {
		return name
	}
	return pod.GetMetadata().GetGenerateName()
}

// replicaOwnerEvent builds one event; seq keeps names unique within a plan.
func replicaOwnerEvent(o replicaOwner, eventType, reason, message string, now time.Time, seq int) *corev1.Event {
	ts := timestamppb.New(now)
	return &corev1.Event{
		ApiVersion: "v1",
		Kind:       "Event",
		Metadata: &corev1.ObjectMeta{
			Name:      fmt.Sprintf("%s.%x", o.meta.GetName(), now.UnixNano()+int64(seq)),
			Namespace: o.meta.GetNamespace(),
		},
		InvolvedObject: &corev1.ObjectReference{
			Kind:            o.kind,
			Namespace:       o.meta.GetNamespace(),
			Name:            o.meta.GetName(),
			Uid:             o.meta.GetUid(),
			ApiVersion:      o.apiVersion,
			ResourceVersion: o.meta.GetResourceVersion(),
		},
		Reason:             reason,
		Message:            message,
		Source:             &corev1.EventSource{Component: o.component},
		FirstTimestamp:     ts,
		LastTimestamp:      ts,
		Count:              1,
		Type:               eventType,
		ReportingComponent: o.component,
	}
}
