package reconcile

import (
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestRecreateNeverMixesTemplates: old pods (terminating ones included) are
// all gone before the first new pod exists.
func TestRecreateNeverMixesTemplates(t *testing.T) {
	tests := map[string]struct {
		replicas int32
		grace    time.Duration
	}{
		"instant deletion":  {replicas: 3},
		"graceful deletion": {replicas: 4, grace: 2 * time.Second},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := newDepWorld(t, depNew(depSpec{replicas: tc.replicas, image: "v1", strategy: RecreateDeploymentStrategyType}))
			w.grace = tc.grace
			w.settle(50)
			w.check = func(w *depWorld) {
				images := map[string]bool{}
				for _, p := range w.pods {
					images[p.GetSpec().GetContainers()[0].GetImage()] = true
				}
				if len(images) > 1 {
					t.Fatalf("old and new pods at once: %s", w.describe())
				}
			}
			w.setImage("v2")
			plan := w.step(time.Second)
			oldName := w.rsForImage("v1").GetMetadata().GetName()
			if plan.NewReplicaSet != nil || len(plan.Events) != 1 || plan.Events[0].Message != "Scaled down replica set "+oldName+" from "+itoa(tc.replicas)+" to 0" {
				t.Fatalf("first step: new %v events %v", plan.NewReplicaSet, plan.Events)
			}
			if tc.grace > 0 {
				// Old pods are terminating: the next plan waits.
				plan = w.step(0)
				if plan.NewReplicaSet != nil {
					t.Fatal("new ReplicaSet created while old pods terminate")
				}
			}
			w.settle(50)
			newRS := w.rsForImage("v2")
			if newRS == nil || len(w.podsOf(newRS)) != int(tc.replicas) || len(w.pods) != int(tc.replicas) {
				t.Fatalf("%s", w.describe())
			}
			var msgs []string
			for _, e := range w.events {
				msgs = append(msgs, e.Message)
			}
			want := "Scaled up replica set " + newRS.GetMetadata().GetName() + " from 0 to " + itoa(tc.replicas)
			if !slices.Contains(msgs, want) {
				t.Fatalf("events %q lack %q", msgs, want)
			}
			if _, done, _ := RolloutStatus(w.d, 2); !done {
				t.Fatalf("not done: %v", w.d.GetStatus())
			}
		})
	}
}

// TestRecreateAnnotations: Recreate has no surge: max-replicas = replicas.
func TestRecreateAnnotations(t *testing.T) {
	plan := PlanDeployment(depNew(depSpec{replicas: 3, image: "v1", strategy: RecreateDeploymentStrategyType}), nil, nil, depT0)
	a := plan.NewReplicaSet.GetMetadata().GetAnnotations()
	if a[DesiredReplicasAnnotation] != "3" || a[MaxReplicasAnnotation] != "3" || plan.NewReplicaSet.GetSpec().GetReplicas() != 3 {
		t.Fatalf("annotations %v replicas %d", a, plan.NewReplicaSet.GetSpec().GetReplicas())
	}
	// Available needs every replica: maxUnavailable is 0 for Recreate.
	if c := GetDeploymentCondition(plan.Status, DeploymentAvailable); c.GetStatus() != ConditionFalse {
		t.Fatalf("Available %v", c)
	}
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }
