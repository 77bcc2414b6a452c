package reconcile

import (
	"fmt"
	"time"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// rsNow is the "now" of the ReplicaSet tests.
var rsNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// rsAgo is rsNow minus d.
func rsAgo(d time.Duration) time.Time { return rsNow.Add(-d) }

// rsPodOpt changes a test pod.
type rsPodOpt func(*corev1.Pod)

// rsTestPod is a Running, not Ready pod on node-1 named name (uid "uid-<name>"),
// created an hour before rsNow, labelled app=frontend.
func rsTestPod(name string, opts ...rsPodOpt) *corev1.Pod {
	p := &corev1.Pod{
		ApiVersion: "v1",
		Kind:       "Pod",
		Metadata: &corev1.ObjectMeta{
			Name:              name,
			Namespace:         "default",
			Uid:               "uid-" + name,
			Labels:            map[string]string{"app": "frontend", "tier": "web"},
			CreationTimestamp: timestamppb.New(rsAgo(time.Hour)),
		},
		Spec:   &corev1.PodSpec{NodeName: "node-1"},
		Status: &corev1.PodStatus{Phase: "Running"},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func rsOnNode(node string) rsPodOpt { return func(p *corev1.Pod) { p.Spec.NodeName = node } }

func rsPhase(phase string) rsPodOpt { return func(p *corev1.Pod) { p.Status.Phase = phase } }

func rsUID(uid string) rsPodOpt { return func(p *corev1.Pod) { p.Metadata.Uid = uid } }

// rsReady marks the pod Ready since t (zero t: Ready with no transition time).
func rsReady(t time.Time) rsPodOpt {
	return func(p *corev1.Pod) {
		c := &corev1.Condition{Type: "Ready", Status: "True"}
		if !t.IsZero() {
			c.LastTransitionTime = timestamppb.New(t)
		}
		p.Status.Conditions = append(p.Status.Conditions, c)
	}
}

// rsRestarts gives the pod two containers, the second restarted n times.
func rsRestarts(n int32) rsPodOpt {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []*corev1.ContainerStatus{
			{Name: "sidecar", RestartCount: 0},
			{Name: "app", RestartCount: n},
		}
	}
}

// rsCreated sets creationTimestamp (zero t: unset).
func rsCreated(t time.Time) rsPodOpt {
	return func(p *corev1.Pod) {
		p.Metadata.CreationTimestamp = nil
		if !t.IsZero() {
			p.Metadata.CreationTimestamp = timestamppb.New(t)
		}
	}
}

func rsDeleting(t time.Time) rsPodOpt {
	return func(p *corev1.Pod) { p.Metadata.DeletionTimestamp = timestamppb.New(t) }
}

func rsCost(v string) rsPodOpt {
	return func(p *corev1.Pod) {
		if p.Metadata.Annotations == nil {
			p.Metadata.Annotations = map[string]string{}
		}
		p.Metadata.Annotations[PodDeletionCostAnnotation] = v
	}
}

func rsLabels(l map[string]string) rsPodOpt { return func(p *corev1.Pod) { p.Metadata.Labels = l } }

// rsTemplate is the pod template of the test ReplicaSets.
func rsTemplate() *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		Metadata: &corev1.ObjectMeta{
			Labels:      map[string]string{"app": "frontend", "tier": "web"},
			Annotations: map[string]string{"team": "shop"},
		},
		Spec: &corev1.PodSpec{
			RestartPolicy: "Always",
			Containers: []*corev1.Container{{
				Name:  "php-redis",
				Image: "us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v5",
				Ports: []*corev1.ContainerPort{{ContainerPort: 80}},
			}},
		},
	}
}

// rsOpt changes a test ReplicaSet.
type rsOpt func(*deploymentv1.ReplicaSet)

// rsTestReplicaSet is ReplicaSet default/frontend (uid rs-uid, generation 2)
// wanting replicas pods, with no controller.
func rsTestReplicaSet(replicas int32, opts ...rsOpt) *deploymentv1.ReplicaSet {
	rs := &deploymentv1.ReplicaSet{
		ApiVersion: "apps/v1",
		Kind:       "ReplicaSet",
		Metadata: &corev1.ObjectMeta{
			Name:            "frontend",
			Namespace:       "default",
			Uid:             "rs-uid",
			ResourceVersion: "41",
			Generation:      2,
			Labels:          map[string]string{"app": "frontend"},
		},
		Spec: &deploymentv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &corev1.LabelSelector{MatchLabels: map[string]string{"tier": "web"}},
			Template: rsTemplate(),
		},
	}
	for _, o := range opts {
		o(rs)
	}
	return rs
}

// rsOwnedByDeployment gives the ReplicaSet a controller (Deployment frontend).
func rsOwnedByDeployment(rs *deploymentv1.ReplicaSet) {
	yes := true
	rs.Metadata.OwnerReferences = []*corev1.OwnerReference{{
		ApiVersion: "apps/v1", Kind: "Deployment", Name: "frontend", Uid: "deploy-uid", Controller: &yes, BlockOwnerDeletion: &yes,
	}}
}

// rsSuffixes returns a NameSuffix yielding the given suffixes, then "zz<n>".
func rsSuffixes(s ...string) func() string {
	i := 0
	return func() string {
		i++
		if i <= len(s) {
			return s[i-1]
		}
		return fmt.Sprintf("zz%03d", i)
	}
}

// rsPodNames returns the names of pods.
func rsPodNames(pods []*corev1.Pod) []string {
	names := make([]string, 0, len(pods))
	for _, p := range pods {
		names = append(names, p.GetMetadata().GetName())
	}
	return names
}

// rsManyPods returns n Running pods named p000, p001, ...
func rsManyPods(n int) []*corev1.Pod {
	pods := make([]*corev1.Pod, 0, n)
	for i := range n {
		pods = append(pods, rsTestPod(fmt.Sprintf("p%03d", i)))
	}
	return pods
}
