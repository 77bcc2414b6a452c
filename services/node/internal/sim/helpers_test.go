package sim

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/node/internal/podstatus"
	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

type podOpts struct {
	restartPolicy string
	command       []string
	annotations   map[string]string
	probeDelay    int32
	deadline      *int64
	tolerations   []*corev1.Toleration
	pullPolicy    string
}

// boundPod is a pod the scheduler bound to node-1 at t0.
func boundPod(o podOpts) *corev1.Pod {
	c := &corev1.Container{Name: "app", Image: "nginx:1.27", Command: o.command, ImagePullPolicy: o.pullPolicy}
	if o.probeDelay > 0 {
		c.ReadinessProbe = &corev1.Probe{InitialDelaySeconds: o.probeDelay}
	}
	grace := int64(30)
	return &corev1.Pod{
		Metadata: &corev1.ObjectMeta{Name: "web", Namespace: "default", Uid: "u1", Annotations: o.annotations,
			CreationTimestamp: timestamppb.New(t0)},
		Spec: &corev1.PodSpec{
			NodeName: "node-1", RestartPolicy: o.restartPolicy, Containers: []*corev1.Container{c},
			TerminationGracePeriodSeconds: &grace, ActiveDeadlineSeconds: o.deadline, Tolerations: o.tolerations,
		},
		Status: &corev1.PodStatus{
			Phase:      podutil.PodPending,
			Conditions: []*corev1.Condition{{Type: podutil.PodScheduled, Status: "True", LastTransitionTime: timestamppb.New(t0)}},
		},
	}
}

func readyNode(taints ...*corev1.Taint) *nodev1.Node {
	return &nodev1.Node{
		Metadata: &corev1.ObjectMeta{Name: "node-1"},
		Spec:     &nodev1.NodeSpec{Taints: taints},
		Status:   &nodev1.NodeStatus{Conditions: []*corev1.Condition{{Type: "Ready", Status: "True"}}},
	}
}

func notReadyNode() *nodev1.Node {
	n := readyNode()
	n.Status.Conditions[0].Status = "Unknown"
	return n
}

// advance runs Next repeatedly at now until nothing changes, as the controller does.
func advance(p *corev1.Pod, n *nodev1.Node, now time.Time, d Delays) (*corev1.Pod, Result) {
	var last Result
	for range 20 {
		r := Next(p, n, now, d)
		if r.Pod == nil || r.Delete {
			if r.Delete {
				return r.Pod, r
			}
			return p, r
		}
		p, last = r.Pod, r
		last.Events = append(last.Events, r.Events...)
	}
	return p, last
}

func containerState(p *corev1.Pod) string {
	cs := p.GetStatus().GetContainerStatuses()
	if len(cs) == 0 {
		return ""
	}
	st := cs[0].GetState()
	switch {
	case st.GetRunning() != nil:
		return "running"
	case st.GetTerminated() != nil:
		return "terminated:" + st.GetTerminated().GetReason()
	case st.GetWaiting() != nil:
		return "waiting:" + st.GetWaiting().GetReason()
	}
	return ""
}

func condStatus(p *corev1.Pod, typ string) string {
	_, c := podutil.GetPodCondition(p.GetStatus(), typ)
	return c.GetStatus()
}

func eventReasons(evs []podstatus.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Reason)
	}
	return out
}
