package reconcile

import (
	"testing"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

func int64p(v int64) *int64 { return &v }

func TestShouldRun(t *testing.T) {
	controlPlane := taint("node-role.kubernetes.io/control-plane", "", EffectNoSchedule)
	maintenance := taint("maintenance", "true", EffectNoExecute)
	affinity := func(op string, values ...string) dsOpt {
		return func(ds *daemonsetv1.DaemonSet) {
			ds.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []*corev1.NodeSelectorTerm{{
					MatchExpressions: []*corev1.NodeSelectorRequirement{{Key: "zone", Operator: op, Values: values}},
				}}}}}
		}
	}
	cases := map[string]struct {
		node                  *nodev1.Node
		ds                    *daemonsetv1.DaemonSet
		wantRun, wantContinue bool
	}{
		"plain node": {node: node("n1", nil), ds: daemonSet(), wantRun: true, wantContinue: true},
		"node selector matches": {node: node("n1", map[string]string{"disktype": "ssd"}),
			ds: daemonSet(withNodeSelector(map[string]string{"disktype": "ssd"})), wantRun: true, wantContinue: true},
		"node selector missing label": {node: node("n1", nil),
			ds: daemonSet(withNodeSelector(map[string]string{"disktype": "ssd"}))},
		"node selector other value": {node: node("n1", map[string]string{"disktype": "hdd"}),
			ds: daemonSet(withNodeSelector(map[string]string{"disktype": "ssd"}))},
		"control-plane taint not tolerated": {node: node("cp", nil, controlPlane), ds: daemonSet(), wantContinue: true},
		"control-plane taint tolerated (Exists, empty operator defaults Equal with empty value)": {node: node("cp", nil, controlPlane),
			ds: daemonSet(withTolerations(&corev1.Toleration{Key: "node-role.kubernetes.io/control-plane", Effect: EffectNoSchedule})), wantRun: true, wantContinue: true},
		"toleration with another effect does not tolerate": {node: node("cp", nil, controlPlane),
			ds: daemonSet(withTolerations(&corev1.Toleration{Key: "node-role.kubernetes.io/control-plane", Operator: OpExists, Effect: EffectNoExecute})), wantContinue: true},
		"empty key Exists tolerates everything": {node: node("n1", nil, controlPlane, maintenance),
			ds: daemonSet(withTolerations(&corev1.Toleration{Operator: OpExists})), wantRun: true, wantContinue: true},
		"NoExecute taint not tolerated evicts": {node: node("n2", nil, maintenance), ds: daemonSet()},
		"NoExecute taint tolerated with Equal": {node: node("n2", nil, maintenance),
			ds: daemonSet(withTolerations(&corev1.Toleration{Key: "maintenance", Operator: OpEqual, Value: "true", Effect: EffectNoExecute})), wantRun: true, wantContinue: true},
		"NoExecute taint with another value": {node: node("n2", nil, maintenance),
			ds: daemonSet(withTolerations(&corev1.Toleration{Key: "maintenance", Operator: OpEqual, Value: "false", Effect: EffectNoExecute}))},
		"tolerationSeconds still tolerates for the decision": {node: node("n2", nil, maintenance),
			ds: daemonSet(withTolerations(&corev1.Toleration{Key: "maintenance", Operator: OpExists, Effect: EffectNoExecute, TolerationSeconds: int64p(30)})), wantRun: true, wantContinue: true},
		"PreferNoSchedule is ignored": {node: node("n1", nil, taint("soft", "", EffectPreferNoSchedule)), ds: daemonSet(), wantRun: true, wantContinue: true},
		"not-ready NoExecute tolerated by the daemon tolerations": {node: node("n1", nil, taint(TaintNodeNotReady, "", EffectNoExecute)),
			ds: daemonSet(), wantRun: true, wantContinue: true},
		"unreachable NoExecute tolerated by the daemon tolerations": {node: node("n1", nil, taint(TaintNodeUnreachable, "", EffectNoExecute)),
			ds: daemonSet(), wantRun: true, wantContinue: true},
		"not-ready NoSchedule is not tolerated (only NoExecute is)": {node: node("n1", nil, taint(TaintNodeNotReady, "", EffectNoSchedule)),
			ds: daemonSet(), wantContinue: true},
		"unschedulable tolerated":   {node: node("n1", nil, taint(TaintNodeUnschedulable, "", EffectNoSchedule)), ds: daemonSet(), wantRun: true, wantContinue: true},
		"disk pressure tolerated":   {node: node("n1", nil, taint(TaintNodeDiskPressure, "", EffectNoSchedule)), ds: daemonSet(), wantRun: true, wantContinue: true},
		"memory pressure tolerated": {node: node("n1", nil, taint(TaintNodeMemoryPressure, "", EffectNoSchedule)), ds: daemonSet(), wantRun: true, wantContinue: true},
		"pid pressure tolerated":    {node: node("n1", nil, taint(TaintNodePIDPressure, "", EffectNoSchedule)), ds: daemonSet(), wantRun: true, wantContinue: true},
		"network unavailable not tolerated without hostNetwork": {node: node("n1", nil, taint(TaintNodeNetworkUnavailable, "", EffectNoSchedule)),
			ds: daemonSet(), wantContinue: true},
		"network unavailable tolerated with hostNetwork": {node: node("n1", nil, taint(TaintNodeNetworkUnavailable, "", EffectNoSchedule)),
			ds: daemonSet(func(ds *daemonsetv1.DaemonSet) { ds.Spec.Template.Spec.HostNetwork = true }), wantRun: true, wantContinue: true},
		"required affinity In matches":              {node: node("n1", map[string]string{"zone": "a"}), ds: daemonSet(affinity("In", "a", "b")), wantRun: true, wantContinue: true},
		"required affinity In does not match":       {node: node("n1", map[string]string{"zone": "c"}), ds: daemonSet(affinity("In", "a", "b"))},
		"required affinity NotIn without the label": {node: node("n1", nil), ds: daemonSet(affinity("NotIn", "a")), wantRun: true, wantContinue: true},
		"required affinity Exists":                  {node: node("n1", nil), ds: daemonSet(affinity("Exists"))},
		"template nodeName elsewhere": {node: node("n1", nil),
			ds: daemonSet(func(ds *daemonsetv1.DaemonSet) { ds.Spec.Template.Spec.NodeName = "n2" })},
		"template nodeName here": {node: node("n1", nil),
			ds: daemonSet(func(ds *daemonsetv1.DaemonSet) { ds.Spec.Template.Spec.NodeName = "n1" }), wantRun: true, wantContinue: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			run, cont := ShouldRun(tc.node, tc.ds)
			if run != tc.wantRun || cont != tc.wantContinue {
				t.Fatalf("ShouldRun = (%v, %v), want (%v, %v)", run, cont, tc.wantRun, tc.wantContinue)
			}
		})
	}
}

func TestAddDaemonPodTolerations(t *testing.T) {
	spec := &corev1.PodSpec{Tolerations: []*corev1.Toleration{
		// What the DefaultTolerationSeconds admission plugin adds: replaced by the forever one.
		{Key: TaintNodeNotReady, Operator: OpExists, Effect: EffectNoExecute, TolerationSeconds: int64p(300)},
		{Key: "mine", Operator: OpExists},
	}}
	AddDaemonPodTolerations(spec)
	if n := len(spec.Tolerations); n != 7 {
		t.Fatalf("got %d tolerations, want 7: %v", n, spec.Tolerations)
	}
	if spec.Tolerations[0].TolerationSeconds != nil {
		t.Errorf("not-ready toleration keeps tolerationSeconds: %v", spec.Tolerations[0])
	}
	AddDaemonPodTolerations(spec)
	if n := len(spec.Tolerations); n != 7 {
		t.Fatalf("not idempotent: %d tolerations", n)
	}
}
