package revisions

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Stored revisions are protobuf bytes written by the daemonset.v1 and
// statefulset.v1 ControllerRevision messages that apps.v1's replaced: fields
// 1 api_version, 2 kind, 3 metadata, 4 data, 5 revision. Built here by field
// number, they must decode to the same revision and encode back unchanged.
func TestStoredBytesDecode(t *testing.T) {
	meta := &corev1.ObjectMeta{Name: "web-5d8f", Namespace: "default", Uid: "u1", Labels: map[string]string{HashLabel: "5d8f"}}
	data := Patch(template("a:1"))
	opts := proto.MarshalOptions{Deterministic: true}
	metaBytes, err := opts.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	dataBytes, err := opts.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	var old []byte
	old = protowire.AppendTag(old, 1, protowire.BytesType)
	old = protowire.AppendString(old, "apps/v1")
	old = protowire.AppendTag(old, 2, protowire.BytesType)
	old = protowire.AppendString(old, "ControllerRevision")
	old = protowire.AppendTag(old, 3, protowire.BytesType)
	old = protowire.AppendBytes(old, metaBytes)
	old = protowire.AppendTag(old, 4, protowire.BytesType)
	old = protowire.AppendBytes(old, dataBytes)
	old = protowire.AppendTag(old, 5, protowire.VarintType)
	old = protowire.AppendVarint(old, 3)

	got := Store.New()
	if err := proto.Unmarshal(old, got); err != nil {
		t.Fatal(err)
	}
	want := &Revision{ApiVersion: "apps/v1", Kind: "ControllerRevision", Metadata: meta, Data: data, Revision: 3}
	if !proto.Equal(got, want) || len(got.ProtoReflect().GetUnknown()) != 0 {
		t.Fatalf("decoded %v, want %v", got, want)
	}
	again, err := opts.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(old) {
		t.Fatal("re-encoding a stored revision changed its bytes")
	}
	if _, ok := got.GetData().GetFields()["spec"].GetKind().(*structpb.Value_StructValue); !ok {
		t.Fatal("data lost its spec")
	}
}
