package validation

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	"github.com/podwarden/podwarden/shared/defaults"
	"github.com/podwarden/podwarden/shared/labels"
)

// workload is the part of a manifest this package validates.
type workload struct {
	kind       string
	template   *corev1.PodTemplateSpec
	selector   k8slabels.Selector
	claims     []string
	restart    []string
	deadlineOK bool
}

func dig(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

func toProto(t *testing.T, v any, into proto.Message) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := protojson.Unmarshal(b, into); err != nil {
		t.Fatalf("protojson %s: %v", b, err)
	}
}

// loadWorkloads reads every document of a manifest file that holds a pod template.
func loadWorkloads(t *testing.T, file string) []workload {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []workload
	for _, doc := range bytes.Split(raw, []byte("\n---")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var obj map[string]any
		if err := json.Unmarshal(js, &obj); err != nil {
			t.Fatal(err)
		}
		w := workload{kind: obj["kind"].(string), restart: []string{"Always"}}
		tmplPath := []string{"spec", "template"}
		switch w.kind {
		case "Deployment", "ReplicaSet", "DaemonSet", "StatefulSet":
			sel := &corev1.LabelSelector{}
			toProto(t, dig(obj, "spec", "selector"), sel)
			if w.selector, err = labels.FromProto(sel); err != nil {
				t.Fatal(err)
			}
		case "ReplicationController":
			m := map[string]string{}
			for k, v := range dig(obj, "spec", "selector").(map[string]any) {
				m[k] = v.(string)
			}
			w.selector, _ = labels.FromProto(labels.FromMap(m))
		case "Job":
			w.restart, w.deadlineOK = []string{"OnFailure", "Never"}, true
		case "CronJob":
			w.restart, w.deadlineOK = []string{"OnFailure", "Never"}, true
			tmplPath = []string{"spec", "jobTemplate", "spec", "template"}
		default:
			continue
		}
		if w.kind == "StatefulSet" {
			if vcts, ok := dig(obj, "spec", "volumeClaimTemplates").([]any); ok {
				for _, v := range vcts {
					w.claims = append(w.claims, dig(v.(map[string]any), "metadata", "name").(string))
				}
			}
		}
		w.template = &corev1.PodTemplateSpec{}
		toProto(t, dig(obj, tmplPath...), w.template)
		out = append(out, w)
	}
	return out
}

func validateWorkload(w workload) field.ErrorList {
	p := field.NewPath("spec", "template")
	if w.kind == "CronJob" {
		p = field.NewPath("spec", "jobTemplate", "spec", "template")
	}
	errs := ValidatePodTemplateSpecForStatefulSet(w.template, w.selector, w.claims, p)
	errs = append(errs, ValidateRestartPolicyIn(w.template, w.restart, p)...)
	if !w.deadlineOK {
		errs = append(errs, ValidateNoActiveDeadline(w.template, "ReplicaSet", p)...)
	}
	return errs
}

// TestManifests: every reference manifest's pod template is valid before
// and after defaulting, defaulting is idempotent, and the invalid ones fail
// with Kubernetes' message.
func TestManifests(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "manifests", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	total := 0
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			ws := loadWorkloads(t, f)
			total += len(ws)
			for _, w := range ws {
				if errs := validateWorkload(w); len(errs) > 0 {
					t.Errorf("%s: %v", w.kind, errs)
				}
				defaults.DefaultPodTemplateSpec(w.template)
				if errs := validateWorkload(w); len(errs) > 0 {
					t.Errorf("%s after defaulting: %v", w.kind, errs)
				}
				again := proto.Clone(w.template).(*corev1.PodTemplateSpec)
				defaults.DefaultPodTemplateSpec(again)
				if !proto.Equal(again, w.template) {
					t.Errorf("%s: defaulting is not idempotent", w.kind)
				}
			}
		})
	}
	if total < 12 {
		t.Errorf("only %d workloads found in %d manifests", total, len(files))
	}
	invalid := map[string]struct {
		file string
		want []string
	}{
		"selector mismatch": {
			file: "selector-mismatch.yaml",
			want: []string{"spec.template.metadata.labels: Invalid value: {\"app\":\"two\"}: `selector` does not match template `labels`"},
		},
		"job restart always": {
			file: "job-restart-always.yaml",
			want: []string{`spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"`},
		},
	}
	for name, tc := range invalid {
		t.Run(name, func(t *testing.T) {
			ws := loadWorkloads(t, filepath.Join("testdata", "manifests", "invalid", tc.file))
			if len(ws) != 1 {
				t.Fatalf("%d workloads", len(ws))
			}
			checkErrs(t, validateWorkload(ws[0]), tc.want)
			if strings.Contains(tc.file, "job") {
				// the same error once defaulted
				defaults.DefaultPodTemplateSpec(ws[0].template)
				checkErrs(t, validateWorkload(ws[0]), tc.want)
			}
		})
	}
}
