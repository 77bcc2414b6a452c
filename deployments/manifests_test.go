// Tests of the deployment artefacts: the Kubernetes manifests decode strictly
// into the real k8s.io/api types and hang together (selectors, probes, ports,
// config references, addresses), the kustomization lists every file, and the
// compose file agrees with the manifests.
package deployments

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

const (
	kubeDir           = "kubernetes"
	kustomizationFile = "kustomization.yaml"
	wantNamespace     = "podwarden"
	labelName         = "app.kubernetes.io/name"
	labelPartOf       = "app.kubernetes.io/part-of"
	labelComponent    = "app.kubernetes.io/component"
	partOf            = "podwarden"
)

// knownKinds maps "apiVersion/kind" to a constructor of the k8s.io/api type a
// document of that kind must decode into. Any other kind is an error.
var knownKinds = map[string]func() metav1.Object{
	"apps/v1/Deployment":  func() metav1.Object { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet": func() metav1.Object { return &appsv1.StatefulSet{} },
	"v1/Service":          func() metav1.Object { return &corev1.Service{} },
	"v1/ConfigMap":        func() metav1.Object { return &corev1.ConfigMap{} },
	"v1/Secret":           func() metav1.Object { return &corev1.Secret{} },
	"v1/Namespace":        func() metav1.Object { return &corev1.Namespace{} },
}

// object is one decoded manifest document.
type object struct {
	source string // "file.yaml#2": file and document index, for messages
	kind   string // "Deployment", "Service", ...
	value  metav1.Object
}

func (o object) String() string {
	return fmt.Sprintf("%s %q (%s)", o.kind, o.value.GetName(), o.source)
}

// decodeDocuments splits a multi-document YAML file and decodes every
// non-empty document strictly.
func decodeDocuments(source string, data []byte) ([]object, []error) {
	var (
		objs []object
		errs []error
	)
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: split documents: %w", source, err))
			break
		}
		src := fmt.Sprintf("%s#%d", source, i)
		obj, empty, err := decodeObject(src, doc)
		switch {
		case err != nil:
			errs = append(errs, err)
		case !empty:
			objs = append(objs, obj)
		}
	}
	return objs, errs
}

// decodeObject decodes one document into the k8s.io/api type of its kind,
// rejecting unknown fields, case-mismatched fields and duplicate keys (the
// same strictness as the API server's fieldValidation=Strict). A document
// holding only comments is reported as empty.
func decodeObject(source string, doc []byte) (obj object, empty bool, err error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return object{}, false, fmt.Errorf("%s: %w", source, err)
	}
	if t := bytes.TrimSpace(js); len(t) == 0 || string(t) == "null" {
		return object{}, true, nil
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return object{}, false, fmt.Errorf("%s: not an object: %w", source, err)
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return object{}, false, fmt.Errorf("%s: apiVersion and kind are required", source)
	}
	newObj, ok := knownKinds[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return object{}, false, fmt.Errorf("%s: unknown kind %s in apiVersion %s", source, tm.Kind, tm.APIVersion)
	}
	v := newObj()
	strictErrs, err := sigsjson.UnmarshalStrict(js, v, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return object{}, false, fmt.Errorf("%s: decode %s: %w", source, tm.Kind, err)
	}
	if len(strictErrs) > 0 {
		return object{}, false, fmt.Errorf("%s: decode %s strictly: %w", source, tm.Kind, errors.Join(strictErrs...))
	}
	return object{source: source, kind: tm.Kind, value: v}, false, nil
}

// manifestFiles lists the YAML files under dir (relative to dir), without the kustomization.
func manifestFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ext := filepath.Ext(path)
		if ext != ".yaml" && ext != ".yml" {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if rel != kustomizationFile {
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	slices.Sort(files)
	return files
}

// loadManifests decodes every manifest under kubernetes/, failing the test on
// any decoding error.
func loadManifests(t *testing.T) []object {
	t.Helper()
	var objs []object
	for _, f := range manifestFiles(t, kubeDir) {
		data, err := os.ReadFile(filepath.Join(kubeDir, f))
		if err != nil {
			t.Fatal(err)
		}
		got, errs := decodeDocuments(f, data)
		for _, err := range errs {
			t.Error(err)
		}
		objs = append(objs, got...)
	}
	if t.Failed() {
		t.FailNow()
	}
	if len(objs) == 0 {
		t.Fatalf("no manifests found under %s", kubeDir)
	}
	return objs
}

func TestKubernetesManifests(t *testing.T) {
	objs := loadManifests(t)
	for _, err := range checkSet(objs) {
		t.Error(err)
	}

	// What this repository must deploy, whatever else is added.
	idx := newIndex(objs)
	for _, want := range []struct{ kind, name string }{
		{"Namespace", wantNamespace},
		{"StatefulSet", "postgres"}, {"Service", "postgres"}, {"Secret", "postgres"},
		{"StatefulSet", "nats"}, {"Service", "nats"}, {"ConfigMap", "nats"},
		{"Deployment", "deployment"}, {"Service", "deployment"},
		{"Deployment", "node"}, {"Service", "node"},
		{"Deployment", "gateway"}, {"Service", "gateway"},
	} {
		if _, ok := idx.get(want.kind, want.name); !ok {
			t.Errorf("missing %s %q", want.kind, want.name)
		}
	}
	if o, ok := idx.get("StatefulSet", "nats"); ok {
		if r := o.value.(*appsv1.StatefulSet).Spec.Replicas; r == nil || *r != 3 {
			t.Errorf("%s: want 3 replicas for a JetStream cluster", o)
		}
	}
}

// kustomization is the part of kustomize's Kustomization this repository uses;
// decoding it strictly makes any other field a deliberate change to this test.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(kubeDir, kustomizationFile))
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	strictErrs, err := sigsjson.UnmarshalStrict(js, &k, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range strictErrs {
		t.Errorf("%s: %v", kustomizationFile, e)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("%s: apiVersion/kind = %s/%s", kustomizationFile, k.APIVersion, k.Kind)
	}
	if k.Namespace != wantNamespace {
		t.Errorf("%s: namespace = %q, want %q", kustomizationFile, k.Namespace, wantNamespace)
	}

	listed := map[string]bool{}
	for _, r := range k.Resources {
		if listed[r] {
			t.Errorf("%s: %s listed twice", kustomizationFile, r)
		}
		listed[r] = true
		if st, err := os.Stat(filepath.Join(kubeDir, filepath.FromSlash(r))); err != nil {
			t.Errorf("%s: resource %s: %v", kustomizationFile, r, err)
		} else if st.IsDir() {
			t.Errorf("%s: resource %s is a directory; list the files", kustomizationFile, r)
		}
	}
	for _, f := range manifestFiles(t, kubeDir) {
		if !listed[f] {
			t.Errorf("%s is not listed in %s: kubectl apply -k would skip it", f, kustomizationFile)
		}
	}
}

// joinErrs renders errors one per line, for failure messages.
func joinErrs(errs []error) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("\n\t")
		b.WriteString(e.Error())
	}
	return b.String()
}
