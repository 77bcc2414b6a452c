package reconcile

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// TestFirstSyncCreatesReplicaSet checks every field of the ReplicaSet the
// first sync of a new Deployment creates, and the status it writes.
func TestFirstSyncCreatesReplicaSet(t *testing.T) {
	d := depNew(depSpec{replicas: 3, image: "nginx:1.14.2", minReadySeconds: 2, annotations: map[string]string{
		ChangeCauseAnnotation:       "kubectl create deployment nginx --image=nginx:1.14.2",
		LastAppliedConfigAnnotation: "{}",
		"team":                      "web",
	}})
	stored := proto.Clone(d)
	plan := DeploymentPlanner{Hash: func(*corev1.PodTemplateSpec, *int32) string { return "6c7985744b" }}.Plan(d, nil, nil, depT0)
	if !proto.Equal(d, stored) {
		t.Fatal("Plan modified its input")
	}

	rs := plan.NewReplicaSet
	if rs == nil {
		t.Fatal("no ReplicaSet to create")
	}
	if got := rs.GetMetadata().GetName(); got != "nginx-6c7985744b" {
		t.Fatalf("name %q", got)
	}
	wantLabels := map[string]string{"app": "nginx", "pod-template-hash": "6c7985744b"}
	if !maps.Equal(rs.GetMetadata().GetLabels(), wantLabels) ||
		!maps.Equal(rs.GetSpec().GetSelector().GetMatchLabels(), wantLabels) ||
		!maps.Equal(rs.GetSpec().GetTemplate().GetMetadata().GetLabels(), wantLabels) {
		t.Fatalf("labels %v selector %v template %v", rs.GetMetadata().GetLabels(), rs.GetSpec().GetSelector(), rs.GetSpec().GetTemplate().GetMetadata())
	}
	if got := d.GetSpec().GetTemplate().GetMetadata().GetLabels(); len(got) != 1 {
		t.Fatalf("deployment template labels changed: %v", got)
	}
	wantAnnotations := map[string]string{
		RevisionAnnotation:        "1",
		DesiredReplicasAnnotation: "3",
		MaxReplicasAnnotation:     "4",
		ChangeCauseAnnotation:     "kubectl create deployment nginx --image=nginx:1.14.2",
		"team":                    "web",
	}
	if !maps.Equal(rs.GetMetadata().GetAnnotations(), wantAnnotations) {
		t.Fatalf("annotations %v, want %v", rs.GetMetadata().GetAnnotations(), wantAnnotations)
	}
	refs := rs.GetMetadata().GetOwnerReferences()
	if len(refs) != 1 || refs[0].GetKind() != "Deployment" || refs[0].GetApiVersion() != "apps/v1" || refs[0].GetName() != "nginx" ||
		refs[0].GetUid() != "uid-deploy-nginx" || !refs[0].GetController() || !refs[0].GetBlockOwnerDeletion() {
		t.Fatalf("ownerReferences %v", refs)
	}
	if rs.GetSpec().GetReplicas() != 3 || rs.GetSpec().GetMinReadySeconds() != 2 || rs.GetMetadata().GetNamespace() != "default" {
		t.Fatalf("spec %v", rs.GetSpec())
	}
	if rs.GetApiVersion() != "apps/v1" || rs.GetKind() != "ReplicaSet" || rs.GetStatus() != nil {
		t.Fatalf("apiVersion %q kind %q status %v", rs.GetApiVersion(), rs.GetKind(), rs.GetStatus())
	}
	if !EqualIgnoreHash(rs.GetSpec().GetTemplate(), d.GetSpec().GetTemplate()) {
		t.Fatal("template not copied")
	}

	want := []DeploymentEvent{{Type: "Normal", Reason: "ScalingReplicaSet", Message: "Scaled up replica set nginx-6c7985744b from 0 to 3"}}
	if !slices.Equal(plan.Events, want) {
		t.Fatalf("events %v", plan.Events)
	}
	if !plan.AnnotationsChanged || plan.Annotations[RevisionAnnotation] != "1" || plan.Annotations["team"] != "web" {
		t.Fatalf("deployment annotations %v", plan.Annotations)
	}
	st := plan.Status
	if !plan.StatusChanged || st.GetObservedGeneration() != 1 || st.GetReplicas() != 0 || st.GetUnavailableReplicas() != 3 {
		t.Fatalf("status %v", st)
	}
	depWantConditions(t, st, []depCond{
		{DeploymentProgressing, ConditionTrue, NewReplicaSetReason, `Created new replica set "nginx-6c7985744b"`},
		{DeploymentAvailable, ConditionFalse, MinimumReplicasUnavailable, "Deployment does not have minimum availability."},
	})
	if plan.Requeue != 601*time.Second {
		t.Fatalf("requeue %v, want the progress check after 600s+1s", plan.Requeue)
	}
}

