package reconcile

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

var depT0 = time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)

// depSpec describes a test Deployment.
type depSpec struct {
	replicas        int32
	image           string
	strategy        string // "" = RollingUpdate
	maxSurge        any    // int or "25%"; nil = default
	maxUnavailable  any
	minReadySeconds int32
	historyLimit    *int32
	deadline        *int32
	paused          bool
	annotations     map[string]string
}

func depIntOrString(v any) *structpb.Value {
	switch x := v.(type) {
	case nil:
		return nil
	case int:
		return structpb.NewNumberValue(float64(x))
	case string:
		return structpb.NewStringValue(x)
	}
	panic(fmt.Sprintf("bad IntOrString %v", v))
}

func depTemplate(image string) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		Metadata: &corev1.ObjectMeta{Labels: map[string]string{"app": "nginx"}},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{
			Name:  "nginx",
			Image: image,
			Ports: []*corev1.ContainerPort{{ContainerPort: 80}},
		}}},
	}
}

func depNew(s depSpec) *deploymentv1.Deployment {
	d := &deploymentv1.Deployment{
		ApiVersion: "apps/v1",
		Kind:       "Deployment",
		Metadata: &corev1.ObjectMeta{
			Name:        "nginx",
			Namespace:   "default",
			Uid:         "uid-deploy-nginx",
			Generation:  1,
			Annotations: s.annotations,
		},
		Spec: &deploymentv1.DeploymentSpec{
			Replicas:                proto.Int32(s.replicas),
			Selector:                &corev1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}},
			Template:                depTemplate(s.image),
			MinReadySeconds:         s.minReadySeconds,
			RevisionHistoryLimit:    s.historyLimit,
			ProgressDeadlineSeconds: s.deadline,
			Paused:                  s.paused,
			Strategy:                &deploymentv1.DeploymentStrategy{Type: s.strategy},
		},
	}
	if s.maxSurge != nil || s.maxUnavailable != nil {
		d.Spec.Strategy.RollingUpdate = &deploymentv1.RollingUpdateDeployment{
			MaxSurge:       depIntOrString(s.maxSurge),
			MaxUnavailable: depIntOrString(s.maxUnavailable),
		}
	}
	return d
}

// depWorld is a fake cluster: it applies plans, runs a ReplicaSet controller
// that creates and deletes pods at once, and a kubelet that makes a pod Ready
// one step after it was created (unless its image is broken).
type depWorld struct {
	t       *testing.T
	now     time.Time
	d       *deploymentv1.Deployment
	rss     []*deploymentv1.ReplicaSet
	pods    []*corev1.Pod
	planner DeploymentPlanner
	// broken images never become Ready.
	broken map[string]bool
	// grace > 0: a deleted pod terminates (deletionTimestamp set) for this
	// long before it disappears; 0 deletes at once.
	grace  time.Duration
	nextID int
	events []DeploymentEvent
	plans  []DeploymentPlan
	// check runs after every step.
	check func(w *depWorld)
}

func newDepWorld(t *testing.T, d *deploymentv1.Deployment) *depWorld {
	return &depWorld{t: t, now: depT0, d: d, broken: map[string]bool{}}
}

func (w *depWorld) rsByName(name string) *deploymentv1.ReplicaSet {
	for _, rs := range w.rss {
		if rs.GetMetadata().GetName() == name {
			return rs
		}
	}
	return nil
}

// rsForImage returns the ReplicaSet whose template runs image, or nil.
func (w *depWorld) rsForImage(image string) *deploymentv1.ReplicaSet {
	for _, rs := range w.rss {
		if rs.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetImage() == image {
			return rs
		}
	}
	return nil
}

func (w *depWorld) podsOf(rs *deploymentv1.ReplicaSet) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range w.pods {
		if podutil.GetControllerOf(p.GetMetadata()).GetUid() == rs.GetMetadata().GetUid() {
			out = append(out, p)
		}
	}
	return out
}

// step advances the clock, moves pods along, plans and applies once, and
// lets the ReplicaSet controller act. It returns the plan.
func (w *depWorld) step(tick time.Duration) DeploymentPlan {
	w.t.Helper()
	w.now = w.now.Add(tick)
	w.kubelet()
	plan := w.planner.Plan(w.d, slices.Clone(w.rss), slices.Clone(w.pods), w.now)
	w.apply(plan)
	w.replicaSetController()
	if w.check != nil {
		w.check(w)
	}
	return plan
}

// settle steps until a plan changes nothing, asks for no requeue, and every
// pod is settled. A step that only asks for a requeue waits exactly that long.
func (w *depWorld) settle(maxSteps int) {
	w.t.Helper()
	tick := time.Second
	for i := 0; i < maxSteps; i++ {
		plan := w.step(tick)
		tick = time.Second
		if plan.Changed() || !w.quiet() {
			continue
		}
		if plan.Requeue == 0 {
			return
		}
		tick = plan.Requeue
	}
	w.t.Fatalf("no steady state after %d steps: %s", maxSteps, w.describe())
}

