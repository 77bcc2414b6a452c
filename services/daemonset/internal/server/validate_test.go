package server

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
)

const good = `{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"ds","namespace":"default"},
 "spec":{"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},
 "spec":{"containers":[{"name":"c","image":"i"}]}}}}`

func TestValidateDaemonSet(t *testing.T) {
	cases := map[string]struct {
		mutate func(ds *daemonsetv1.DaemonSet)
		patch  string // merged into spec as JSON, before defaulting
		want   []string
	}{
		"valid":             {},
		"selector mismatch": {patch: `{"selector":{"matchLabels":{"app":"y"}}}`, want: []string{"spec.template.metadata.labels"}},
		"empty selector":    {patch: `{"selector":{}}`, want: []string{"spec.selector"}},
		"both zero": {patch: `{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":0,"maxSurge":0}}}`,
			want: []string{"spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"}},
		"both set": {patch: `{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1,"maxSurge":1}}}`,
			want: []string{"spec.updateStrategy.rollingUpdate.maxSurge"}},
		"surge only is fine": {patch: `{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":0,"maxSurge":"10%"}}}`},
		"bad percent":        {patch: `{"updateStrategy":{"rollingUpdate":{"maxUnavailable":"150%"}}}`, want: []string{"spec.updateStrategy.rollingUpdate.maxUnavailable"}},
		"bad type":           {patch: `{"updateStrategy":{"type":"Recreate"}}`, want: []string{"spec.updateStrategy.type: Unsupported value: \"Recreate\""}},
		"OnDelete":           {patch: `{"updateStrategy":{"type":"OnDelete"}}`},
		"restartPolicy": {mutate: func(ds *daemonsetv1.DaemonSet) { ds.Spec.Template.Spec.RestartPolicy = "OnFailure" },
			want: []string{"spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\""}},
		"bad toleration operator": {patch: `{"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"i"}],"tolerations":[{"key":"k","operator":"Maybe"}]}}}`,
			want: []string{"spec.template.spec.tolerations[0].operator"}},
		"bad toleration effect": {patch: `{"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"i"}],"tolerations":[{"key":"k","operator":"Exists","effect":"Sometimes"}]}}}`,
			want: []string{"spec.template.spec.tolerations[0].effect"}},
		"negative minReadySeconds": {mutate: func(ds *daemonsetv1.DaemonSet) { ds.Spec.MinReadySeconds = -1 }, want: []string{"spec.minReadySeconds"}},
		"negative revisionHistoryLimit": {mutate: func(ds *daemonsetv1.DaemonSet) { v := int32(-1); ds.Spec.RevisionHistoryLimit = &v },
			want: []string{"spec.revisionHistoryLimit"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ds := &daemonsetv1.DaemonSet{}
			if err := protojson.Unmarshal([]byte(good), ds); err != nil {
				t.Fatal(err)
			}
			if tc.patch != "" {
				spec := &daemonsetv1.DaemonSetSpec{}
				if err := protojson.Unmarshal([]byte(tc.patch), spec); err != nil {
					t.Fatal(err)
				}
				if spec.Selector != nil {
					ds.Spec.Selector = spec.Selector
				}
				if spec.UpdateStrategy != nil {
					ds.Spec.UpdateStrategy = spec.UpdateStrategy
				}
				if spec.Template != nil {
					ds.Spec.Template = spec.Template
				}
			}
			defaultDaemonSet(ds)
			if tc.mutate != nil {
				tc.mutate(ds)
			}
			errs := validateDaemonSet(ds, nil, true)
			if len(tc.want) == 0 && len(errs) > 0 {
				t.Fatalf("unexpected errors: %v", errs)
			}
			msg := errs.ToAggregate()
			for _, w := range tc.want {
				if msg == nil || !strings.Contains(msg.Error(), w) {
					t.Errorf("errors %v do not contain %q", msg, w)
				}
			}
		})
	}
}

func TestSelectorImmutable(t *testing.T) {
	old := &daemonsetv1.DaemonSet{}
	_ = protojson.Unmarshal([]byte(good), old)
	defaultDaemonSet(old)
	next := &daemonsetv1.DaemonSet{}
	_ = protojson.Unmarshal([]byte(strings.ReplaceAll(good, `"x"`, `"z"`)), next)
	defaultDaemonSet(next)
	errs := validateDaemonSet(next, old, false)
	if agg := errs.ToAggregate(); agg == nil || !strings.Contains(agg.Error(), "spec.selector") || !strings.Contains(agg.Error(), "field is immutable") {
		t.Fatalf("got %v", agg)
	}
}

func TestDefaults(t *testing.T) {
	ds := &daemonsetv1.DaemonSet{}
	_ = protojson.Unmarshal([]byte(good), ds)
	defaultDaemonSet(ds)
	ru := ds.Spec.GetUpdateStrategy().GetRollingUpdate()
	if ds.Spec.UpdateStrategy.Type != "RollingUpdate" || ru.GetMaxUnavailable().GetNumberValue() != 1 || ru.GetMaxSurge().GetNumberValue() != 0 ||
		ds.Spec.GetRevisionHistoryLimit() != 10 || ds.Spec.Template.Spec.RestartPolicy != "Always" {
		t.Fatalf("defaults: %v", ds.Spec)
	}
}
