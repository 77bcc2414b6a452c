package chaos

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// monitor watches every pod and Job during the run and checks the invariants that
// only a watch can see: never two pods for one StatefulSet ordinal at once; during a
// Deployment's step never its ReplicaSets' spec.replicas summing above
// replicas+maxSurge (nor, during a roll, fewer ready pods than
// replicas-maxUnavailable); never a pod added to a ReplicaSet beyond its
// spec.replicas; never a CronJob's Job (its name
// carries its minute) made again with another UID; never a Job counting more
// successes than its completions.
type monitor struct {
	cs kubernetes.Interface

	mu sync.Mutex
	// pods by namespace/name, as the watch last reported them.
	pods map[string]*corev1.Pod
	// guards: Deployment (namespace/name) -> bounds of its current step.
	guards map[string]guard
	// found are the violations since the last take.
	found []string
	// relists counts how often the watch had to start over (gateway restarts);
	// events, the pod events it saw (a check that sees nothing proves nothing).
	relists, events int
	// cronJobs: the UID of every Job a CronJob made, by namespace/name (never
	// forgotten: a minute's Job made again after its deletion is a minute run twice).
	cronJobs map[string]types.UID
	// jobEvents counts the Job events the watch saw.
	jobEvents int
	// rss are the ReplicaSets as their watch last reported them.
	rss map[string]*appsv1.ReplicaSet
	// over: ReplicaSets (namespace/name) seen with more live pods than their
	// spec.replicas right after a pod was added, until the ReplicaSet watch covers them.
	over map[string]overCreate
	// now is the clock (tests set it).
	now func() time.Time
}

type guard struct {
	maxPods  int
	minReady int // -1: not checked
}

func newMonitor(cs kubernetes.Interface) *monitor {
	return &monitor{cs: cs, pods: map[string]*corev1.Pod{}, guards: map[string]guard{}, cronJobs: map[string]types.UID{}, rss: map[string]*appsv1.ReplicaSet{},
		over: map[string]overCreate{}, now: time.Now}
}

func (m *monitor) guardDeployment(ns, name string, maxPods, minReady int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.guards[ns+"/"+name] = guard{maxPods: maxPods, minReady: minReady}
}

func (m *monitor) unguard(ns, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.guards, ns+"/"+name)
}

// counts returns the pod events seen, the relists and the Job events seen.
func (m *monitor) counts() (events, relists, jobEvents int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.events, m.relists, m.jobEvents
}

// take returns the violations found since the last call (a pod count the ReplicaSet
// watch has not covered yet is judged once watchLag has passed).
func (m *monitor) take() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.settleOverCreates(m.now())
	out := m.found
	m.found = nil
	return out
}

// run lists and watches pods until ctx ends; a broken watch lists again (the state is
// replaced without checks: events missed meanwhile are not violations).
func (m *monitor) run(ctx context.Context) {
	for ctx.Err() == nil {
		list, err := m.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		m.replace(list.Items)
		rv := list.ResourceVersion
		for ctx.Err() == nil {
			w, err := m.cs.CoreV1().Pods("").Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
			if err != nil {
				break
			}
			rv = m.consume(w)
			if rv == "" {
				break
			}
		}
		m.mu.Lock()
		m.relists++
		m.mu.Unlock()
	}
}

// consume applies a watch's events; it returns the last resourceVersion, or "" when
// the watch must start over from a list.
func (m *monitor) consume(w watch.Interface) string {
	defer w.Stop()
	rv := ""
	for ev := range w.ResultChan() {
		pod, ok := ev.Object.(*corev1.Pod)
		if !ok {
			return "" // an error event (e.g. 410 Gone)
		}
		rv = pod.ResourceVersion
		m.mu.Lock()
		m.events++
		m.mu.Unlock()
		switch ev.Type {
		case watch.Added, watch.Modified:
			m.upsert(pod, ev.Type == watch.Added)
		case watch.Deleted:
			m.mu.Lock()
			delete(m.pods, pod.Namespace+"/"+pod.Name)
			m.mu.Unlock()
		}
	}
	return rv
}

func (m *monitor) replace(pods []corev1.Pod) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pods = map[string]*corev1.Pod{}
	m.over = map[string]overCreate{} // counts made before the gap cannot be judged
	for i := range pods {
		m.pods[pods[i].Namespace+"/"+pods[i].Name] = &pods[i]
	}
}