type depCond struct{ typ, status, reason, message string }

func depWantConditions(t *testing.T, st *deploymentv1.DeploymentStatus, want []depCond) {
	t.Helper()
	var got []depCond
	for _, c := range st.GetConditions() {
		got = append(got, depCond{c.GetType(), c.GetStatus(), c.GetReason(), c.GetMessage()})
	}
	if !slices.Equal(got, want) {
		t.Fatalf("conditions\n got %v\nwant %v", got, want)
	}
}

// TestConditionsThroughARollout follows the conditions and their times.
func TestConditionsThroughARollout(t *testing.T) {
	w := newDepWorld(t, depNew(depSpec{replicas: 2, image: "nginx:1.14.2", maxSurge: 1, maxUnavailable: 0}))
	w.settle(50)
	rs1 := w.rsForImage("nginx:1.14.2").GetMetadata().GetName()
	depWantConditions(t, w.d.GetStatus(), []depCond{
		{DeploymentAvailable, ConditionTrue, MinimumReplicasAvailable, "Deployment has minimum availability."},
		{DeploymentProgressing, ConditionTrue, NewRSAvailableReason, fmt.Sprintf("ReplicaSet %q has successfully progressed.", rs1)},
	})
	progressing := GetDeploymentCondition(w.d.GetStatus(), DeploymentProgressing)
	firstTransition := progressing.GetLastTransitionTime().AsTime()

	w.setImage("nginx:1.16.1")
	w.step(time.Second)
	rs2 := w.rsForImage("nginx:1.16.1").GetMetadata().GetName()
	depWantConditions(t, w.d.GetStatus(), []depCond{
		{DeploymentAvailable, ConditionTrue, MinimumReplicasAvailable, "Deployment has minimum availability."},
		{DeploymentProgressing, ConditionTrue, NewReplicaSetReason, fmt.Sprintf("Created new replica set %q", rs2)},
	})
	w.step(time.Second) // the new pod turns Ready: progress
	progressing = GetDeploymentCondition(w.d.GetStatus(), DeploymentProgressing)
	if progressing.GetReason() != ReplicaSetUpdatedReason || progressing.GetMessage() != fmt.Sprintf("ReplicaSet %q is progressing.", rs2) {
		t.Fatalf("Progressing %v", progressing)
	}
	if !progressing.GetLastUpdateTime().AsTime().Equal(w.now) {
		t.Fatalf("lastUpdateTime %v, want %v", progressing.GetLastUpdateTime().AsTime(), w.now)
	}
	if !progressing.GetLastTransitionTime().AsTime().Equal(firstTransition) {
		t.Fatalf("lastTransitionTime moved to %v, want %v (status stayed True)", progressing.GetLastTransitionTime().AsTime(), firstTransition)
	}
	w.settle(50)
	progressing = GetDeploymentCondition(w.d.GetStatus(), DeploymentProgressing)
	if progressing.GetReason() != NewRSAvailableReason || progressing.GetMessage() != fmt.Sprintf("ReplicaSet %q has successfully progressed.", rs2) {
		t.Fatalf("Progressing %v", progressing)
	}
}

