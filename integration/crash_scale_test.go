package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/integration/benchutil"
	"github.com/podwarden/podwarden/integration/harness"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// The scale-up under a crash: scaleDeployments Deployments x scaleReplicas pods on as
// many workers (W10's shape, a few thousand pods).
const (
	scaleDeployments = 20
	scaleReplicas    = 100
)

// crashDuringScaleUp creates scaleDeployments x scaleReplicas pods, kills -9 the
// victim service in the middle (the node service once a fifth of the pods run, a
// controller once a tenth exist) and starts it again; the system must
// converge with every Deployment available and no pod duplicated or lost
// (scaleConverged).
func crashDuringScaleUp(t *testing.T, victim string) {
	s := startSystem(t, harness.Options{Nodes: scaleDeployments + 1, Env: []string{"PODWARDEN_LOG_LEVEL=warn"}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	deps := deploymentv1.NewDeploymentServiceClient(s.Conn("deployment"))
	pods := nodev1.NewPodServiceClient(s.Conn("node"))
	total := scaleDeployments * scaleReplicas
	start := time.Now()
	if err := benchutil.Parallel(scaleDeployments, scaleDeployments, func(i int) error {
		name := fmt.Sprintf("scale-%02d", i)
		labels := map[string]string{"app": name}
		_, err := deps.CreateDeployment(ctx, &deploymentv1.CreateDeploymentRequest{Namespace: "default", Deployment: &deploymentv1.Deployment{
			Metadata: &corev1.ObjectMeta{Name: name},
			Spec: &deploymentv1.DeploymentSpec{
				Replicas: proto.Int32(scaleReplicas),
				Selector: &corev1.LabelSelector{MatchLabels: labels},
				Template: &corev1.PodTemplateSpec{Metadata: &corev1.ObjectMeta{Labels: labels},
					Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: "nginx:1.23"}}}},
			},
		}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// The node service dies once a fifth of the pods run (the others being bound and
	// started), the controllers once a tenth exist (the others being created). A
	// one-item page counts them (its remaining item count is the rest).
	selector, want := "status.phase=Running", total/5
	if victim != "node" {
		selector, want = "", total/10
	}
	eventually(t, time.Minute, fmt.Sprintf("%d pods (%q)", want, selector), func() (bool, string) {
		r, err := pods.ListPods(ctx, &nodev1.ListPodsRequest{FieldSelector: selector, Limit: 1, ResourceVersion: "0"})
		if err != nil {
			return false, err.Error()
		}
		n := len(r.GetItems()) + int(r.GetMetadata().GetRemainingItemCount())
		return n >= want, fmt.Sprintf("%d pods", n)
	})
	// The pods Running before the crash must all survive it: none is in excess (the
	// Deployments only grow), so one that goes is lost.
	before := map[string]string{}
	existing := allPods(t, ctx, pods)
	for _, p := range existing {
		if p.GetStatus().GetPhase() == "Running" && p.GetMetadata().GetDeletionTimestamp() == nil {
			before[p.GetMetadata().GetUid()] = p.GetMetadata().GetName()
		}
	}
	s.Kill(victim)
	t.Logf("killed %s %v after the create, with %d of %d pods created, %d Running", victim, time.Since(start).Round(time.Millisecond), len(existing), total, len(before))
	if _, err := s.StartService(victim, 0); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	scaleConverged(t, ctx, s, before)
	t.Logf("converged %v after the restart of %s (%v in all)", time.Since(restarted).Round(time.Millisecond), victim, time.Since(start).Round(time.Millisecond))
}

// allPods lists every pod, page by page.
func allPods(t *testing.T, ctx context.Context, pods nodev1.PodServiceClient) []*corev1.Pod {
	t.Helper()
	items, err := benchutil.ListAll(func(cont string) ([]*corev1.Pod, string, error) {
		r, err := pods.ListPods(ctx, &nodev1.ListPodsRequest{Limit: 1000, Continue: cont}, grpc.MaxCallRecvMsgSize(64<<20))
		return r.GetItems(), r.GetMetadata().GetContinue(), err
	})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// scaleConverged waits until every Deployment is available with all its replicas,
// then checks that the pods are exactly what the ReplicaSets want: names unique,
// every pod controlled by a live ReplicaSet, no ReplicaSet with more (a duplicate)
// or fewer pods than its replicas, every pod Running and Ready, and every pod of
// before (uid: name) still there.
func scaleConverged(t *testing.T, ctx context.Context, s *harness.System, before map[string]string) {
	t.Helper()
	deps := deploymentv1.NewDeploymentServiceClient(s.Conn("deployment"))
	rsets := deploymentv1.NewReplicaSetServiceClient(s.Conn("deployment"))
	pods := nodev1.NewPodServiceClient(s.Conn("node"))
	eventually(t, 2*time.Minute, "every Deployment available", func() (bool, string) {
		r, err := deps.ListDeployments(ctx, &deploymentv1.ListDeploymentsRequest{Namespace: "default"})
		if err != nil {
			return false, err.Error()
		}
		done, ready := 0, int32(0)
		for _, d := range r.GetItems() {
			st := d.GetStatus()
			ready += st.GetReadyReplicas()
			if st.GetObservedGeneration() == d.GetMetadata().GetGeneration() && st.GetReplicas() == scaleReplicas &&
				st.GetUpdatedReplicas() == scaleReplicas && st.GetReadyReplicas() == scaleReplicas && st.GetAvailableReplicas() == scaleReplicas {
				done++
			}
		}
		time.Sleep(200 * time.Millisecond) // a few thousand pods: poll gently
		return done == scaleDeployments, fmt.Sprintf("%d/%d Deployments available, %d pods ready", done, scaleDeployments, ready)
	})
	// The ReplicaSets' status may lag the pods for a moment (a duplicate is created
	// and then deleted): check until it holds, and report what did not.
	eventually(t, 30*time.Second, "exactly the ReplicaSets' pods", func() (bool, string) {
		time.Sleep(200 * time.Millisecond)
		list, err := rsets.ListReplicaSets(ctx, &deploymentv1.ListReplicaSetsRequest{Namespace: "default"})
		if err != nil {
			return false, err.Error()
		}
		want := map[string]int32{} // ReplicaSet uid: replicas
		names := map[string]string{}
		for _, rs := range list.GetItems() {
			want[rs.GetMetadata().GetUid()] = rs.GetSpec().GetReplicas()
			names[rs.GetMetadata().GetUid()] = rs.GetMetadata().GetName()
		}
		if len(want) != scaleDeployments {
			return false, fmt.Sprintf("%d ReplicaSets, want one per Deployment", len(want))
		}
		return podsMatch(allPods(t, ctx, pods), want, names, before)
	})
}

// podsMatch is scaleConverged's check of the pods against the ReplicaSets (uid:
// replicas, uid: name) and the pods Running before the crash.
func podsMatch(pods []*corev1.Pod, want map[string]int32, rsNames map[string]string, before map[string]string) (bool, string) {
	seen := map[string]bool{}
	uids := map[string]bool{}
	have := map[string]int32{}
	for _, p := range pods {
		m := p.GetMetadata()
		if seen[m.GetName()] {
			return false, "two pods named " + m.GetName()
		}
		seen[m.GetName()], uids[m.GetUid()] = true, true
		owner := ""
		for _, o := range m.GetOwnerReferences() {
			if o.GetController() {
				owner = o.GetUid()
			}
		}
		if _, ok := want[owner]; !ok {
			return false, fmt.Sprintf("pod %s has no live owner (controller %q)", m.GetName(), owner)
		}
		if m.GetDeletionTimestamp() != nil {
			return false, fmt.Sprintf("pod %s of %s is terminating", m.GetName(), rsNames[owner])
		}
		ready := false
		for _, c := range p.GetStatus().GetConditions() {
			ready = ready || c.GetType() == "Ready" && c.GetStatus() == "True"
		}
		if p.GetStatus().GetPhase() != "Running" || !ready {
			return false, fmt.Sprintf("pod %s of %s is %s, ready %v", m.GetName(), rsNames[owner], p.GetStatus().GetPhase(), ready)
		}
		have[owner]++
	}
	for uid, n := range want {
		if have[uid] != n {
			return false, fmt.Sprintf("ReplicaSet %s has %d pods, wants %d", rsNames[uid], have[uid], n)
		}
	}
	for uid, name := range before {
		if !uids[uid] {
			return false, fmt.Sprintf("pod %s, Running before the crash, is lost", name)
		}
	}
	return true, ""
}

// TestKillNodeServiceMidScaleUp: kill -9 the node service (scheduler, kubelet, pod
// API) while 2,000 pods are being created and bound (once 400 run).
func TestKillNodeServiceMidScaleUp(t *testing.T) { crashDuringScaleUp(t, "node") }

// TestKillDeploymentServiceMidScaleUp: kill -9 the Deployment and ReplicaSet
// controllers while they create 2,000 pods (once 200 exist).
func TestKillDeploymentServiceMidScaleUp(t *testing.T) { crashDuringScaleUp(t, "deployment") }

// TestPodsMatch: scaleConverged's check finds a duplicate, a lost pod, an orphan, a
// name twice, a terminating or unready pod.
func TestPodsMatch(t *testing.T) {
	pod := func(name, uid, owner string, mods ...func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{
			Metadata: &corev1.ObjectMeta{Name: name, Uid: uid, OwnerReferences: []*corev1.OwnerReference{{Kind: "ReplicaSet", Uid: owner, Controller: proto.Bool(true)}}},
			Status:   &corev1.PodStatus{Phase: "Running", Conditions: []*corev1.Condition{{Type: "Ready", Status: "True"}}},
		}
		for _, m := range mods {
			m(p)
		}
		return p
	}
	want := map[string]int32{"rs-a": 2, "rs-b": 1}
	names := map[string]string{"rs-a": "a", "rs-b": "b"}
	good := []*corev1.Pod{pod("a-1", "1", "rs-a"), pod("a-2", "2", "rs-a"), pod("b-1", "3", "rs-b")}
	for _, tc := range []struct {
		name   string
		pods   []*corev1.Pod
		before map[string]string
		ok     bool
	}{
		{"exactly the replicas", good, map[string]string{"1": "a-1"}, true},
		{"a duplicate", append(good[:3:3], pod("a-3", "4", "rs-a")), nil, false},
		{"a pod too few", good[:2], nil, false},
		{"a pod lost though the count holds", []*corev1.Pod{pod("a-1", "1", "rs-a"), pod("a-9", "9", "rs-a"), pod("b-1", "3", "rs-b")}, map[string]string{"2": "a-2"}, false},
		{"an orphan", append(good[:3:3], pod("x-1", "5", "rs-gone")), nil, false},
		{"no controller", append(good[:3:3], pod("x-1", "5", "rs-a", func(p *corev1.Pod) { p.Metadata.OwnerReferences = nil })), nil, false},
		{"a name twice", []*corev1.Pod{pod("a-1", "1", "rs-a"), pod("a-1", "2", "rs-a"), pod("b-1", "3", "rs-b")}, nil, false},
		{"terminating", []*corev1.Pod{pod("a-1", "1", "rs-a"), pod("a-2", "2", "rs-a", func(p *corev1.Pod) { p.Metadata.DeletionTimestamp = timestamppb.Now() }), pod("b-1", "3", "rs-b")}, nil, false},
		{"not ready", []*corev1.Pod{pod("a-1", "1", "rs-a"), pod("a-2", "2", "rs-a", func(p *corev1.Pod) { p.Status.Conditions = nil }), pod("b-1", "3", "rs-b")}, nil, false},
		{"pending", []*corev1.Pod{pod("a-1", "1", "rs-a"), pod("a-2", "2", "rs-a", func(p *corev1.Pod) { p.Status.Phase = "Pending" }), pod("b-1", "3", "rs-b")}, nil, false},
	} {
		if ok, why := podsMatch(tc.pods, want, names, tc.before); ok != tc.ok {
			t.Errorf("%s: podsMatch = %v (%s), want %v", tc.name, ok, why, tc.ok)
		}
	}
}