func (m *monitor) upsert(pod *corev1.Pod, added bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := pod.Namespace + "/" + pod.Name
	prev := m.pods[key]
	m.pods[key] = pod
	if ref := metav1.GetControllerOf(pod); ref != nil && ref.Kind == "StatefulSet" && prev != nil && prev.UID != pod.UID {
		// A StatefulSet pod's name is its ordinal: a new pod of that name while the
		// watch never reported the old one deleted means two pods for one ordinal.
		m.found = append(m.found, fmt.Sprintf("statefulset-ordinal: pod %s (uid %s) %s while pod uid %s was not deleted (%s)",
			key, pod.UID, map[bool]string{true: "added", false: "modified"}[added], prev.UID, ordinal(pod.Name)))
	}
	if added {
		m.checkReplicaSetPods(pod, m.now())
	}
	m.settleOverCreates(m.now())
	m.checkDeployment(pod.Namespace, pod.Labels["app"])
}

func ordinal(name string) string {
	i := strings.LastIndexByte(name, '-')
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return "no ordinal"
	}
	return "ordinal " + name[i+1:]
}

// checkDeployment checks a guarded Deployment's bounds as Kubernetes guarantees them
// (its e2e checkRollingUpdateStatus): the sum of its ReplicaSets' spec.replicas
// (NewRSNewReplicas bounds it) never above replicas+maxSurge, and, during a roll, at
// least replicas-maxUnavailable ready pods. It does not bound the live pods by
// replicas+maxSurge: the deployment controller scales the new ReplicaSet up as soon
// as it has scaled an old one down, and the old one's pods above its spec.replicas
// are deleted afterwards by that ReplicaSet's own sync (terminating pods do not
// count); what bounds the pods is checkReplicaSetPods. The trial's namespace holds
// one Deployment, its ReplicaSets and pods labeled app=<name>.
func (m *monitor) checkDeployment(ns, app string) {
	g, ok := m.guards[ns+"/"+app]
	if !ok {
		return
	}
	ready := 0
	for _, p := range m.pods {
		if p.Namespace != ns || p.Labels["app"] != app || !live(p) {
			continue
		}
		if ref := metav1.GetControllerOf(p); ref == nil || ref.Kind != "ReplicaSet" {
			continue
		}
		if podReady(p) {
			ready++
		}
	}
	specs := 0
	spec := map[string]int32{}
	for _, rs := range m.rss {
		if rs.Namespace == ns && rs.Labels["app"] == app && rs.DeletionTimestamp == nil {
			n := ptr.Deref(rs.Spec.Replicas, 1)
			spec[rs.Name] = n
			specs += int(n)
		}
	}
	if specs > g.maxPods {
		m.found = append(m.found, fmt.Sprintf("deployment-surge: %s/%s's ReplicaSets want %d pods, more than replicas+maxSurge = %d (spec.replicas by ReplicaSet: %v)", ns, app, specs, g.maxPods, spec))
	}
	if g.minReady >= 0 && ready < g.minReady {
		m.found = append(m.found, fmt.Sprintf("deployment-unavailable: %s/%s has %d ready pods during a roll, fewer than replicas-maxUnavailable = %d", ns, app, ready, g.minReady))
	}
}

// watchLag is how long the ReplicaSet watch may trail the pod watch (two streams from
// two services: a pod of a scaled-up ReplicaSet may be reported before the
// ReplicaSet's new spec.replicas, the more so while the deployment service is stopped
// for up to 5 s). A duplicate pod is reported all the same, watchLag later (under its
// namespace, chaos-<seed>, if that is in the next trial).
const watchLag = 10 * time.Second

// overCreate is a pod added to a ReplicaSet that then had more live pods than its
// spec.replicas as last reported, waiting for the ReplicaSet watch to report a
// spec.replicas that covers them.
type overCreate struct {
	rsUID types.UID
	pods  int
	pod   string
	at    time.Time
}

// checkReplicaSetPods: a ReplicaSet controller creates pods only up to its
// spec.replicas (Kubernetes' manageReplicas creates diff = spec - active pods, with
// expectations so that a sync never counts a pod twice), so a pod added to a
// ReplicaSet never leaves it with more live pods than its spec.replicas. Pods above
// spec.replicas are only ever a scaled-down ReplicaSet's pending deletions, already
// there when the spec came down. p has just been added (not by a relist).
func (m *monitor) checkReplicaSetPods(p *corev1.Pod, now time.Time) {
	ref := metav1.GetControllerOf(p)
	if ref == nil || ref.Kind != "ReplicaSet" || !live(p) {
		return
	}
	n := 0
	for _, q := range m.pods {
		if r := metav1.GetControllerOf(q); q.Namespace == p.Namespace && r != nil && r.UID == ref.UID && live(q) {
			n++
		}
	}
	key := p.Namespace + "/" + ref.Name
	if rs := m.rss[key]; rs != nil && rs.UID == ref.UID && n <= int(ptr.Deref(rs.Spec.Replicas, 1)) {
		return
	}
	if o, ok := m.over[key]; !ok || o.rsUID != ref.UID || o.pods < n {
		m.over[key] = overCreate{rsUID: ref.UID, pods: n, pod: p.Name, at: now}
	}
}