// TestProportionalScaling is the example of the Kubernetes docs: 10
// replicas, maxSurge 3, maxUnavailable 2, a rollout stuck on a broken image
// (8 old + 5 new), then scaled to 15: 3 go to the old ReplicaSet, 2 to the new.
func TestProportionalScaling(t *testing.T) {
	w := newDepWorld(t, depNew(depSpec{replicas: 10, image: "nginx:1.14.2", maxSurge: 3, maxUnavailable: 2}))
	w.settle(50)
	w.broken["nginx:sometag"] = true
	w.setImage("nginx:sometag")
	w.settle(50)
	oldRS, newRS := w.rsForImage("nginx:1.14.2"), w.rsForImage("nginx:sometag")
	if specReplicas(oldRS) != 8 || specReplicas(newRS) != 5 {
		t.Fatalf("stuck rollout should be 8 old + 5 new: %s", w.describe())
	}

	tests := map[string]struct {
		replicas         int32
		wantOld, wantNew int32
		wantEvents       []string
	}{
		"scale up to 15 (docs)": {
			replicas: 15, wantOld: 11, wantNew: 7,
			wantEvents: []string{
				"Scaled up replica set " + oldRS.GetMetadata().GetName() + " from 8 to 11",
				"Scaled up replica set " + newRS.GetMetadata().GetName() + " from 5 to 7",
			},
		},
		"scale down to 5": {
			// max 5+3=8 from 13: old 8*8/13=4.9->5, new 5*8/13=3.1->3.
			replicas: 5, wantOld: 5, wantNew: 3,
			wantEvents: []string{
				"Scaled down replica set " + oldRS.GetMetadata().GetName() + " from 8 to 5",
				"Scaled down replica set " + newRS.GetMetadata().GetName() + " from 5 to 3",
			},
		},
		"scale to 0": {
			replicas: 0, wantOld: 0, wantNew: 0,
			wantEvents: []string{
				"Scaled down replica set " + oldRS.GetMetadata().GetName() + " from 8 to 0",
				"Scaled down replica set " + newRS.GetMetadata().GetName() + " from 5 to 0",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := proto.Clone(w.d).(*deploymentv1.Deployment)
			d.Spec.Replicas = proto.Int32(tc.replicas)
			d.Metadata.Generation++
			plan := PlanDeployment(d, w.rss, w.pods, w.now.Add(time.Second))
			sizes := map[string]int32{}
			for _, up := range plan.UpdateReplicaSets {
				sizes[up.GetMetadata().GetName()] = up.GetSpec().GetReplicas()
				maxSurge := int32(3)
				if got := up.GetMetadata().GetAnnotations()[DesiredReplicasAnnotation]; got != fmt.Sprint(tc.replicas) {
					t.Fatalf("desired-replicas %q", got)
				}
				if got := up.GetMetadata().GetAnnotations()[MaxReplicasAnnotation]; got != fmt.Sprint(tc.replicas+maxSurge) && tc.replicas != 0 {
					t.Fatalf("max-replicas %q", got)
				}
			}
			if sizes[oldRS.GetMetadata().GetName()] != tc.wantOld || sizes[newRS.GetMetadata().GetName()] != tc.wantNew {
				t.Fatalf("sizes %v, want old %d new %d", sizes, tc.wantOld, tc.wantNew)
			}
			var got []string
			for _, e := range plan.Events {
				got = append(got, e.Message)
			}
			if !slices.Equal(got, tc.wantEvents) {
				t.Fatalf("events\n got %q\nwant %q", got, tc.wantEvents)
			}
		})
	}
}