// quiet: no pod is waiting to become Ready or to go away, and every
// ReplicaSet has its pods.
func (w *depWorld) quiet() bool {
	for _, p := range w.pods {
		if p.GetMetadata().GetDeletionTimestamp() != nil {
			return false
		}
		if !podutil.IsPodReady(p) && !w.broken[p.GetSpec().GetContainers()[0].GetImage()] {
			return false
		}
	}
	for _, rs := range w.rss {
		if int32(len(w.podsOf(rs))) != specReplicas(rs) {
			return false
		}
	}
	return true
}

func (w *depWorld) kubelet() {
	var kept []*corev1.Pod
	for _, p := range w.pods {
		if ts := p.GetMetadata().GetDeletionTimestamp(); ts != nil && !w.now.Before(ts.AsTime().Add(w.grace)) {
			continue // terminated
		}
		if p.GetStatus().GetPhase() == podutil.PodPending && !w.broken[p.GetSpec().GetContainers()[0].GetImage()] {
			p.Status.Phase = podutil.PodRunning
			p.Status.Conditions = []*corev1.Condition{{
				Type:               podutil.PodReady,
				Status:             ConditionTrue,
				LastTransitionTime: timestamppb.New(w.now),
			}}
		}
		kept = append(kept, p)
	}
	w.pods = kept
}

func (w *depWorld) apply(plan DeploymentPlan) {
	w.plans = append(w.plans, plan)
	w.events = append(w.events, plan.Events...)
	if rs := plan.NewReplicaSet; rs != nil {
		rs = proto.Clone(rs).(*deploymentv1.ReplicaSet)
		if w.rsByName(rs.GetMetadata().GetName()) != nil {
			w.t.Fatalf("plan creates existing ReplicaSet %s", rs.GetMetadata().GetName())
		}
		rs.Metadata.Uid = "uid-" + rs.GetMetadata().GetName()
		rs.Metadata.CreationTimestamp = timestamppb.New(w.now)
		w.rss = append(w.rss, rs)
	}
	for _, up := range plan.UpdateReplicaSets {
		found := false
		for i, rs := range w.rss {
			if rs.GetMetadata().GetName() == up.GetMetadata().GetName() {
				w.rss[i] = proto.Clone(up).(*deploymentv1.ReplicaSet)
				found = true
			}
		}
		if !found {
			w.t.Fatalf("plan updates unknown ReplicaSet %s", up.GetMetadata().GetName())
		}
	}
	for _, del := range plan.DeleteReplicaSets {
		if len(w.podsOf(del)) > 0 {
			w.t.Fatalf("plan deletes ReplicaSet %s that still has pods", del.GetMetadata().GetName())
		}
		w.rss = slices.DeleteFunc(w.rss, func(rs *deploymentv1.ReplicaSet) bool {
			return rs.GetMetadata().GetName() == del.GetMetadata().GetName()
		})
	}
	if plan.AnnotationsChanged {
		w.d.Metadata.Annotations = plan.Annotations
	}
	if plan.StatusChanged {
		w.d.Status = plan.Status
	}
}

// replicaSetController makes each ReplicaSet's active pods match its spec:
// creating Pending pods, deleting not-ready then newest pods first.
func (w *depWorld) replicaSetController() {
	for _, rs := range w.rss {
		var active []*corev1.Pod
		for _, p := range w.podsOf(rs) {
			if podutil.IsPodActive(p) {
				active = append(active, p)
			}
		}
		diff := int(specReplicas(rs)) - len(active)
		for i := 0; i < diff; i++ {
			w.nextID++
			w.pods = append(w.pods, &corev1.Pod{
				Metadata: &corev1.ObjectMeta{
					Name:              fmt.Sprintf("%s-%d", rs.GetMetadata().GetName(), w.nextID),
					Namespace:         "default",
					Uid:               fmt.Sprintf("uid-pod-%d", w.nextID),
					Labels:            rs.GetSpec().GetTemplate().GetMetadata().GetLabels(),
					CreationTimestamp: timestamppb.New(w.now),
					OwnerReferences: []*corev1.OwnerReference{{
						ApiVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.GetMetadata().GetName(),
						Uid: rs.GetMetadata().GetUid(), Controller: proto.Bool(true),
					}},
				},
				Spec:   proto.Clone(rs.GetSpec().GetTemplate().GetSpec()).(*corev1.PodSpec),
				Status: &corev1.PodStatus{Phase: podutil.PodPending},
			})
		}
		if diff >= 0 {
			continue
		}
		slices.SortStableFunc(active, func(a, b *corev1.Pod) int {
			if ra, rb := podutil.IsPodReady(a), podutil.IsPodReady(b); ra != rb {
				if !ra {
					return -1
				}
				return 1
			}
			return b.GetMetadata().GetCreationTimestamp().AsTime().Compare(a.GetMetadata().GetCreationTimestamp().AsTime())
		})
		for _, victim := range active[:-diff] {
			if w.grace > 0 {
				victim.Metadata.DeletionTimestamp = timestamppb.New(w.now)
				continue
			}
			w.pods = slices.DeleteFunc(w.pods, func(p *corev1.Pod) bool { return p == victim })
		}
	}
}

