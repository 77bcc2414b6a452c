package reconcile

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func TestResolveFenceposts(t *testing.T) {
	tests := map[string]struct {
		strategy                   string
		maxSurge, maxUnavailable   any
		replicas                   int32
		wantSurge, wantUnavailable int32
	}{
		"defaults 25% of 10":             {replicas: 10, wantSurge: 3, wantUnavailable: 2},
		"defaults 25% of 1":              {replicas: 1, wantSurge: 1, wantUnavailable: 0},
		"absolute":                       {maxSurge: 3, maxUnavailable: 2, replicas: 10, wantSurge: 3, wantUnavailable: 2},
		"both round to zero":             {maxSurge: "0%", maxUnavailable: "10%", replicas: 5, wantSurge: 0, wantUnavailable: 1},
		"unavailable capped at replicas": {maxSurge: 0, maxUnavailable: 5, replicas: 3, wantSurge: 0, wantUnavailable: 3},
		"zero replicas":                  {maxSurge: 1, maxUnavailable: 1, replicas: 0, wantSurge: 1, wantUnavailable: 0},
		"string integer":                 {maxSurge: "2", maxUnavailable: "1", replicas: 4, wantSurge: 2, wantUnavailable: 1},
		"recreate":                       {strategy: RecreateDeploymentStrategyType, replicas: 4},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := paramsOf(depNew(depSpec{replicas: tc.replicas, image: "x", strategy: tc.strategy, maxSurge: tc.maxSurge, maxUnavailable: tc.maxUnavailable}))
			if got := p.maxSurgeOf(); got != tc.wantSurge {
				t.Fatalf("maxSurge %d, want %d", got, tc.wantSurge)
			}
			if got := p.maxUnavailableOf(); got != tc.wantUnavailable {
				t.Fatalf("maxUnavailable %d, want %d", got, tc.wantUnavailable)
			}
		})
	}
}

func TestEqualIgnoreHash(t *testing.T) {
	withHash := depTemplate("v1")
	withHash.Metadata.Labels[DefaultDeploymentUniqueLabelKey] = "abc"
	bare := &corev1.PodTemplateSpec{Spec: depTemplate("v1").Spec}
	bareHashed := &corev1.PodTemplateSpec{Metadata: &corev1.ObjectMeta{Labels: map[string]string{DefaultDeploymentUniqueLabelKey: "x"}}, Spec: depTemplate("v1").Spec}
	tests := map[string]struct {
		a, b *corev1.PodTemplateSpec
		want bool
	}{
		"hash label ignored":         {a: withHash, b: depTemplate("v1"), want: true},
		"image differs":              {a: withHash, b: depTemplate("v2"), want: false},
		"labels differ":              {a: depTemplate("v1"), b: &corev1.PodTemplateSpec{Metadata: &corev1.ObjectMeta{Labels: map[string]string{"app": "x"}}, Spec: depTemplate("v1").Spec}, want: false},
		"only hash label vs no meta": {a: bareHashed, b: bare, want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := EqualIgnoreHash(tc.a, tc.b); got != tc.want {
				t.Fatalf("EqualIgnoreHash = %v", got)
			}
		})
	}
}

