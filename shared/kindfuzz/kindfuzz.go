// Package kindfuzz holds what the fuzz tests of every kind share: the seed
// corpus (the reference manifests, valid and invalid, embedded from testdata)
// and the properties an API object's admission must keep for any input:
//
//   - decoding, defaulting and validation never panic;
//   - defaulting is idempotent: default(default(x)) == default(x);
//   - every validation error names a field;
//   - a valid object survives an encode/decode round trip (JSON and YAML) unchanged;
//   - a valid object, written back unchanged, passes update validation.
//
// It is imported by tests only (it imports "testing").
package kindfuzz

import (
	"bytes"
	"embed"
	"encoding/json"
	"io/fs"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/validation"
)

// testdata/manifests is a copy of the project's reference manifests
// (invalid/ holds those the API must reject); testdata/seeds adds kinds they
// lack (Pod, Service, Endpoints, PersistentVolume(Claim), Node).
//
//go:embed testdata
var files embed.FS

// Doc is one YAML document of a seed file.
type Doc struct {
	Name    string // file name, with #n for the n-th document of a multi-document file
	Kind    string
	Invalid bool // from manifests/invalid: the API must reject it
	Data    []byte
}

// Docs returns the seed documents whose kind is one of kinds (all when none);
// a kind may be qualified by its apiVersion ("autoscaling/v1/HorizontalPodAutoscaler").
func Docs(kinds ...string) []Doc {
	var out []Doc
	err := fs.WalkDir(files, "testdata", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		raw, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		for i, doc := range splitYAML(raw) {
			var meta struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if yaml.Unmarshal(doc, &meta) != nil {
				continue
			}
			if len(kinds) > 0 && !slices.Contains(kinds, meta.Kind) && !slices.Contains(kinds, meta.APIVersion+"/"+meta.Kind) {
				continue
			}
			name := strings.TrimPrefix(p, "testdata/")
			if i > 0 {
				name += "#" + string(rune('0'+i))
			}
			out = append(out, Doc{Name: name, Kind: meta.Kind, Invalid: path.Base(path.Dir(p)) == "invalid", Data: doc})
		}
		return nil
	})
	if err != nil {
		panic("kindfuzz: embedded seeds: " + err.Error())
	}
	return out
}

func splitYAML(raw []byte) [][]byte {
	var out [][]byte
	for _, doc := range bytes.Split(raw, []byte("\n---")) {
		if len(bytes.TrimSpace(doc)) > 0 {
			out = append(out, bytes.TrimLeft(doc, "\n"))
		}
	}
	return out
}

// AddSeeds adds the seed documents of kinds to f's corpus for a fuzz function
// of (data []byte, at uint16, value string) (see Mutate): each as YAML and as
// JSON, unchanged and with a few of its fields replaced.
func AddSeeds(f *testing.F, kinds ...string) {
	for _, d := range Docs(kinds...) {
		f.Add(d.Data, uint16(0), "")
		j, err := yaml.YAMLToJSON(d.Data)
		if err != nil {
			continue
		}
		f.Add(j, uint16(0), "")
		for i, v := range []string{`null`, `-1`, `""`, `{}`, `[]`, `"x y"`, `2147483648`, `+extra=1`, `0.5`, `"25%"`} {
			f.Add(j, uint16(7*i+3), v)
		}
	}
}