// settleOverCreates drops what the ReplicaSet watch has since covered and reports
// what it has not covered within watchLag.
func (m *monitor) settleOverCreates(now time.Time) {
	for key, o := range m.over {
		rs := m.rss[key]
		if rs != nil && rs.UID == o.rsUID && o.pods <= int(ptr.Deref(rs.Spec.Replicas, 1)) {
			delete(m.over, key)
			continue
		}
		if now.Sub(o.at) < watchLag {
			continue
		}
		delete(m.over, key)
		spec := "not reported"
		if rs != nil && rs.UID == o.rsUID {
			spec = fmt.Sprint(ptr.Deref(rs.Spec.Replicas, 1))
		}
		m.found = append(m.found, fmt.Sprintf("replicaset-overcreate: ReplicaSet %s had %d live pods once pod %s was added, more than its spec.replicas (%s, %v later)",
			key, o.pods, o.pod, spec, watchLag))
	}
}

// runReplicaSets lists and watches ReplicaSets until ctx ends, as run does pods.
func (m *monitor) runReplicaSets(ctx context.Context) {
	for ctx.Err() == nil {
		list, err := m.cs.AppsV1().ReplicaSets("").List(ctx, metav1.ListOptions{})
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		m.mu.Lock()
		m.rss = map[string]*appsv1.ReplicaSet{}
		m.over = map[string]overCreate{} // the specs between the two watches are unknown
		for i := range list.Items {
			m.rss[list.Items[i].Namespace+"/"+list.Items[i].Name] = &list.Items[i]
		}
		m.mu.Unlock()
		rv := list.ResourceVersion
		for ctx.Err() == nil {
			w, err := m.cs.AppsV1().ReplicaSets("").Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
			if err != nil {
				break
			}
			if rv = m.consumeReplicaSets(w); rv == "" {
				break
			}
		}
	}
}

func (m *monitor) consumeReplicaSets(w watch.Interface) string {
	defer w.Stop()
	rv := ""
	for ev := range w.ResultChan() {
		rs, ok := ev.Object.(*appsv1.ReplicaSet)
		if !ok {
			return ""
		}
		rv = rs.ResourceVersion
		m.upsertReplicaSet(rs, ev.Type == watch.Deleted)
	}
	return rv
}

func (m *monitor) upsertReplicaSet(rs *appsv1.ReplicaSet, deleted bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := rs.Namespace + "/" + rs.Name
	if deleted {
		delete(m.rss, key)
	} else {
		m.rss[key] = rs
	}
	m.settleOverCreates(m.now())
	m.checkDeployment(rs.Namespace, rs.Labels["app"])
}

// runJobs lists and watches Jobs until ctx ends, as run does pods.
func (m *monitor) runJobs(ctx context.Context) {
	for ctx.Err() == nil {
		list, err := m.cs.BatchV1().Jobs("").List(ctx, metav1.ListOptions{})
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		for i := range list.Items {
			m.checkJob(&list.Items[i])
		}
		rv := list.ResourceVersion
		for ctx.Err() == nil {
			w, err := m.cs.BatchV1().Jobs("").Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
			if err != nil {
				break
			}
			if rv = m.consumeJobs(w); rv == "" {
				break
			}
		}
	}
}

func (m *monitor) consumeJobs(w watch.Interface) string {
	defer w.Stop()
	rv := ""
	for ev := range w.ResultChan() {
		job, ok := ev.Object.(*batchv1.Job)
		if !ok {
			return ""
		}
		rv = job.ResourceVersion
		m.mu.Lock()
		m.jobEvents++
		m.mu.Unlock()
		if ev.Type == watch.Added || ev.Type == watch.Modified {
			m.checkJob(job)
		}
	}
	return rv
}

// checkJob: a CronJob's Job name seen with a second UID is a minute run twice; more
// successes than completions is a completion counted twice.
func (m *monitor) checkJob(job *batchv1.Job) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := job.Namespace + "/" + job.Name
	if ref := metav1.GetControllerOf(job); ref != nil && ref.Kind == "CronJob" {
		if prev, ok := m.cronJobs[key]; ok && prev != job.UID {
			m.found = append(m.found, fmt.Sprintf("cronjob-minute-twice: job %s (minute %s of CronJob %s) made again as uid %s after uid %s",
				key, job.Annotations[batchv1.CronJobScheduledTimestampAnnotation], ref.Name, job.UID, prev))
		}
		m.cronJobs[key] = job.UID
	}
	if c := job.Spec.Completions; c != nil && job.Status.Succeeded > *c {
		m.found = append(m.found, fmt.Sprintf("job-completion-twice: job %s counts %d successes for %d completions", key, job.Status.Succeeded, *c))
	}
}
