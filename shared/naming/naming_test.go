package naming

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

const alphabet = "bcdfghjklmnpqrstvwxz2456789"

func template(labels map[string]string, image string) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		Metadata: &corev1.ObjectMeta{Labels: labels, Annotations: map[string]string{"z": "1", "a": "2", "m": "3"}},
		Spec: &corev1.PodSpec{
			NodeSelector: map[string]string{"disk": "ssd", "zone": "a", "arch": "amd64"},
			Containers: []*corev1.Container{{
				Name:  "c",
				Image: image,
				Resources: &corev1.ResourceRequirements{Limits: map[string]*structpb.Value{
					"cpu":    structpb.NewStringValue("500m"),
					"memory": structpb.NewStringValue("1Gi"),
				}},
			}},
		},
	}
}

func int32p(v int32) *int32 { return &v }

func TestComputeHash(t *testing.T) {
	base := template(map[string]string{"app": "nginx", "tier": "web", "x": "y"}, "nginx:1.23")
	baseHash := ComputeHash(base, nil)
	tests := map[string]struct {
		tmpl      *corev1.PodTemplateSpec
		collision *int32
		wantSame  bool
	}{
		"same template same hash": {
			tmpl:     template(map[string]string{"app": "nginx", "tier": "web", "x": "y"}, "nginx:1.23"),
			wantSame: true,
		},
		"map insertion order does not matter": {
			tmpl:     template(map[string]string{"x": "y", "tier": "web", "app": "nginx"}, "nginx:1.23"),
			wantSame: true,
		},
		"other image": {
			tmpl:     template(map[string]string{"app": "nginx", "tier": "web", "x": "y"}, "nginx:1.24"),
			wantSame: false,
		},
		"other label": {
			tmpl:     template(map[string]string{"app": "nginx", "tier": "db", "x": "y"}, "nginx:1.23"),
			wantSame: false,
		},
		"collision count changes the hash": {
			tmpl:      template(map[string]string{"app": "nginx", "tier": "web", "x": "y"}, "nginx:1.23"),
			collision: int32p(1),
			wantSame:  false,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := ComputeHash(tc.tmpl, tc.collision)
			if (got == baseHash) != tc.wantSame {
				t.Errorf("ComputeHash = %q, base %q, want same = %v", got, baseHash, tc.wantSame)
			}
			for _, r := range got {
				if !strings.ContainsRune(alphabet, r) {
					t.Errorf("hash %q has %q outside the safe alphabet", got, r)
				}
			}
		})
	}
	// repeated calls (fresh map iteration each time) agree
	for i := 0; i < 50; i++ {
		if got := ComputeHash(template(map[string]string{"tier": "web", "app": "nginx", "x": "y"}, "nginx:1.23"), nil); got != baseHash {
			t.Fatalf("run %d: ComputeHash = %q, want %q", i, got, baseHash)
		}
	}
	// collision count 0 differs from nil, and distinct counts differ
	if ComputeHash(base, int32p(0)) == baseHash || ComputeHash(base, int32p(1)) == ComputeHash(base, int32p(2)) {
		t.Errorf("collision count is not part of the hash")
	}
}

// TestComputeHashGolden pins the value so a change of encoding (which would
// rename every ReplicaSet of a running system) is noticed.
func TestComputeHashGolden(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{
		Metadata: &corev1.ObjectMeta{Labels: map[string]string{"app": "nginx"}},
		Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "nginx", Image: "nginx:1.14.2"}}},
	}
	tests := map[string]struct {
		collision *int32
		want      string
	}{
		"no collision count": {want: "5c9bbfc665"},
		"collision count 1":  {collision: int32p(1), want: "6d7f5c8f5b"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ComputeHash(tmpl, tc.collision); got != tc.want {
				t.Errorf("ComputeHash = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestGenerateName(t *testing.T) {
	tests := map[string]struct {
		base     string
		wantBase string
	}{
		"short base":    {base: "nginx-", wantBase: "nginx-"},
		"empty base":    {base: "", wantBase: ""},
		"58 chars kept": {base: strings.Repeat("a", 58), wantBase: strings.Repeat("a", 58)},
		"long base cut": {base: strings.Repeat("b", 70), wantBase: strings.Repeat("b", 58)},
		"59 chars cut":  {base: strings.Repeat("c", 59), wantBase: strings.Repeat("c", 58)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := GenerateName(tc.base)
			if !strings.HasPrefix(got, tc.wantBase) || len(got) != len(tc.wantBase)+RandomLength {
				t.Fatalf("GenerateName(%q) = %q, want %q + 5 chars", tc.base, got, tc.wantBase)
			}
			if len(got) > MaxNameLength {
				t.Errorf("len = %d > %d", len(got), MaxNameLength)
			}
			for _, r := range got[len(tc.wantBase):] {
				if !strings.ContainsRune(alphabet, r) {
					t.Errorf("suffix of %q has %q", got, r)
				}
			}
		})
	}
}

func TestRandomSuffix(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		s := RandomSuffix()
		if len(s) != 5 {
			t.Fatalf("RandomSuffix = %q", s)
		}
		for _, r := range s {
			if !strings.ContainsRune(alphabet, r) {
				t.Fatalf("RandomSuffix %q has %q", s, r)
			}
		}
		seen[s] = true
	}
	if len(seen) < 90 {
		t.Errorf("only %d distinct suffixes of 100", len(seen))
	}
}
