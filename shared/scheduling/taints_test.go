package scheduling

import (
	"testing"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func TestToleratesTaint(t *testing.T) {
	taint := &corev1.Taint{Key: "dedicated", Value: "gpu", Effect: EffectNoSchedule}
	cases := map[string]struct {
		toleration *corev1.Toleration
		want       bool
	}{
		"equal, same value and effect":    {toleration: &corev1.Toleration{Key: "dedicated", Operator: OpEqual, Value: "gpu", Effect: EffectNoSchedule}, want: true},
		"empty operator means Equal":      {toleration: &corev1.Toleration{Key: "dedicated", Value: "gpu", Effect: EffectNoSchedule}, want: true},
		"equal, other value":              {toleration: &corev1.Toleration{Key: "dedicated", Operator: OpEqual, Value: "cpu", Effect: EffectNoSchedule}, want: false},
		"exists ignores the value":        {toleration: &corev1.Toleration{Key: "dedicated", Operator: OpExists, Effect: EffectNoSchedule}, want: true},
		"empty effect matches any":        {toleration: &corev1.Toleration{Key: "dedicated", Operator: OpExists}, want: true},
		"other effect":                    {toleration: &corev1.Toleration{Key: "dedicated", Operator: OpExists, Effect: EffectNoExecute}, want: false},
		"other key":                       {toleration: &corev1.Toleration{Key: "team", Operator: OpExists}, want: false},
		"empty key with Exists: all":      {toleration: &corev1.Toleration{Operator: OpExists}, want: true},
		"unknown operator":                {toleration: &corev1.Toleration{Key: "dedicated", Operator: "Gt", Value: "gpu"}, want: false},
		"PreferNoSchedule toleration":     {toleration: &corev1.Toleration{Key: "dedicated", Operator: OpExists, Effect: EffectPreferNoSchedule}, want: false},
		"equal, empty value vs non-empty": {toleration: &corev1.Toleration{Key: "dedicated", Effect: EffectNoSchedule}, want: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := ToleratesTaint(tc.toleration, taint); got != tc.want {
				t.Errorf("ToleratesTaint = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFirstUntolerated(t *testing.T) {
	taints := []*corev1.Taint{
		{Key: "a", Effect: EffectPreferNoSchedule},
		{Key: "b", Value: "1", Effect: EffectNoSchedule},
		{Key: "c", Effect: EffectNoExecute},
	}
	cases := map[string]struct {
		tolerations []*corev1.Toleration
		want        string
	}{
		"none tolerated: first hard taint": {want: "b"},
		"b tolerated: c":                   {tolerations: []*corev1.Toleration{{Key: "b", Value: "1"}}, want: "c"},
		"all tolerated":                    {tolerations: []*corev1.Toleration{{Key: "b", Value: "1"}, {Key: "c", Operator: OpExists}}, want: ""},
		"tolerate everything":              {tolerations: []*corev1.Toleration{{Operator: OpExists}}, want: ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := FirstUntolerated(taints, tc.tolerations, EffectNoSchedule, EffectNoExecute)
			if got.GetKey() != tc.want {
				t.Errorf("FirstUntolerated = %q, want %q", got.GetKey(), tc.want)
			}
		})
	}
}
