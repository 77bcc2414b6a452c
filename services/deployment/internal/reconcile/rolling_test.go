package reconcile

import (
	"testing"
	"time"

	"github.com/podwarden/podwarden/shared/podutil"
)

// TestRollingUpdateInvariants runs whole rolling updates in the fake world
// and checks maxSurge / maxUnavailable after every single step.
func TestRollingUpdateInvariants(t *testing.T) {
	tests := map[string]struct {
		spec         depSpec
		maxPods      int
		minAvailable int32
		grace        time.Duration
	}{
		"5 replicas, maxSurge 1, maxUnavailable 0": {
			spec:         depSpec{replicas: 5, image: "nginx:1.14.2", maxSurge: 1, maxUnavailable: 0},
			maxPods:      6,
			minAvailable: 5,
		},
		"8 replicas, 25% / 25%": {
			spec:         depSpec{replicas: 8, image: "nginx:1.14.2", maxSurge: "25%", maxUnavailable: "25%"},
			maxPods:      10,
			minAvailable: 6,
		},
		"8 replicas, defaults (25% / 25%)": {
			spec:         depSpec{replicas: 8, image: "nginx:1.14.2"},
			maxPods:      10,
			minAvailable: 6,
		},
		"10 replicas, maxSurge 0, maxUnavailable 3": {
			spec:         depSpec{replicas: 10, image: "nginx:1.14.2", maxSurge: 0, maxUnavailable: 3},
			maxPods:      10,
			minAvailable: 7,
		},
		"4 replicas, maxSurge 50%, maxUnavailable 1, graceful deletion": {
			spec:         depSpec{replicas: 4, image: "nginx:1.14.2", maxSurge: "50%", maxUnavailable: 1},
			maxPods:      6,
			minAvailable: 3,
			grace:        2 * time.Second,
		},
		"3 replicas, minReadySeconds 5": {
			spec:         depSpec{replicas: 3, image: "nginx:1.14.2", maxSurge: 1, maxUnavailable: 0, minReadySeconds: 5},
			maxPods:      4,
			minAvailable: 3,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := newDepWorld(t, depNew(tc.spec))
			w.grace = tc.grace
			w.settle(100)
			if got := w.available(); got != tc.spec.replicas {
				t.Fatalf("initial rollout: %d available, want %d (%s)", got, tc.spec.replicas, w.describe())
			}

			steps := 0
			w.check = func(w *depWorld) {
				steps++
				// Terminating pods do not count against maxSurge (as in Kubernetes).
				active := 0
				for _, p := range w.pods {
					if podutil.IsPodActive(p) {
						active++
					}
				}
				if active > tc.maxPods {
					t.Fatalf("step %d: %d pods, more than %d: %s", steps, active, tc.maxPods, w.describe())
				}
				if got := w.available(); got < tc.minAvailable {
					t.Fatalf("step %d: %d available, fewer than %d: %s", steps, got, tc.minAvailable, w.describe())
				}
			}
			w.setImage("nginx:1.16.1")
			w.settle(200)

			newRS := w.rsForImage("nginx:1.16.1")
			oldRS := w.rsForImage("nginx:1.14.2")
			if newRS == nil || oldRS == nil {
				t.Fatalf("want both ReplicaSets: %s", w.describe())
			}
			if got := len(w.podsOf(newRS)); got != int(tc.spec.replicas) || len(w.pods) != int(tc.spec.replicas) {
				t.Fatalf("finished with %d new pods of %d total, want %d new only: %s", got, len(w.pods), tc.spec.replicas, w.describe())
			}
			if specReplicas(oldRS) != 0 {
				t.Fatalf("old ReplicaSet still has %d replicas", specReplicas(oldRS))
			}
			st := w.d.GetStatus()
			if st.GetReplicas() != tc.spec.replicas || st.GetUpdatedReplicas() != tc.spec.replicas ||
				st.GetAvailableReplicas() != tc.spec.replicas || st.GetUnavailableReplicas() != 0 {
				t.Fatalf("final status %v", st)
			}
			if msg, done, err := RolloutStatus(w.d, 0); !done || err != nil {
				t.Fatalf("RolloutStatus = %q, %v, %v", msg, done, err)
			}
			if got := w.d.GetMetadata().GetAnnotations()[RevisionAnnotation]; got != "2" {
				t.Fatalf("deployment revision %q, want 2", got)
			}
			cond := GetDeploymentCondition(st, DeploymentProgressing)
			if cond.GetReason() != NewRSAvailableReason || cond.GetStatus() != ConditionTrue {
				t.Fatalf("Progressing = %v", cond)
			}
		})
	}
}