// TestScaleCompletedDeployment scales the only active ReplicaSet.
func TestScaleCompletedDeployment(t *testing.T) {
	w := newDepWorld(t, depNew(depSpec{replicas: 3, image: "nginx:1.14.2"}))
	w.settle(50)
	name := w.rsForImage("nginx:1.14.2").GetMetadata().GetName()
	w.scaleTo(5)
	plan := w.step(time.Second)
	if len(plan.Events) != 1 || plan.Events[0].Message != "Scaled up replica set "+name+" from 3 to 5" {
		t.Fatalf("events %v", plan.Events)
	}
	up := plan.UpdateReplicaSets[0]
	if up.GetMetadata().GetAnnotations()[DesiredReplicasAnnotation] != "5" || up.GetMetadata().GetAnnotations()[MaxReplicasAnnotation] != "7" {
		t.Fatalf("annotations %v", up.GetMetadata().GetAnnotations())
	}
	w.settle(50)
	w.scaleTo(2)
	plan = w.step(time.Second)
	if len(plan.Events) != 1 || plan.Events[0].Message != "Scaled down replica set "+name+" from 5 to 2" {
		t.Fatalf("events %v", plan.Events)
	}
	w.settle(50)
	if len(w.pods) != 2 || w.d.GetStatus().GetReplicas() != 2 || w.d.GetStatus().GetObservedGeneration() != 3 {
		t.Fatalf("%s status %v", w.describe(), w.d.GetStatus())
	}
}

// TestPausedDeployment: a paused Deployment scales but never rolls out.
func TestPausedDeployment(t *testing.T) {
	w := newDepWorld(t, depNew(depSpec{replicas: 3, image: "nginx:1.14.2"}))
	w.settle(50)
	name := w.rsForImage("nginx:1.14.2").GetMetadata().GetName()

	w.d.Spec.Paused = true
	w.d.Metadata.Generation++
	w.setImage("nginx:1.16.1")
	plan := w.step(time.Second)
	if plan.NewReplicaSet != nil || len(plan.Events) != 0 {
		t.Fatalf("paused deployment rolled out: %+v", plan)
	}
	cond := GetDeploymentCondition(w.d.GetStatus(), DeploymentProgressing)
	if cond.GetStatus() != ConditionUnknown || cond.GetReason() != PausedDeployReason || cond.GetMessage() != "Deployment is paused" {
		t.Fatalf("Progressing %v", cond)
	}
	if st := w.d.GetStatus(); st.GetUpdatedReplicas() != 0 || st.GetReplicas() != 3 || st.GetObservedGeneration() != 3 {
		t.Fatalf("status %v", st)
	}
	if plan.Requeue != 0 {
		t.Fatalf("requeue %v while paused", plan.Requeue)
	}

	w.scaleTo(5)
	plan = w.step(time.Second)
	if plan.NewReplicaSet != nil || len(plan.Events) != 1 || plan.Events[0].Message != "Scaled up replica set "+name+" from 3 to 5" {
		t.Fatalf("paused scale: %+v", plan.Events)
	}
	w.settle(50)
	if w.rsForImage("nginx:1.16.1") != nil || len(w.pods) != 5 {
		t.Fatalf("paused: %s", w.describe())
	}
	msg, done, err := RolloutStatus(w.d, 0)
	if done || err != nil || msg != `Waiting for deployment "nginx" rollout to finish: 0 out of 5 new replicas have been updated...`+"\n" {
		t.Fatalf("RolloutStatus %q %v %v", msg, done, err)
	}

	// Resume: DeploymentResumed, then the rollout.
	w.d.Spec.Paused = false
	w.d.Metadata.Generation++
	d := proto.Clone(w.d).(*deploymentv1.Deployment)
	s := newSyncer(nil, d, w.rss, w.pods, w.now)
	s.checkPausedConditions()
	cond = GetDeploymentCondition(s.d.GetStatus(), DeploymentProgressing)
	if cond.GetReason() != ResumedDeployReason || cond.GetStatus() != ConditionUnknown || cond.GetMessage() != "Deployment is resumed" {
		t.Fatalf("Progressing after resume %v", cond)
	}
	w.settle(100)
	if rs := w.rsForImage("nginx:1.16.1"); rs == nil || len(w.podsOf(rs)) != 5 || len(w.pods) != 5 {
		t.Fatalf("resumed: %s", w.describe())
	}
}

