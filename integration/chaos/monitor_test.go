package chaos

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func pod(name, uid, ownerKind string, ready, terminating bool) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(uid),
		Labels:          map[string]string{"app": strings.Split(name, "-")[0]},
		OwnerReferences: []metav1.OwnerReference{{Kind: ownerKind, Name: "owner", UID: "owner-uid", Controller: ptr.To(true)}}}}
	p.Status.Phase = corev1.PodRunning
	if ready {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	}
	if terminating {
		p.DeletionTimestamp = &metav1.Time{}
	}
	return p
}

func TestMonitorStatefulSetOrdinal(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events func(m *monitor)
		want   int
	}{
		{"a new pod after the old one's deletion", func(m *monitor) {
			m.upsert(pod("db-0", "a", "StatefulSet", true, false), true)
			m.upsert(pod("db-0", "a", "StatefulSet", true, true), false)
			delete(m.pods, "ns/db-0")
			m.upsert(pod("db-0", "b", "StatefulSet", false, false), true)
		}, 0},
		{"a new pod while the old one was never deleted", func(m *monitor) {
			m.upsert(pod("db-1", "a", "StatefulSet", true, false), true)
			m.upsert(pod("db-1", "b", "StatefulSet", false, false), true)
		}, 1},
		{"a relist replaces the state without a check", func(m *monitor) {
			m.upsert(pod("db-0", "a", "StatefulSet", true, false), true)
			m.replace([]corev1.Pod{*pod("db-0", "b", "StatefulSet", true, false)})
			m.upsert(pod("db-0", "b", "StatefulSet", true, true), false)
		}, 0},
		{"a ReplicaSet's pods are not ordinals", func(m *monitor) {
			m.upsert(pod("web-x", "a", "ReplicaSet", true, false), true)
			m.upsert(pod("web-x", "b", "ReplicaSet", true, false), true)
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMonitor(nil)
			tc.events(m)
			if got := m.take(); len(got) != tc.want {
				t.Errorf("violations %q, want %d", got, tc.want)
			}
		})
	}
}

func TestMonitorDeploymentBounds(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pods     []*corev1.Pod
		maxPods  int
		minReady int
		want     string
	}{
		{"enough ready during a roll", []*corev1.Pod{pod("web-1", "1", "ReplicaSet", true, false), pod("web-2", "2", "ReplicaSet", true, false), pod("web-3", "3", "ReplicaSet", false, false)}, 3, 2, ""},
		{"live pods alone do not break the surge (their ReplicaSets' spec.replicas do)", []*corev1.Pod{pod("web-1", "1", "ReplicaSet", true, false), pod("web-2", "2", "ReplicaSet", true, false), pod("web-3", "3", "ReplicaSet", false, false)}, 2, -1, ""},
		{"terminating pods are not ready ones", []*corev1.Pod{pod("web-1", "1", "ReplicaSet", true, false), pod("web-2", "2", "ReplicaSet", true, true)}, 2, 2, "deployment-unavailable"},
		{"too few ready during a roll", []*corev1.Pod{pod("web-1", "1", "ReplicaSet", true, false), pod("web-2", "2", "ReplicaSet", false, false)}, 3, 2, "deployment-unavailable"},
		{"readiness not checked while scaling", []*corev1.Pod{pod("web-1", "1", "ReplicaSet", false, false)}, 3, -1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMonitor(nil)
			m.guardDeployment("ns", "web", tc.maxPods, tc.minReady)
			for _, p := range tc.pods {
				m.pods["ns/"+p.Name] = p
			}
			m.checkDeployment("ns", "web")
			got := m.take()
			if tc.want == "" && len(got) > 0 || tc.want != "" && (len(got) == 0 || !strings.HasPrefix(got[0], tc.want+": ")) {
				t.Errorf("violations %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPlanRepeatsFromTheSeed(t *testing.T) {
	seen := map[string]bool{}
	for _, ha := range []bool{false, true} {
		for seed := range uint64(100) {
			a, b := Plan(seed, ha), Plan(seed, ha)
			if a != b {
				t.Fatalf("seed %d planned %q then %q", seed, a, b)
			}
			seen[strings.Fields(a)[1]] = true
			_, f, _ := strings.Cut(a, "fault: ")
			seen[strings.Fields(f)[0]] = true
		}
	}
	for _, kind := range []string{"deployment/web", "statefulset/db", "job/batch", "failing-job/broken", "daemonset/agent", "cronjob/tick", "hpa/scaled",
		"kill-service", "sigstop-service", "kill-gateway", "kill-nats", "kill-postgres", "cut-postgres", "cut-nats", "kill-leader+nats-node"} {
		if !seen[kind] {
			t.Errorf("100 seeds never planned %s", kind)
		}
	}
}

func mkJob(name, uid, ownerKind string, completions *int32, succeeded int32) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(uid)}}
	if ownerKind != "" {
		j.OwnerReferences = []metav1.OwnerReference{{Kind: ownerKind, Name: "tick", UID: "owner-uid", Controller: ptr.To(true)}}
	}
	j.Spec.Completions = completions
	j.Status.Succeeded = succeeded
	return j
}