// Mutate sets one node of the YAML or JSON document data to value, so that a
// fuzzer explores field values rather than syntax: at picks the node (modulo
// the number of nodes, in a fixed depth-first order of sorted keys), value is
// its new JSON value, or a string when it is not JSON, or, as "+key=json" on
// an object, a field to add. An empty value, or data that does not decode,
// leaves data as it is.
func Mutate(data []byte, at uint16, value string) []byte {
	if value == "" {
		return data
	}
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return data
	}
	var doc any
	if json.Unmarshal(j, &doc) != nil {
		return data
	}
	// Every node, as a way to read it and to replace it.
	type node struct {
		get func() any
		set func(any)
	}
	var nodes []node
	var walk func(n node)
	walk = func(n node) {
		nodes = append(nodes, n)
		switch v := n.get().(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				walk(node{get: func() any { return v[k] }, set: func(x any) { v[k] = x }})
			}
		case []any:
			for i := range v {
				walk(node{get: func() any { return v[i] }, set: func(x any) { v[i] = x }})
			}
		}
	}
	walk(node{get: func() any { return doc }, set: func(x any) { doc = x }})
	n := nodes[int(at)%len(nodes)]
	if obj, ok := n.get().(map[string]any); ok && strings.HasPrefix(value, "+") {
		k, v, _ := strings.Cut(value[1:], "=")
		obj[k] = jsonOrString(v)
	} else {
		n.set(jsonOrString(value))
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return data
	}
	return out
}

func jsonOrString(s string) any {
	var v any
	if json.Unmarshal([]byte(s), &v) == nil {
		return v
	}
	return s
}

// Target is one kind's admission: what a create handler does to a decoded body.
type Target[T proto.Message] struct {
	// New returns an empty object to decode into.
	New func() T
	// Create prepares a decoded object as the create handler does before
	// defaulting (type meta, namespace, server-set metadata, status reset);
	// false when the handler rejects it before validation (no metadata, wrong kind).
	Create  func(T) bool
	Default func(T)
	// Validate checks obj (old is the zero T on create).
	Validate func(obj, old T, create bool) field.ErrorList
	// Update, when set, validates next as an update of the stored old (next is a
	// copy of old, which has a uid and resourceVersion): what the update handler
	// does to a PUT of an unchanged object.
	Update func(next, old T) field.ErrorList
}

// Outcome is what admission made of an input.
type Outcome int

const (
	Undecodable Outcome = iota // not JSON/YAML of the kind: the decoder's business
	Rejected                   // rejected before validation or by validation
	Admitted                   // valid
)

// Decode decodes a YAML or JSON body into m strictly, as the gateway does.
func Decode(data []byte, m proto.Message) error {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return err
	}
	return protojson.Unmarshal(j, m)
}

// Check runs data (YAML or JSON) through decoding, Create, Default and Validate,
// failing t when a property above does not hold.
func (k Target[T]) Check(t testing.TB, data []byte) Outcome {
	t.Helper()
	obj := k.New()
	if Decode(data, obj) != nil {
		return Undecodable
	}
	if k.Create != nil && !k.Create(obj) {
		return Rejected
	}
	k.Default(obj)
	again := proto.Clone(obj).(T)
	k.Default(again)
	if !proto.Equal(obj, again) {
		t.Fatalf("defaulting is not idempotent:\nonce:  %s\ntwice: %s", show(obj), show(again))
	}
	var zero T
	errs := k.Validate(obj, zero, true)
	namesFields(t, "create", errs)
	if len(errs) > 0 {
		return Rejected
	}

	b, err := protojson.Marshal(obj)
	if err != nil {
		t.Fatalf("a valid object does not encode: %v\n%s", err, show(obj))
	}
	y, err := yaml.JSONToYAML(b)
	if err != nil {
		t.Fatalf("JSON to YAML: %v\n%s", err, b)
	}
	j2, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatalf("YAML to JSON: %v\n%s", err, y)
	}
	back := k.New()
	if err := protojson.Unmarshal(j2, back); err != nil {
		t.Fatalf("a valid object does not decode after a round trip: %v\nJSON: %s\nYAML: %s", err, b, y)
	}
	if !proto.Equal(obj, back) {
		t.Fatalf("a valid object changes in a JSON/YAML round trip:\nbefore: %s\nafter:  %s", show(obj), show(back))
	}
	if k.Update != nil {
		stored := proto.Clone(obj).(T)
		if o, ok := any(stored).(store.Object); ok && o.GetMetadata() != nil {
			m := o.GetMetadata()
			m.Uid, m.ResourceVersion = "0b5b4a4e-6a0e-4d9f-9a43-7a5b0c1d2e3f", "1"
		}
		next := proto.Clone(stored).(T)
		errs := k.Update(next, stored)
		namesFields(t, "update", errs)
		if len(errs) > 0 {
			t.Fatalf("a valid object written back unchanged fails update validation: %v\n%s", errs.ToAggregate(), show(obj))
		}
	}
	return Admitted
}