// TestRevisionReuseOnRollback rolls back to revision 1: its ReplicaSet is
// reused with revision 3 and revision-history "1".
func TestRevisionReuseOnRollback(t *testing.T) {
	w := newDepWorld(t, depNew(depSpec{replicas: 2, image: "nginx:1.14.2", annotations: map[string]string{ChangeCauseAnnotation: "v1"}}))
	w.settle(50)
	w.d.Metadata.Annotations[ChangeCauseAnnotation] = "v2"
	w.setImage("nginx:1.16.1")
	w.settle(50)

	rb, err := PlanRollback(w.d, w.rss, 0)
	if err != nil || rb.Revision != 1 || rb.Skipped || rb.Message != "rolled back" {
		t.Fatalf("PlanRollback = %+v, %v", rb, err)
	}
	if rb.Annotations[ChangeCauseAnnotation] != "v1" || rb.Annotations[RevisionAnnotation] != "2" {
		t.Fatalf("rollback annotations %v", rb.Annotations)
	}
	w.d.Spec.Template = rb.Template
	w.d.Metadata.Annotations = rb.Annotations
	w.d.Metadata.Generation++
	plan := w.step(time.Second)
	if plan.NewReplicaSet != nil {
		t.Fatalf("rollback created a ReplicaSet: %s", plan.NewReplicaSet.GetMetadata().GetName())
	}
	w.settle(50)

	v1 := w.rsForImage("nginx:1.14.2")
	a := v1.GetMetadata().GetAnnotations()
	if a[RevisionAnnotation] != "3" || a[RevisionHistoryAnnotation] != "1" || a[ChangeCauseAnnotation] != "v1" {
		t.Fatalf("reused ReplicaSet annotations %v", a)
	}
	if got := w.d.GetMetadata().GetAnnotations()[RevisionAnnotation]; got != "3" {
		t.Fatalf("deployment revision %q", got)
	}
	if len(w.podsOf(v1)) != 2 || len(w.pods) != 2 {
		t.Fatalf("%s", w.describe())
	}
	var revs []int64
	for _, h := range History(w.d, w.rss) {
		revs = append(revs, h.GetRevision())
	}
	if !slices.Equal(revs, []int64{2, 3}) {
		t.Fatalf("history revisions %v", revs)
	}

	// And back to revision 2: its ReplicaSet becomes 4 with history "2".
	w.d.Spec.Template, _ = RollbackTemplate(w.d, w.rss, 2)
	w.d.Metadata.Generation++
	w.settle(50)
	a = w.rsForImage("nginx:1.16.1").GetMetadata().GetAnnotations()
	if a[RevisionAnnotation] != "4" || a[RevisionHistoryAnnotation] != "2" {
		t.Fatalf("annotations %v", a)
	}
	// ... and to 3 again: history "1,3".
	w.d.Spec.Template, _ = RollbackTemplate(w.d, w.rss, 0)
	w.d.Metadata.Generation++
	w.settle(50)
	a = w.rsForImage("nginx:1.14.2").GetMetadata().GetAnnotations()
	if a[RevisionAnnotation] != "5" || a[RevisionHistoryAnnotation] != "1,3" {
		t.Fatalf("annotations %v", a)
	}
}

