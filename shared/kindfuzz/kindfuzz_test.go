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

func TestMutate(t *testing.T) {
	doc := []byte("a: 1\nb:\n  c: [x, z]\n")
	tests := map[string]struct {
		at    uint16
		value string
		want  string
	}{
		"no value":           {at: 3, value: "", want: "a: 1\nb:\n  c: [x, z]\n"},
		"root":               {at: 0, value: `{"z":1}`, want: `{"z":1}`},
		"a field":            {at: 1, value: `2`, want: `{"a":2,"b":{"c":["x","z"]}}`},
		"a list element":     {at: 5, value: `not json`, want: `{"a":1,"b":{"c":["x","not json"]}}`},
		"a new field":        {at: 2, value: `+d=[1]`, want: `{"a":1,"b":{"c":["x","z"],"d":[1]}}`},
		"at wraps around":    {at: 6 + 1, value: `null`, want: `{"a":null,"b":{"c":["x","z"]}}`},
		"+ on a scalar sets": {at: 1, value: `+k=v`, want: `{"a":"+k=v","b":{"c":["x","z"]}}`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := string(Mutate(doc, tc.at, tc.value)); got != tc.want {
				t.Errorf("Mutate(%d, %q) = %s, want %s", tc.at, tc.value, got, tc.want)
			}
		})
	}
}