// setImage changes the Deployment's template, as `kubectl set image` does.
func (w *depWorld) setImage(image string) {
	w.d.Spec.Template = depTemplate(image)
	w.d.Metadata.Generation++
}

func (w *depWorld) scaleTo(n int32) {
	w.d.Spec.Replicas = proto.Int32(n)
	w.d.Metadata.Generation++
}

func (w *depWorld) available() int32 {
	var n int32
	for _, p := range w.pods {
		if podutil.IsPodActive(p) && podutil.IsPodAvailable(p, w.d.GetSpec().GetMinReadySeconds(), w.now) {
			n++
		}
	}
	return n
}

func (w *depWorld) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "t=%s", w.now.Sub(depT0))
	for _, rs := range w.rss {
		ready := 0
		for _, p := range w.podsOf(rs) {
			if podutil.IsPodReady(p) {
				ready++
			}
		}
		fmt.Fprintf(&b, " [%s spec=%d pods=%d ready=%d rev=%s]", rs.GetMetadata().GetName(), specReplicas(rs),
			len(w.podsOf(rs)), ready, rs.GetMetadata().GetAnnotations()[RevisionAnnotation])
	}
	return b.String()
}

func (w *depWorld) eventMessages() []string {
	var out []string
	for _, e := range w.events {
		out = append(out, e.Message)
	}
	return out
}

// depRS builds a stored ReplicaSet of d running image, sized replicas, at
// revision, sized for maxReplicas (the max-replicas annotation).
func depRS(d *deploymentv1.Deployment, image, hash string, revision int, replicas, maxReplicas int32) *deploymentv1.ReplicaSet {
	template := depTemplate(image)
	template.Metadata.Labels[DefaultDeploymentUniqueLabelKey] = hash
	return &deploymentv1.ReplicaSet{
		ApiVersion: "apps/v1",
		Kind:       "ReplicaSet",
		Metadata: &corev1.ObjectMeta{
			Name:              "nginx-" + hash,
			Namespace:         "default",
			Uid:               "uid-nginx-" + hash,
			CreationTimestamp: timestamppb.New(depT0.Add(time.Duration(revision) * time.Minute)),
			Labels:            map[string]string{"app": "nginx", DefaultDeploymentUniqueLabelKey: hash},
			Annotations: map[string]string{
				RevisionAnnotation:        fmt.Sprint(revision),
				DesiredReplicasAnnotation: fmt.Sprint(d.GetSpec().GetReplicas()),
				MaxReplicasAnnotation:     fmt.Sprint(maxReplicas),
			},
			OwnerReferences: []*corev1.OwnerReference{{
				ApiVersion: "apps/v1", Kind: "Deployment", Name: "nginx", Uid: d.GetMetadata().GetUid(),
				Controller: proto.Bool(true), BlockOwnerDeletion: proto.Bool(true),
			}},
		},
		Spec: &deploymentv1.ReplicaSetSpec{
			Replicas: proto.Int32(replicas),
			Selector: &corev1.LabelSelector{MatchLabels: map[string]string{"app": "nginx", DefaultDeploymentUniqueLabelKey: hash}},
			Template: template,
		},
		Status: &deploymentv1.ReplicaSetStatus{Replicas: proto.Int32(replicas)},
	}
}

// depPods builds n pods of rs, the first available of them Ready for an hour.
func depPods(rs *deploymentv1.ReplicaSet, n, available int32) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range n {
		p := &corev1.Pod{
			Metadata: &corev1.ObjectMeta{
				Name:              fmt.Sprintf("%s-%d", rs.GetMetadata().GetName(), i),
				Uid:               fmt.Sprintf("uid-%s-%d", rs.GetMetadata().GetName(), i),
				CreationTimestamp: timestamppb.New(depT0),
				OwnerReferences: []*corev1.OwnerReference{{
					ApiVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.GetMetadata().GetName(),
					Uid: rs.GetMetadata().GetUid(), Controller: proto.Bool(true),
				}},
			},
			Spec:   proto.Clone(rs.GetSpec().GetTemplate().GetSpec()).(*corev1.PodSpec),
			Status: &corev1.PodStatus{Phase: podutil.PodPending},
		}
		if i < available {
			p.Status.Phase = podutil.PodRunning
			p.Status.Conditions = []*corev1.Condition{{Type: podutil.PodReady, Status: ConditionTrue, LastTransitionTime: timestamppb.New(depT0)}}
		}
		out = append(out, p)
	}
	return out
}

func depRSs(rss ...*deploymentv1.ReplicaSet) []*deploymentv1.ReplicaSet { return rss }