// TestRevisionHistoryLimit: completed rollouts delete the oldest old
// ReplicaSets beyond revisionHistoryLimit.
func TestRevisionHistoryLimit(t *testing.T) {
	w := newDepWorld(t, depNew(depSpec{replicas: 2, image: "v1", historyLimit: proto.Int32(2)}))
	w.settle(50)
	for _, image := range []string{"v2", "v3", "v4", "v5"} {
		w.setImage(image)
		w.settle(100)
	}
	var images []string
	for _, rs := range w.rss {
		images = append(images, rs.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetImage())
	}
	slices.Sort(images)
	if !slices.Equal(images, []string{"v3", "v4", "v5"}) {
		t.Fatalf("kept %v, want the current and 2 old revisions", images)
	}
	var deleted []string
	for _, p := range w.plans {
		for _, rs := range p.DeleteReplicaSets {
			deleted = append(deleted, rs.GetMetadata().GetAnnotations()[RevisionAnnotation])
		}
	}
	if !slices.Equal(deleted, []string{"1", "2"}) {
		t.Fatalf("deleted revisions %v, want oldest first", deleted)
	}
}

// TestCleanupDeployment checks which old ReplicaSets a cleanup may delete.
func TestCleanupDeployment(t *testing.T) {
	d := depNew(depSpec{replicas: 1, image: "v9", historyLimit: proto.Int32(1)})
	tests := map[string]struct {
		mutate      func(rss []*deploymentv1.ReplicaSet) []*corev1.Pod
		wantDeleted []string
	}{
		"oldest revisions first": {
			mutate:      func([]*deploymentv1.ReplicaSet) []*corev1.Pod { return nil },
			wantDeleted: []string{"nginx-r1", "nginx-r2"},
		},
		"skip ReplicaSets with replicas": {
			mutate: func(rss []*deploymentv1.ReplicaSet) []*corev1.Pod {
				rss[0].Spec.Replicas = proto.Int32(1)
				return nil
			},
			wantDeleted: []string{"nginx-r2"},
		},
		"skip ReplicaSets with status replicas or pods": {
			mutate: func(rss []*deploymentv1.ReplicaSet) []*corev1.Pod {
				rss[0].Status.Replicas = proto.Int32(1)
				pods := depPods(rss[1], 1, 1)
				pods[0].Metadata.DeletionTimestamp = timestamppb.New(depT0)
				return pods
			},
			wantDeleted: nil,
		},
		"skip unobserved generations and deleting ReplicaSets": {
			mutate: func(rss []*deploymentv1.ReplicaSet) []*corev1.Pod {
				rss[0].Metadata.Generation = 2
				rss[0].Status.ObservedGeneration = 1
				rss[1].Metadata.DeletionTimestamp = timestamppb.New(depT0)
				return nil
			},
			// r2 is deleting, so only r1 and r3 are cleanable: one too many, and r1 is skipped.
			wantDeleted: nil,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var rss []*deploymentv1.ReplicaSet
			for i := 1; i <= 3; i++ {
				rs := depRS(d, fmt.Sprintf("v%d", i), fmt.Sprintf("r%d", i), i, 0, 2)
				rs.Status.Replicas = proto.Int32(0)
				rss = append(rss, rs)
			}
			pods := tc.mutate(rss)
			s := newSyncer(nil, d, rss, pods, depT0)
			s.cleanupDeployment(s.rsList)
			var got []string
			for _, rs := range s.result().DeleteReplicaSets {
				got = append(got, rs.GetMetadata().GetName())
			}
			if !slices.Equal(got, tc.wantDeleted) {
				t.Fatalf("deleted %v, want %v", got, tc.wantDeleted)
			}
		})
	}
}

// TestSelectingAll: an empty selector only gets a warning.
func TestSelectingAll(t *testing.T) {
	d := depNew(depSpec{replicas: 1, image: "nginx"})
	d.Spec.Selector = &corev1.LabelSelector{}
	d.Metadata.Generation = 4
	plan := PlanDeployment(d, nil, nil, depT0)
	want := []DeploymentEvent{{Type: "Warning", Reason: "SelectingAll", Message: "This deployment is selecting all pods. A non-empty selector is required."}}
	if plan.NewReplicaSet != nil || !slices.Equal(plan.Events, want) || plan.Status.GetObservedGeneration() != 4 {
		t.Fatalf("plan %+v", plan)
	}
}