func TestMonitorJobs(t *testing.T) {
	for _, tc := range []struct {
		name string
		jobs []*batchv1.Job
		want string
	}{
		{"a CronJob's Job seen again", []*batchv1.Job{mkJob("tick-1", "a", "CronJob", ptr.To[int32](1), 0), mkJob("tick-1", "a", "CronJob", ptr.To[int32](1), 1)}, ""},
		{"two minutes", []*batchv1.Job{mkJob("tick-1", "a", "CronJob", ptr.To[int32](1), 1), mkJob("tick-2", "b", "CronJob", ptr.To[int32](1), 0)}, ""},
		{"a minute made again", []*batchv1.Job{mkJob("tick-1", "a", "CronJob", ptr.To[int32](1), 1), mkJob("tick-1", "b", "CronJob", ptr.To[int32](1), 0)}, "cronjob-minute-twice"},
		{"a Job of no CronJob made again (a trial's own)", []*batchv1.Job{mkJob("batch", "a", "", ptr.To[int32](3), 3), mkJob("batch", "b", "", ptr.To[int32](3), 0)}, ""},
		{"successes up to completions", []*batchv1.Job{mkJob("batch", "a", "", ptr.To[int32](3), 3)}, ""},
		{"a success counted twice", []*batchv1.Job{mkJob("batch", "a", "", ptr.To[int32](3), 4)}, "job-completion-twice"},
		{"no completions (a work queue)", []*batchv1.Job{mkJob("batch", "a", "", nil, 4)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMonitor(nil)
			for _, j := range tc.jobs {
				m.checkJob(j)
			}
			found := m.take()
			switch {
			case tc.want == "" && len(found) > 0:
				t.Errorf("found %q, want none", found)
			case tc.want != "" && (len(found) != 1 || !strings.HasPrefix(found[0], tc.want+": ")):
				t.Errorf("found %q, want one %s", found, tc.want)
			}
		})
	}
}

func rsPod(name, rs string) *corev1.Pod {
	p := pod(name, name, "ReplicaSet", true, false)
	p.Labels["app"] = "web"
	p.OwnerReferences[0].Name = rs
	p.OwnerReferences[0].UID = types.UID("uid-" + rs)
	return p
}

func replicaSet(name string, replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(replicas)}}
}

// TestMonitorDeploymentBoundsWithReplicaSets: replicas 5, maxSurge 1. The sum of the
// ReplicaSets' spec.replicas must stay within 6 (Kubernetes' checkRollingUpdateStatus);
// the live pods may be more: a scaled-down ReplicaSet's pods above its spec.replicas
// are its pending deletions, which Kubernetes makes after the new ReplicaSet may have
// scaled up.
func TestMonitorDeploymentBoundsWithReplicaSets(t *testing.T) {
	pods := func(rs string, n int) []*corev1.Pod {
		var out []*corev1.Pod
		for i := range n {
			out = append(out, rsPod(fmt.Sprintf("%s-%d", rs, i), rs))
		}
		return out
	}
	for _, tc := range []struct {
		name string
		rss  []*appsv1.ReplicaSet
		pods []*corev1.Pod
		want string
	}{
		{"within the surge", []*appsv1.ReplicaSet{replicaSet("old", 4), replicaSet("new", 2)}, append(pods("old", 4), pods("new", 2)...), ""},
		{"the old ReplicaSet's pending deletion", []*appsv1.ReplicaSet{replicaSet("old", 4), replicaSet("new", 2)}, append(pods("old", 5), pods("new", 2)...), ""},
		{"the ReplicaSets not seen yet", nil, append(pods("old", 5), pods("new", 2)...), ""},
		{"7 live pods for 6: the old ReplicaSet's pending deletion after the new one scaled up", []*appsv1.ReplicaSet{replicaSet("old", 3), replicaSet("new", 3)}, append(pods("old", 4), pods("new", 3)...), ""},
		{"the new ReplicaSet wants too many", []*appsv1.ReplicaSet{replicaSet("old", 4), replicaSet("new", 3)}, append(pods("old", 4), pods("new", 3)...), "deployment-surge"},
		{"spec.replicas above the surge", []*appsv1.ReplicaSet{replicaSet("old", 5), replicaSet("new", 2)}, append(pods("old", 4), pods("new", 2)...), "deployment-surge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMonitor(nil)
			m.guardDeployment("ns", "web", 6, -1)
			for _, rs := range tc.rss {
				m.rss["ns/"+rs.Name] = rs
			}
			for _, p := range tc.pods {
				m.pods["ns/"+p.Name] = p
			}
			m.checkDeployment("ns", "web")
			got := m.take()
			if tc.want == "" && len(got) > 0 || tc.want != "" && (len(got) == 0 || !strings.HasPrefix(got[0], tc.want+": ")) {
				t.Errorf("violations %q, want %q", got, tc.want)
			}
		})
	}
}