// TestRolloutEvents checks the exact ScalingReplicaSet sequence of a
// maxSurge 1 / maxUnavailable 0 rollout of 3 replicas.
func TestRolloutEvents(t *testing.T) {
	w := newDepWorld(t, depNew(depSpec{replicas: 3, image: "nginx:1.14.2", maxSurge: 1, maxUnavailable: 0}))
	w.settle(50)
	oldName := w.rsForImage("nginx:1.14.2").GetMetadata().GetName()
	w.setImage("nginx:1.16.1")
	w.settle(50)
	newName := w.rsForImage("nginx:1.16.1").GetMetadata().GetName()
	want := []string{
		"Scaled up replica set " + oldName + " from 0 to 3",
		"Scaled up replica set " + newName + " from 0 to 1",
		"Scaled down replica set " + oldName + " from 3 to 2",
		"Scaled up replica set " + newName + " from 1 to 2",
		"Scaled down replica set " + oldName + " from 2 to 1",
		"Scaled up replica set " + newName + " from 2 to 3",
		"Scaled down replica set " + oldName + " from 1 to 0",
	}
	got := w.eventMessages()
	if len(got) != len(want) {
		t.Fatalf("events\n got %q\nwant %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("event %d: got %q, want %q", i, got[i], want[i])
		}
	}
	for _, e := range w.events {
		if e.Type != EventTypeNormal || e.Reason != "ScalingReplicaSet" {
			t.Fatalf("event %+v", e)
		}
	}
}

// TestRollover changes the template again while the second one is rolling
// out: the second ReplicaSet is abandoned and scaled down, the third wins.
func TestRollover(t *testing.T) {
	w := newDepWorld(t, depNew(depSpec{replicas: 5, image: "nginx:1.14.2", maxSurge: 1, maxUnavailable: 1}))
	w.settle(50)
	w.check = func(w *depWorld) {
		if n := len(w.pods); n > 6 {
			t.Fatalf("%d pods, more than 6: %s", n, w.describe())
		}
		if got := w.available(); got < 4 {
			t.Fatalf("%d available, fewer than 4: %s", got, w.describe())
		}
	}
	w.setImage("nginx:1.16.1")
	for range 2 {
		w.step(time.Second)
	}
	mid := w.rsForImage("nginx:1.16.1")
	if mid == nil || specReplicas(mid) == 0 {
		t.Fatalf("second ReplicaSet should be mid-rollout: %s", w.describe())
	}
	w.setImage("nginx:1.17.0")
	w.settle(100)

	for image, want := range map[string]int32{"nginx:1.14.2": 0, "nginx:1.16.1": 0, "nginx:1.17.0": 5} {
		rs := w.rsForImage(image)
		if rs == nil {
			t.Fatalf("no ReplicaSet for %s", image)
		}
		if specReplicas(rs) != want || int32(len(w.podsOf(rs))) != want {
			t.Fatalf("%s: spec %d pods %d, want %d", image, specReplicas(rs), len(w.podsOf(rs)), want)
		}
	}
	if got := w.rsForImage("nginx:1.17.0").GetMetadata().GetAnnotations()[RevisionAnnotation]; got != "3" {
		t.Fatalf("third ReplicaSet revision %q, want 3", got)
	}
	if got := w.d.GetStatus().GetUpdatedReplicas(); got != 5 {
		t.Fatalf("updatedReplicas %d", got)
	}
}

// TestReconcileOldReplicaSets covers the scale-down arithmetic on single plans.
func TestReconcileOldReplicaSets(t *testing.T) {
	tests := map[string]struct {
		oldReplicas, oldAvailable int32
		newReplicas, newAvailable int32
		maxSurge, maxUnavailable  any
		wantOld                   int32
	}{
		"surge pods available: scale old down by the surplus": {
			oldReplicas: 10, oldAvailable: 10, newReplicas: 3, newAvailable: 3,
			maxSurge: 3, maxUnavailable: 2, wantOld: 5,
		},
		"new pods unavailable: only maxUnavailable": {
			oldReplicas: 10, oldAvailable: 10, newReplicas: 3, newAvailable: 0,
			maxSurge: 3, maxUnavailable: 2, wantOld: 8,
		},
		"stuck: new pods unavailable and old already at minimum": {
			oldReplicas: 8, oldAvailable: 8, newReplicas: 5, newAvailable: 0,
			maxSurge: 3, maxUnavailable: 2, wantOld: 8,
		},
		"unhealthy old pods are removed first": {
			oldReplicas: 10, oldAvailable: 7, newReplicas: 3, newAvailable: 0,
			maxSurge: 3, maxUnavailable: 2, wantOld: 8,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := depNew(depSpec{replicas: 10, image: "v2", maxSurge: tc.maxSurge, maxUnavailable: tc.maxUnavailable})
			d.Metadata.Annotations = map[string]string{RevisionAnnotation: "2"}
			oldRS := depRS(d, "v1", "old", 1, tc.oldReplicas, 13)
			newRS := depRS(d, "v2", "new", 2, tc.newReplicas, 13)
			pods := append(depPods(oldRS, tc.oldReplicas, tc.oldAvailable), depPods(newRS, tc.newReplicas, tc.newAvailable)...)
			plan := PlanDeployment(d, depRSs(oldRS, newRS), pods, depT0.Add(time.Hour))
			got := oldRS.GetSpec().GetReplicas()
			for _, up := range plan.UpdateReplicaSets {
				if up.GetMetadata().GetName() == oldRS.GetMetadata().GetName() {
					got = up.GetSpec().GetReplicas()
				}
			}
			if got != tc.wantOld {
				t.Fatalf("old ReplicaSet scaled to %d, want %d (events %v)", got, tc.wantOld, plan.Events)
			}
		})
	}
}
