package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"sigs.k8s.io/yaml"

	"github.com/podwarden/podwarden/shared/kindfuzz"

	autoscalerv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/autoscaler/v1"
	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// Fuzz targets for what the gateway decodes from a client: JSON, YAML and
// Kubernetes-protobuf bodies, and the three patch types. `make fuzz` explores;
// plain `go test` replays the seeds (the reference manifests, from
// shared/kindfuzz) and testdata/fuzz.

// bodyTypes are the messages request bodies decode into, by kind.
var bodyTypes = map[string]func() proto.Message{
	"Deployment":              func() proto.Message { return &deploymentv1.Deployment{} },
	"ReplicaSet":              func() proto.Message { return &deploymentv1.ReplicaSet{} },
	"ReplicationController":   func() proto.Message { return &deploymentv1.ReplicationController{} },
	"DaemonSet":               func() proto.Message { return &daemonsetv1.DaemonSet{} },
	"StatefulSet":             func() proto.Message { return &statefulsetv1.StatefulSet{} },
	"PersistentVolumeClaim":   func() proto.Message { return &statefulsetv1.PersistentVolumeClaim{} },
	"PersistentVolume":        func() proto.Message { return &statefulsetv1.PersistentVolume{} },
	"Job":                     func() proto.Message { return &jobv1.Job{} },
	"CronJob":                 func() proto.Message { return &jobv1.CronJob{} },
	"HorizontalPodAutoscaler": func() proto.Message { return &autoscalerv1.HorizontalPodAutoscaler{} },
	"Pod":                     func() proto.Message { return &corev1.Pod{} },
	"Scale":                   func() proto.Message { return &corev1.Scale{} },
	"DeleteOptions":           func() proto.Message { return &corev1.DeleteOptions{} },
	"Service":                 func() proto.Message { return &nodev1.Service{} },
	"Node":                    func() proto.Message { return &nodev1.Node{} },
}

// bodyType picks the message a body decodes into from its kind (a Deployment
// when it names none we know).
func bodyType(data []byte) proto.Message {
	var tm struct {
		Kind string `json:"kind"`
	}
	_ = yaml.Unmarshal(data, &tm)
	if mk, ok := bodyTypes[tm.Kind]; ok {
		return mk()
	}
	return &deploymentv1.Deployment{}
}

// manifestDocs are the YAML documents of the reference manifests, valid and invalid.
func manifestDocs(f *testing.F) [][]byte {
	f.Helper()
	var out [][]byte
	for _, d := range kindfuzz.Docs() {
		out = append(out, d.Data)
	}
	return out
}

func manifestJSON(f *testing.F) [][]byte {
	f.Helper()
	var out [][]byte
	for _, doc := range manifestDocs(f) {
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, j)
	}
	return out
}

// checkBody decodes data with m into the message its kind names and, when it
// decodes, checks that encode -> decode -> encode is stable.
func checkBody(t *testing.T, m interface {
	Unmarshal([]byte, any) error
	Marshal(any) ([]byte, error)
}, data []byte) {
	msg := bodyType(data)
	err := m.Unmarshal(data, msg)
	switch {
	case errors.Is(err, io.EOF):
		if !isEmptyJSON(data) {
			if j, jerr := yaml.YAMLToJSON(data); jerr != nil || !isEmptyJSON(j) {
				t.Fatalf("io.EOF (no body) for a body that is not empty: %q", data)
			}
		}
		return
	case err != nil:
		if s := err.Error(); !strings.Contains(s, "cannot be handled as a") && !strings.HasPrefix(s, "error converting YAML to JSON") {
			t.Fatalf("decode error not in Kubernetes' words: %v", err)
		}
		return
	}
	enc1, err := m.Marshal(msg)
	if err != nil {
		t.Fatalf("a decoded body does not encode: %v", err)
	}
	again := msg.ProtoReflect().New().Interface()
	if err := m.Unmarshal(enc1, again); err != nil {
		t.Fatalf("the encoding of a decoded body does not decode: %v\n%s", err, enc1)
	}
	enc2, err := m.Marshal(again)
	if err != nil {
		t.Fatalf("re-encode: %v", err)
	}
	third := msg.ProtoReflect().New().Interface()
	if err := m.Unmarshal(enc2, third); err != nil {
		t.Fatalf("decode the second encoding: %v\n%s", err, enc2)
	}
	if !proto.Equal(again, third) {
		t.Fatalf("decode -> encode -> decode is not stable:\nfirst:  %s\nsecond: %s", enc1, enc2)
	}
}