// TestHashCollision: a ReplicaSet of ours already has the computed name but
// another template: collisionCount goes up and nothing is created.
func TestHashCollision(t *testing.T) {
	d := depNew(depSpec{replicas: 1, image: "v2"})
	other := depRS(d, "v1", "abc", 1, 1, 2)
	hash := func(_ *corev1.PodTemplateSpec, c *int32) string {
		if c == nil {
			return "abc"
		}
		return fmt.Sprintf("abc%d", *c)
	}
	plan := DeploymentPlanner{Hash: hash}.Plan(d, depRSs(other), depPods(other, 1, 1), depT0)
	if plan.NewReplicaSet != nil || plan.Status.GetCollisionCount() != 1 || plan.Status.CollisionCount == nil || !plan.Changed() {
		t.Fatalf("plan %+v", plan)
	}
	d.Status = plan.Status
	plan = DeploymentPlanner{Hash: hash}.Plan(d, depRSs(other), depPods(other, 1, 1), depT0)
	if plan.NewReplicaSet.GetMetadata().GetName() != "nginx-abc1" {
		t.Fatalf("after collision: %v", plan.NewReplicaSet.GetMetadata().GetName())
	}
}

// TestDeletingDeploymentOnlySyncsStatus: no scaling once deletion started.
func TestDeletingDeploymentOnlySyncsStatus(t *testing.T) {
	d := depNew(depSpec{replicas: 5, image: "v1"})
	d.Metadata.DeletionTimestamp = timestamppb.New(depT0)
	rs := depRS(d, "v1", "a", 1, 2, 3)
	plan := PlanDeployment(d, depRSs(rs), depPods(rs, 2, 2), depT0)
	if plan.NewReplicaSet != nil || len(plan.UpdateReplicaSets) != 0 || plan.Status.GetReplicas() != 2 {
		t.Fatalf("plan %+v", plan)
	}
}

// TestDefaultHash: stable, template dependent, collision dependent.
func TestDefaultHash(t *testing.T) {
	a := DefaultHash(depTemplate("v1"), nil)
	if a != DefaultHash(depTemplate("v1"), nil) || a == DefaultHash(depTemplate("v2"), nil) || a == DefaultHash(depTemplate("v1"), proto.Int32(1)) {
		t.Fatal("hash not stable or not discriminating")
	}
	for _, r := range a {
		if !slices.Contains([]rune("bcdfghjklmnpqrstvwxz2456789"), r) {
			t.Fatalf("hash %q has unsafe rune %q", a, r)
		}
	}
}

func TestDeploymentEventBuild(t *testing.T) {
	d := depNew(depSpec{replicas: 1, image: "v1"})
	d.Metadata.ResourceVersion = "7"
	e := DeploymentEvent{Type: EventTypeNormal, Reason: "ScalingReplicaSet", Message: "Scaled up replica set nginx-abc from 0 to 1"}.Build(d, depT0, 1)
	ref := e.GetInvolvedObject()
	if ref.GetKind() != "Deployment" || ref.GetApiVersion() != "apps/v1" || ref.GetName() != "nginx" || ref.GetUid() != "uid-deploy-nginx" ||
		ref.GetResourceVersion() != "7" || e.GetMetadata().GetNamespace() != "default" ||
		e.GetMetadata().GetName() != fmt.Sprintf("nginx.%x", depT0.UnixNano()+1) ||
		e.GetSource().GetComponent() != "deployment-controller" || e.GetCount() != 1 || e.GetType() != "Normal" ||
		e.GetReason() != "ScalingReplicaSet" || e.GetMessage() != "Scaled up replica set nginx-abc from 0 to 1" {
		t.Fatalf("event %v", e)
	}
}