func TestSetNewReplicaSetAnnotations(t *testing.T) {
	long := strings.Repeat("1234,", 399) + "1234" // 1999 chars
	tests := map[string]struct {
		existing    map[string]string
		newRevision int64
		wantChanged bool
		want        map[string]string
	}{
		"first revision": {
			existing: nil, newRevision: 1, wantChanged: true,
			want: map[string]string{RevisionAnnotation: "1", "team": "web"},
		},
		"reuse records the old revision": {
			existing:    map[string]string{RevisionAnnotation: "1", "team": "web"},
			newRevision: 3, wantChanged: true,
			want: map[string]string{RevisionAnnotation: "3", RevisionHistoryAnnotation: "1", "team": "web"},
		},
		"reuse appends to history": {
			existing:    map[string]string{RevisionAnnotation: "3", RevisionHistoryAnnotation: "1", "team": "web"},
			newRevision: 5, wantChanged: true,
			want: map[string]string{RevisionAnnotation: "5", RevisionHistoryAnnotation: "1,3", "team": "web"},
		},
		"compared as numbers": {
			existing:    map[string]string{RevisionAnnotation: "9", "team": "web"},
			newRevision: 10, wantChanged: true,
			want: map[string]string{RevisionAnnotation: "10", RevisionHistoryAnnotation: "9", "team": "web"},
		},
		"never lowered": {
			existing:    map[string]string{RevisionAnnotation: "7", "team": "web"},
			newRevision: 5, wantChanged: false,
			want: map[string]string{RevisionAnnotation: "7", "team": "web"},
		},
		"history bounded to 2000 chars": {
			existing:    map[string]string{RevisionAnnotation: "9999", RevisionHistoryAnnotation: long, "team": "web"},
			newRevision: 10000, wantChanged: true,
			want: map[string]string{RevisionAnnotation: "10000", RevisionHistoryAnnotation: strings.Repeat("1234,", 398) + "1234,9999", "team": "web"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := depNew(depSpec{replicas: 3, image: "x", annotations: map[string]string{"team": "web", RevisionAnnotation: "99"}})
			rs := depRS(d, "x", "h", 1, 3, 4)
			rs.Metadata.Annotations = tc.existing
			changed := setNewReplicaSetAnnotations(d, paramsOf(d), rs, tc.newRevision, true)
			if changed != tc.wantChanged {
				t.Fatalf("changed %v", changed)
			}
			got := rs.GetMetadata().GetAnnotations()
			if len(got) != len(tc.want) {
				t.Fatalf("annotations %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Fatalf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestNewRSNewReplicas(t *testing.T) {
	tests := map[string]struct {
		spec               depSpec
		oldReplicas, newRS int32
		want               int32
	}{
		"fresh deployment goes straight to replicas": {spec: depSpec{replicas: 5, maxSurge: 1}, want: 5},
		"surge room of 1":       {spec: depSpec{replicas: 5, maxSurge: 1, maxUnavailable: 0}, oldReplicas: 5, want: 1},
		"no surge room":         {spec: depSpec{replicas: 5, maxSurge: 1, maxUnavailable: 0}, oldReplicas: 5, newRS: 1, want: 1},
		"room after scale down": {spec: depSpec{replicas: 10, maxSurge: "30%", maxUnavailable: 0}, oldReplicas: 4, newRS: 6, want: 9},
		"never above replicas":  {spec: depSpec{replicas: 4, maxSurge: 10, maxUnavailable: 0}, oldReplicas: 1, newRS: 2, want: 4},
		"recreate":              {spec: depSpec{replicas: 4, strategy: RecreateDeploymentStrategyType}, oldReplicas: 4, want: 4},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.spec.image = "v2"
			d := depNew(tc.spec)
			s := newSyncer(nil, d, nil, nil, depT0)
			old := depRS(d, "v1", "o", 1, tc.oldReplicas, 0)
			newRS := depRS(d, "v2", "n", 2, tc.newRS, 0)
			if got := s.newRSNewReplicas(depRSs(old, newRS), newRS); got != tc.want {
				t.Fatalf("NewRSNewReplicas = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestProportionLeftovers: three ReplicaSets, rounding leaves a leftover
// that goes to the largest one.
func TestProportionLeftovers(t *testing.T) {
	d := depNew(depSpec{replicas: 10, image: "v3", maxSurge: 0, maxUnavailable: 1})
	d.Metadata.Annotations = map[string]string{RevisionAnnotation: "3"}
	// Sized for 10 (maxSurge 0): 4 + 3 + 3.
	a := depRS(d, "v1", "a", 1, 4, 10)
	b := depRS(d, "v2", "b", 2, 3, 10)
	c := depRS(d, "v3", "c", 3, 3, 10)
	d.Spec.Replicas = proto.Int32(11)
	plan := PlanDeployment(d, depRSs(a, b, c), nil, depT0)
	got := map[string]int32{}
	for _, up := range plan.UpdateReplicaSets {
		got[up.GetMetadata().GetName()] = up.GetSpec().GetReplicas()
	}
	// +1 to spread: 4*11/10=4.4->4 (+0), 3.3->3 (+0) twice; the leftover 1 goes to the largest.
	if got["nginx-a"] != 5 || got["nginx-b"] != 3 || got["nginx-c"] != 3 {
		t.Fatalf("sizes %v", got)
	}
}
