package kindfuzz

import "testing"

func TestDocs(t *testing.T) {
	kinds := map[string]int{}
	invalid := 0
	for _, d := range Docs() {
		kinds[d.Kind]++
		if d.Invalid {
			invalid++
		}
	}
	for _, k := range []string{"Deployment", "ReplicaSet", "ReplicationController", "DaemonSet", "StatefulSet", "Job", "CronJob",
		"HorizontalPodAutoscaler", "Service", "Pod", "Endpoints", "PersistentVolumeClaim", "PersistentVolume", "Node", "Load"} {
		if kinds[k] == 0 {
			t.Errorf("no seed document of kind %s", k)
		}
	}
	if invalid != 7 {
		t.Errorf("%d invalid documents, want the 7 of manifests/invalid", invalid)
	}
	if got := len(Docs("autoscaling/v1/HorizontalPodAutoscaler")); got != 1 {
		t.Errorf("Docs(autoscaling/v1/HorizontalPodAutoscaler): %d documents, want 1", got)
	}
}
