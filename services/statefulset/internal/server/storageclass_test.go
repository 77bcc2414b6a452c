package server

import (
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	storagev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/storage/v1"
)

const validClass = `{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"fast"},
 "provisioner":"example.com/fast","parameters":{"type":"ssd"}}`

func defaultedClass(t *testing.T, js string) *storagev1.StorageClass {
	sc := decode(t, js, &storagev1.StorageClass{})
	defaultStorageClass(sc)
	return sc
}

func TestDefaultStorageClass(t *testing.T) {
	sc := defaultedClass(t, validClass)
	if sc.GetReclaimPolicy() != "Delete" || sc.GetVolumeBindingMode() != "Immediate" {
		t.Errorf("defaults: reclaimPolicy %q volumeBindingMode %q, want Delete Immediate", sc.GetReclaimPolicy(), sc.GetVolumeBindingMode())
	}
	kept := defaultedClass(t, `{"metadata":{"name":"x"},"provisioner":"p","reclaimPolicy":"Retain","volumeBindingMode":"WaitForFirstConsumer"}`)
	if kept.GetReclaimPolicy() != "Retain" || kept.GetVolumeBindingMode() != "WaitForFirstConsumer" {
		t.Errorf("given values overwritten: %v", kept)
	}
}

func TestValidateStorageClass(t *testing.T) {
	tests := map[string]struct {
		class string
		old   string // set: an update from old
		want  string // "" valid, else a substring of the error list
	}{
		"valid":                     {class: validClass},
		"the standard class":        {class: mustJSON(t, StandardClass())},
		"no provisioner":            {class: `{"metadata":{"name":"x"}}`, want: "provisioner: Required value"},
		"a provisioner with spaces": {class: `{"metadata":{"name":"x"},"provisioner":"my provisioner"}`, want: "provisioner: Invalid value"},
		"reclaimPolicy Recycle": {class: `{"metadata":{"name":"x"},"provisioner":"p","reclaimPolicy":"Recycle"}`,
			want: `reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"`},
		"an unknown binding mode": {class: `{"metadata":{"name":"x"},"provisioner":"p","volumeBindingMode":"Later"}`,
			want: `volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"`},
		"a bad name":          {class: `{"metadata":{"name":"Fast"},"provisioner":"p"}`, want: "metadata.name: Invalid value"},
		"an empty parameter":  {class: `{"metadata":{"name":"x"},"provisioner":"p","parameters":{"":"v"}}`, want: "parameters: Invalid value"},
		"update: labels only": {old: validClass, class: `{"metadata":{"name":"fast","resourceVersion":"1","labels":{"a":"b"}},"provisioner":"example.com/fast","parameters":{"type":"ssd"}}`},
		"update: parameters": {old: validClass, class: `{"metadata":{"name":"fast","resourceVersion":"1"},"provisioner":"example.com/fast","parameters":{"type":"hdd"}}`,
			want: "parameters: Forbidden: updates to parameters are forbidden."},
		"update: provisioner": {old: validClass, class: `{"metadata":{"name":"fast","resourceVersion":"1"},"provisioner":"example.com/slow","parameters":{"type":"ssd"}}`,
			want: "provisioner: Forbidden: updates to provisioner are forbidden."},
		"update: reclaimPolicy": {old: validClass, class: `{"metadata":{"name":"fast","resourceVersion":"1"},"provisioner":"example.com/fast","parameters":{"type":"ssd"},"reclaimPolicy":"Retain"}`,
			want: "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden."},
		"update: volumeBindingMode": {old: validClass, class: `{"metadata":{"name":"fast","resourceVersion":"1"},"provisioner":"example.com/fast","parameters":{"type":"ssd"},"volumeBindingMode":"WaitForFirstConsumer"}`,
			want: "volumeBindingMode: Invalid value: \"WaitForFirstConsumer\": field is immutable"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sc := defaultedClass(t, tc.class)
			var old *storagev1.StorageClass
			if tc.old != "" {
				old = defaultedClass(t, tc.old)
			}
			errs := validateStorageClass(sc, old, old == nil)
			got := errs.ToAggregate()
			switch {
			case tc.want == "" && got != nil:
				t.Fatalf("rejected: %v", got)
			case tc.want != "" && (got == nil || !strings.Contains(got.Error(), tc.want)):
				t.Fatalf("errors %v, want %q", got, tc.want)
			}
		})
	}
}

// The reference manifest the StatefulSet tutorial's "web" names is valid.
func TestStorageClassManifest(t *testing.T) {
	b, err := os.ReadFile("testdata/storageclass-my-storage-class.yaml")
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	sc := defaultedClass(t, string(js))
	if errs := validateStorageClass(sc, nil, true); len(errs) > 0 {
		t.Fatalf("rejected: %v", errs.ToAggregate())
	}
}

func mustJSON(t *testing.T, sc *storagev1.StorageClass) string {
	b, err := protojson.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