func FuzzJSONBody(f *testing.F) {
	for _, j := range manifestJSON(f) {
		f.Add(j)
	}
	f.Add([]byte(`{"apiVersion":"v1","kind":"DeleteOptions","propagationPolicy":"Foreground","gracePeriodSeconds":0}`))
	f.Add([]byte(`{"kind":"Scale","spec":{"replicas":"3"}}`))
	m := newJSONMarshaler()
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) && len(bytes.TrimSpace(data)) > 0 {
			// still must not panic, and must say why
			if err := m.Unmarshal(data, bodyType(data)); err == nil {
				t.Fatalf("invalid JSON decoded: %q", data)
			}
			return
		}
		checkBody(t, m, data)
	})
}

func FuzzYAMLBody(f *testing.F) {
	for _, doc := range manifestDocs(f) {
		f.Add(doc)
	}
	m := &yamlMarshaler{json: newJSONMarshaler()}
	f.Fuzz(func(t *testing.T, data []byte) { checkBody(t, m, data) })
}

func FuzzKubeProtobuf(f *testing.F) {
	yamlDecoder := serializer.NewCodecFactory(kubeScheme).UniversalDeserializer()
	pb := protobuf.NewSerializer(kubeScheme, kubeScheme)
	for _, doc := range manifestDocs(f) {
		obj, _, err := yamlDecoder.Decode(doc, nil, nil)
		if err != nil {
			continue // a kind outside the scheme (StorageClass, batch) or an invalid manifest
		}
		var buf bytes.Buffer
		if err := pb.Encode(obj, &buf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte("k8s\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := protobufToJSON(data)
		if err != nil || j == nil {
			return
		}
		var obj map[string]any
		if err := json.Unmarshal(j, &obj); err != nil {
			t.Fatalf("protobuf body became invalid JSON: %v\n%s", err, j)
		}
		if obj["kind"] == "" || obj["apiVersion"] == "" {
			t.Fatalf("protobuf body lost its type meta: %s", j)
		}
		// The JSON, decoded as Kubernetes would and encoded to protobuf again,
		// converts to the same JSON.
		typed, _, err := yamlDecoder.Decode(j, nil, nil)
		if err != nil {
			t.Fatalf("the JSON of a protobuf body does not decode: %v\n%s", err, j)
		}
		var buf bytes.Buffer
		if err := pb.Encode(typed, &buf); err != nil {
			t.Fatalf("re-encode protobuf: %v", err)
		}
		j2, err := protobufToJSON(buf.Bytes())
		if err != nil {
			t.Fatalf("re-encoded protobuf does not decode: %v", err)
		}
		if !jsonEqual(j, j2) {
			t.Fatalf("protobuf -> JSON -> protobuf -> JSON is not stable:\nfirst:  %s\nsecond: %s", j, j2)
		}
	})
}

// checkPatchProperties applies patch of type mt to cur as the PATCH handler
// does: a bad patch is an API error, a good one gives a JSON object, and
// applying a merge or strategic merge patch a second time changes nothing.
func checkPatchProperties(t *testing.T, mt string, cur, patch []byte) {
	var obj map[string]any
	if json.Unmarshal(cur, &obj) != nil || obj == nil {
		return // the current object always comes from the server as a JSON object
	}
	schema := bodyType(cur).ProtoReflect().Descriptor()
	if err := checkPatch(mt, patch); err != nil {
		if _, ok := err.(*apiError); !ok {
			t.Fatalf("checkPatch: %T %v, want an API error", err, err)
		}
		return
	}
	out, err := applyPatch(mt, cur, patch, schema)
	if err != nil {
		if _, ok := err.(*apiError); !ok {
			t.Fatalf("applyPatch: %T %v, want an API error", err, err)
		}
		return
	}
	if mt == jsonPatchType {
		if !json.Valid(out) {
			t.Fatalf("patched object is not JSON: %s", out)
		}
		// Only "copy" makes an object grow beyond what the patch carries.
		if limit := len(cur) + len(patch) + maxJSONPatchCopyBytes; len(out) > limit {
			t.Fatalf("a %d-byte patch made a %d-byte object %d bytes long", len(patch), len(cur), len(out))
		}
		return
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil || res == nil {
		t.Fatalf("patched object is not a JSON object (%v): %s", err, out)
	}
	if mt == strategicMergePatchType && bytes.Contains(out, []byte(`"$`)) {
		// A directive inside a list element that merges into nothing (a new
		// container carrying "$patch": "replace", or "$patch": "" in a list
		// without merge key) is left in the result by apimachinery, as in
		// Kubernetes; the write rejects it as an unknown field.
		return
	}
	twice, err := applyPatch(mt, out, patch, schema)
	if err != nil {
		t.Fatalf("the patch applies once but not twice: %v\nonce: %s", err, out)
	}
	if !jsonEqual(out, twice) && !bytes.Contains(twice, []byte(`"$`)) {
		t.Fatalf("applying the patch twice differs from once:\nonce:  %s\ntwice: %s", out, twice)
	}
}

func patchSeeds(f *testing.F, patches ...string) {
	docs := manifestJSON(f)
	for i, p := range patches {
		f.Add(docs[i%len(docs)], []byte(p))
	}
}

func FuzzJSONPatch(f *testing.F) {
	patchSeeds(f,
		`[{"op":"replace","path":"/spec/replicas","value":3}]`,
		`[{"op":"add","path":"/metadata/labels/tier","value":"web"},{"op":"remove","path":"/metadata/name"}]`,
		`[{"op":"test","path":"/kind","value":"Deployment"},{"op":"move","from":"/metadata/labels","path":"/metadata/annotations"}]`,
		`[{"op":"copy","from":"/spec","path":"/spec/template/spec/containers/-"}]`,
		`[{"op":"add","path":"/spec/template/spec/containers/-1","value":{}}]`,
	)
	f.Fuzz(func(t *testing.T, cur, patch []byte) { checkPatchProperties(t, jsonPatchType, cur, patch) })
}

func FuzzMergePatch(f *testing.F) {
	patchSeeds(f,
		`{"spec":{"replicas":4}}`,
		`{"metadata":{"labels":{"app":null,"tier":"web"}}}`,
		`{"spec":{"template":{"spec":{"containers":[{"name":"x","image":"y"}]}}}}`,
		`{"spec":null}`,
	)
	f.Fuzz(func(t *testing.T, cur, patch []byte) { checkPatchProperties(t, mergePatchType, cur, patch) })
}

func FuzzStrategicMergePatch(f *testing.F) {
	patchSeeds(f,
		`{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.25"}]}}}}`,
		`{"spec":{"template":{"spec":{"containers":[{"name":"nginx","$patch":"delete"}]}}}}`,
		`{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"}],"containers":[{"name":"b","image":"x"}]}}}}`,
		`{"metadata":{"$deleteFromPrimitiveList/finalizers":["x"],"finalizers":["y"]}}`,
		`{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}`,
		`{"spec":{"template":{"spec":{"containers":[{"name":"nginx","ports":[{"containerPort":80,"$patch":"replace"}]}]}}}}`,
	)
	f.Fuzz(func(t *testing.T, cur, patch []byte) { checkPatchProperties(t, strategicMergePatchType, cur, patch) })
}
