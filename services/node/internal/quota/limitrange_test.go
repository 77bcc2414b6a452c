package quota

import (
	"testing"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func limitRange(items ...*corev1.LimitRangeItem) *corev1.LimitRange {
	lr := &corev1.LimitRange{Metadata: &corev1.ObjectMeta{Name: "lr"}, Spec: &corev1.LimitRangeSpec{Limits: items}}
	DefaultLimitRange(lr)
	return lr
}

func TestApplyLimitRanges(t *testing.T) {
	cases := map[string]struct {
		lr             *corev1.LimitRange
		pod            *corev1.Pod
		wantErr        string
		wantReq        string
		wantLim        string
		wantAnnotation string
	}{
		"defaults fill what is unset": {
			lr:             limitRange(&corev1.LimitRangeItem{Type: "Container", Default: rl("cpu", "500m", "memory", "256Mi"), DefaultRequest: rl("cpu", "250m")}),
			pod:            pod("p", container("web", nil, rl("memory", "128Mi"))),
			wantReq:        "cpu=250m,memory=256Mi",
			wantLim:        "cpu=500m,memory=128Mi",
			wantAnnotation: "LimitRanger plugin set: cpu, memory request for container web; cpu limit for container web",
		},
		"max defaults the limit and the request": {
			lr:      limitRange(&corev1.LimitRangeItem{Type: "Container", Max: rl("cpu", "1")}),
			pod:     pod("p", container("web", nil, nil)),
			wantReq: "cpu=1", wantLim: "cpu=1",
			wantAnnotation: "LimitRanger plugin set: cpu request for container web; cpu limit for container web",
		},
		"over the max": {
			lr:      limitRange(&corev1.LimitRangeItem{Type: "Container", Max: rl("cpu", "1")}),
			pod:     pod("p", container("web", rl("cpu", "2"), rl("cpu", "2"))),
			wantErr: "maximum cpu usage per Container is 1, but limit is 2",
		},
		"under the min": {
			lr:      limitRange(&corev1.LimitRangeItem{Type: "Container", Min: rl("memory", "64Mi")}),
			pod:     pod("p", container("web", rl("memory", "32Mi"), nil)),
			wantErr: "minimum memory usage per Container is 64Mi, but request is 32Mi",
		},
		"ratio": {
			lr:      &corev1.LimitRange{Spec: &corev1.LimitRangeSpec{Limits: []*corev1.LimitRangeItem{{Type: "Container", MaxLimitRequestRatio: rl("cpu", "2")}}}},
			pod:     pod("p", container("web", rl("cpu", "100m"), rl("cpu", "1"))),
			wantErr: "cpu max limit to request ratio per Container is 2, but provided ratio is 10.000000",
		},
		"pod total over the pod max, two errors": {
			lr:      &corev1.LimitRange{Spec: &corev1.LimitRangeSpec{Limits: []*corev1.LimitRangeItem{{Type: "Pod", Max: rl("cpu", "1", "memory", "1Gi")}}}},
			pod:     pod("p", container("a", rl("cpu", "600m"), rl("cpu", "600m")), container("b", rl("cpu", "600m"), rl("cpu", "600m"))),
			wantErr: "[maximum cpu usage per Pod is 1, but limit is 1200m, maximum memory usage per Pod is 1Gi.  No limit is specified]",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := ApplyLimitRanges([]*corev1.LimitRange{tc.lr}, tc.pod)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := tc.pod.Spec.Containers[0]
			if got := FromProto(c.Resources.Requests).String(); got != tc.wantReq {
				t.Errorf("requests %s, want %s", got, tc.wantReq)
			}
			if got := FromProto(c.Resources.Limits).String(); got != tc.wantLim {
				t.Errorf("limits %s, want %s", got, tc.wantLim)
			}
			if got := tc.pod.Metadata.Annotations[AnnotationLimitRanger]; got != tc.wantAnnotation {
				t.Errorf("annotation %q, want %q", got, tc.wantAnnotation)
			}
		})
	}
}

func TestValidateLimitRangeSpec(t *testing.T) {
	cases := map[string]struct {
		lr   *corev1.LimitRange
		want string
	}{
		"min above max": {
			lr:   limitRange(&corev1.LimitRangeItem{Type: "Container", Min: rl("cpu", "2"), Max: rl("cpu", "1")}),
			want: `spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is greater than max value 1`,
		},
		"default on a Pod item": {
			lr:   limitRange(&corev1.LimitRangeItem{Type: "Pod", Max: rl("memory", "1Gi"), Default: rl("memory", "2Gi")}),
			want: "spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'",
		},
		"negative": {
			lr:   limitRange(&corev1.LimitRangeItem{Type: "PersistentVolumeClaim", Max: rl("storage", "-1Gi")}),
			want: `spec.limits[0].max[storage]: Invalid value: "-1Gi": must be greater than or equal to 0`,
		},
		"unknown type": {
			lr:   limitRange(&corev1.LimitRangeItem{Type: "Node"}),
			want: `spec.limits[0].type: Unsupported value: "Node": supported values: "Container", "Pod", "PersistentVolumeClaim"`,
		},
		"valid": {lr: limitRange(&corev1.LimitRangeItem{Type: "Container", Min: rl("cpu", "100m"), Max: rl("cpu", "1"), MaxLimitRequestRatio: rl("cpu", "4")})},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			errs := ValidateLimitRangeSpec(tc.lr.GetSpec())
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Fatalf("errors %v", errs)
			case tc.want != "" && (len(errs) == 0 || errs[0].Error() != tc.want):
				t.Fatalf("errors %v, want first %s", errs, tc.want)
			}
		})
	}
}
