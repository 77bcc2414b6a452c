package reconcile

import (
	"fmt"
	"maps"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/shared/naming"
	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
)

// Labels and annotations of daemon pods and revisions, as Kubernetes spells them.
const (
	// HashLabel is apps.DefaultDaemonSetUniqueLabelKey.
	HashLabel = "controller-revision-hash"
	// ChangeCauseAnnotation is what `kubectl rollout history` shows.
	ChangeCauseAnnotation = "kubernetes.io/change-cause"
)

// NewPod is the daemon pod of ds for node: named <ds>-<5 chars>, the template's
// labels plus controller-revision-hash, the daemon tolerations, and bound to the
// node by a required node affinity on metadata.name (Kubernetes'
// ReplaceDaemonSetPodNodeNameNodeAffinity), which the scheduler honours.
func NewPod(ds *daemonsetv1.DaemonSet, node, hash string) *corev1.Pod {
	m := ds.GetMetadata()
	t := ds.GetSpec().GetTemplate()
	labels := maps.Clone(t.GetMetadata().GetLabels())
	if labels == nil {
		labels = map[string]string{}
	}
	labels[HashLabel] = hash
	spec := daemonPodSpec(ds)
	spec.Affinity = replaceNodeNameAffinity(spec.Affinity, node)
	return &corev1.Pod{
		ApiVersion: "v1", Kind: "Pod",
		Metadata: &corev1.ObjectMeta{
			Name:            naming.GenerateName(m.GetName() + "-"),
			Namespace:       m.GetNamespace(),
			Labels:          labels,
			Annotations:     maps.Clone(t.GetMetadata().GetAnnotations()),
			OwnerReferences: []*corev1.OwnerReference{podutil.NewControllerRef(m, "apps/v1", "DaemonSet")},
		},
		Spec: spec,
	}
}

// replaceNodeNameAffinity is util.ReplaceDaemonSetPodNodeNameNodeAffinity: the
// required node affinity becomes the single term metadata.name In [node].
func replaceNodeNameAffinity(a *corev1.Affinity, node string) *corev1.Affinity {
	sel := &corev1.NodeSelector{NodeSelectorTerms: []*corev1.NodeSelectorTerm{{
		MatchFields: []*corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: "In", Values: []string{node}}},
	}}}
	if a == nil {
		a = &corev1.Affinity{}
	}
	if a.NodeAffinity == nil {
		a.NodeAffinity = &corev1.NodeAffinity{}
	}
	a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = sel
	return a
}

// TargetNodeName is util.GetTargetNodeName: spec.nodeName, else the node of the
// metadata.name In [node] affinity term.
func TargetNodeName(p *corev1.Pod) (string, error) {
	if n := p.GetSpec().GetNodeName(); n != "" {
		return n, nil
	}
	terms := p.GetSpec().GetAffinity().GetNodeAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution().GetNodeSelectorTerms()
	for _, t := range terms {
		for _, r := range t.GetMatchFields() {
			if r.GetKey() == "metadata.name" && r.GetOperator() == "In" {
				if len(r.GetValues()) != 1 {
					return "", fmt.Errorf("the matchFields value of %q is not unique for pod %s", r.GetKey(), p.GetMetadata().GetName())
				}
				return r.GetValues()[0], nil
			}
		}
	}
	return "", fmt.Errorf("no node name found for pod %s/%s", p.GetMetadata().GetNamespace(), p.GetMetadata().GetName())
}

// sortPods is podByCreationTimestampAndPhase: scheduled pods first, then oldest
// first, then by name.
func sortPods(pods []*corev1.Pod) {
	sort.SliceStable(pods, func(i, j int) bool {
		a, b := pods[i], pods[j]
		as, bs := a.GetSpec().GetNodeName() != "", b.GetSpec().GetNodeName() != ""
		if as != bs {
			return as
		}
		at, bt := a.GetMetadata().GetCreationTimestamp().AsTime(), b.GetMetadata().GetCreationTimestamp().AsTime()
		if at.Equal(bt) {
			return a.GetMetadata().GetName() < b.GetMetadata().GetName()
		}
		return at.Before(bt)
	})
}

// isUpdated is util.IsPodUpdated by hash.
func isUpdated(p *corev1.Pod, hash string) bool {
	return hash != "" && p.GetMetadata().GetLabels()[HashLabel] == hash
}

// NodesToPods is getNodesToDaemonPods: the pods by their target node, without
// those already terminal and deleted.
func NodesToPods(pods []*corev1.Pod) map[string][]*corev1.Pod {
	out := map[string][]*corev1.Pod{}
	for _, p := range pods {
		if podutil.IsPodTerminal(p) && p.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		node, err := TargetNodeName(p)
		if err != nil {
			continue
		}
		out[node] = append(out[node], p)
	}
	return out
}

func clonePod(p *corev1.Pod) *corev1.Pod { return proto.Clone(p).(*corev1.Pod) }