func namesFields(t testing.TB, op string, errs field.ErrorList) {
	t.Helper()
	for _, e := range errs {
		if e == nil || e.Field == "" || e.Field == "<nil>" {
			t.Fatalf("%s validation error names no field: %v", op, e)
		}
	}
}

func show(m proto.Message) string {
	b, err := protojson.Marshal(m)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// CheckManifests checks the seed documents of kinds: the valid ones are
// admitted, the invalid ones are not.
func (k Target[T]) CheckManifests(t *testing.T, kinds ...string) {
	t.Helper()
	docs := Docs(kinds...)
	if len(docs) == 0 {
		t.Fatalf("no seed manifests of kind %v", kinds)
	}
	for _, d := range docs {
		t.Run(d.Name, func(t *testing.T) {
			got := k.Check(t, d.Data)
			switch {
			case d.Invalid && got == Admitted:
				t.Errorf("%s is admitted, want rejected", d.Name)
			case !d.Invalid && got != Admitted:
				t.Errorf("%s is not admitted (%v)", d.Name, k.reason(d.Data))
			}
		})
	}
}

// reason says why data is not admitted, for CheckManifests' message.
func (k Target[T]) reason(data []byte) any {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return err
	}
	obj := k.New()
	if err := protojson.Unmarshal(j, obj); err != nil {
		return err
	}
	if k.Create != nil && !k.Create(obj) {
		return "rejected before validation"
	}
	k.Default(obj)
	var zero T
	return k.Validate(obj, zero, true).ToAggregate()
}

// Created is the creation time Create stamps on objects.
var Created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// FromResource is r's admission, as crud.Resource.Create and Update run it
// (without the store): the type meta check, the namespace, server-set
// metadata, status reset, defaults, validation; an update keeps the stored
// status and is defaulted and validated against the stored object.
func FromResource[T store.Object](r *crud.Resource[T], newT func() T) Target[T] {
	return Target[T]{
		New: newT,
		Create: func(obj T) bool {
			m := obj.GetMetadata()
			if m == nil {
				return false
			}
			av, kind := r.TypeMeta(obj)
			if len(validation.ValidateTypeMeta(*av, *kind, r.APIVersion, r.KindName)) > 0 {
				return false
			}
			*av, *kind = r.APIVersion, r.KindName
			if r.Namespaced {
				if m.Namespace == "" {
					m.Namespace = "default"
				}
			} else {
				m.Namespace = ""
			}
			if m.Name == "" && m.GenerateName != "" {
				m.Name = m.GenerateName + "abcde"
			}
			m.Uid, m.ResourceVersion, m.Generation = "", "", 1
			m.CreationTimestamp = timestamppb.New(Created)
			m.DeletionTimestamp, m.DeletionGracePeriodSeconds = nil, nil
			if r.ResetStatus != nil {
				r.ResetStatus(obj)
			}
			return true
		},
		Default:  orNop(r.Default),
		Validate: r.Validate,
		Update: func(next, old T) field.ErrorList {
			if r.CopyStatus != nil {
				r.CopyStatus(next, old)
			}
			if r.Default != nil {
				r.Default(next)
			}
			return r.Validate(next, old, false)
		},
	}
}

func orNop[T any](f func(T)) func(T) {
	if f == nil {
		return func(T) {}
	}
	return f
}