// TestMonitorReplicaSetPods: a pod added to a ReplicaSet never leaves it with more
// live pods than its spec.replicas, once the ReplicaSet watch (which may trail the
// pod watch by up to watchLag) has caught up; pods above a lowered spec.replicas are
// pending deletions, not creations.
func TestMonitorReplicaSetPods(t *testing.T) {
	add := func(m *monitor, name, rs string) { m.upsert(rsPod(name, rs), true) }
	setRS := func(m *monitor, name string, replicas int32) { m.upsertReplicaSet(replicaSet(name, replicas), false) }
	for _, tc := range []struct {
		name   string
		events func(m *monitor, later func(time.Duration))
		want   string
	}{
		{"pods up to spec.replicas", func(m *monitor, later func(time.Duration)) {
			setRS(m, "web-a", 2)
			add(m, "web-a-1", "web-a")
			add(m, "web-a-2", "web-a")
			later(watchLag)
		}, ""},
		{"a pod beyond spec.replicas", func(m *monitor, later func(time.Duration)) {
			setRS(m, "web-a", 2)
			add(m, "web-a-1", "web-a")
			add(m, "web-a-2", "web-a")
			add(m, "web-a-3", "web-a")
			later(watchLag)
		}, "replicaset-overcreate"},
		{"the ReplicaSet watch reports the scale-up after the pod", func(m *monitor, later func(time.Duration)) {
			setRS(m, "web-a", 1)
			add(m, "web-a-1", "web-a")
			add(m, "web-a-2", "web-a")
			later(watchLag / 2)
			setRS(m, "web-a", 2)
			later(watchLag)
		}, ""},
		{"pods before their ReplicaSet is reported", func(m *monitor, later func(time.Duration)) {
			add(m, "web-a-1", "web-a")
			add(m, "web-a-2", "web-a")
			setRS(m, "web-a", 2)
			later(watchLag)
		}, ""},
		{"a ReplicaSet never reported", func(m *monitor, later func(time.Duration)) {
			add(m, "web-a-1", "web-a")
			later(watchLag)
		}, "replicaset-overcreate"},
		{"a scaled-down ReplicaSet's pending deletions", func(m *monitor, later func(time.Duration)) {
			setRS(m, "web-a", 3)
			add(m, "web-a-1", "web-a")
			add(m, "web-a-2", "web-a")
			add(m, "web-a-3", "web-a")
			setRS(m, "web-a", 1)
			later(watchLag)
		}, ""},
		{"a terminating pod's replacement", func(m *monitor, later func(time.Duration)) {
			setRS(m, "web-a", 2)
			add(m, "web-a-1", "web-a")
			add(m, "web-a-2", "web-a")
			gone := rsPod("web-a-1", "web-a")
			gone.DeletionTimestamp = &metav1.Time{}
			m.upsert(gone, false)
			add(m, "web-a-3", "web-a")
			later(watchLag)
		}, ""},
		{"a pod added beyond a lowered spec.replicas", func(m *monitor, later func(time.Duration)) {
			setRS(m, "web-a", 2)
			add(m, "web-a-1", "web-a")
			add(m, "web-a-2", "web-a")
			setRS(m, "web-a", 1)
			add(m, "web-a-3", "web-a")
			later(watchLag)
		}, "replicaset-overcreate"},
		{"a relist between the watches: no judgment", func(m *monitor, later func(time.Duration)) {
			setRS(m, "web-a", 1)
			add(m, "web-a-1", "web-a")
			add(m, "web-a-2", "web-a")
			m.replace([]corev1.Pod{*rsPod("web-a-1", "web-a"), *rsPod("web-a-2", "web-a")})
			later(watchLag)
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMonitor(nil)
			now := time.Unix(1000, 0)
			m.now = func() time.Time { return now }
			var got []string
			tc.events(m, func(d time.Duration) { now = now.Add(d); got = append(got, m.take()...) })
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("found %q, want none", got)
			case tc.want != "" && (len(got) != 1 || !strings.HasPrefix(got[0], tc.want+": ")):
				t.Errorf("found %q, want one %s", got, tc.want)
			}
		})
	}
}
