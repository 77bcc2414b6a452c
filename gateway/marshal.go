package gateway

import (
	"bytes"
	"fmt"
	"io"
	"reflect"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"
)

// Media types the gateway reads and writes.
const (
	mimeJSON  = "application/json"
	mimeYAML  = "application/yaml"
	mimeXYAML = "application/x-yaml"
)

// jsonMarshaler is the grpc-gateway Marshaler for Kubernetes JSON:
//   - decoding is strict: an unknown field is an error that names it by path;
//   - encoding omits unset fields and writes 64-bit integers as numbers;
//   - a server-streaming message is written bare, one per line, instead of
//     grpc-gateway's {"result": ...} wrapper (watch responses are already
//     {"type": ..., "object": ...}, Kubernetes' watch event), and an error in the
//     middle of a stream becomes a watch event of type ERROR carrying a Status.
type jsonMarshaler struct {
	pb *runtime.JSONPb
}

func newJSONMarshaler() *jsonMarshaler {
	return &jsonMarshaler{pb: &runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{UseProtoNames: false, EmitUnpopulated: false},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}}
}

var (
	_ runtime.Marshaler = (*jsonMarshaler)(nil)
	_ runtime.Delimited = (*jsonMarshaler)(nil)
)

func (*jsonMarshaler) ContentType(any) string { return mimeJSON }

// Delimiter separates the messages of a stream.
func (*jsonMarshaler) Delimiter() []byte { return []byte("\n") }

func (m *jsonMarshaler) Marshal(v any) ([]byte, error) {
	switch v := v.(type) {
	case proto.Message:
		return m.marshalMessage(v)
	case map[string]any: // a stream chunk: {"result": msg}
		if r, ok := v["result"]; ok && len(v) == 1 {
			return m.Marshal(r)
		}
	case map[string]proto.Message: // a stream error: {"error": google.rpc.Status}
		if e, ok := v["error"]; ok && len(v) == 1 {
			return m.marshalStreamError(e)
		}
	}
	return m.pb.Marshal(v)
}

func (m *jsonMarshaler) marshalMessage(msg proto.Message) ([]byte, error) {
	msg = wholeSeconds(msg)
	b, err := m.pb.MarshalOptions.Marshal(msg)
	if err != nil {
		return nil, err
	}
	if b, err = numberize(b, msg.ProtoReflect().Descriptor()); err != nil {
		return nil, err
	}
	return withEmptyItems(b, msg), nil
}

// withEmptyItems writes an empty list's "items" as [] instead of leaving it out:
// a Kubernetes list always has its items (clients iterate over them unchecked).
func withEmptyItems(b []byte, msg proto.Message) []byte {
	m := msg.ProtoReflect()
	fd := m.Descriptor().Fields().ByName("items")
	if fd == nil || !fd.IsList() || m.Get(fd).List().Len() > 0 {
		return b
	}
	b = bytes.TrimRight(b, " \n")
	if len(b) < 2 || b[len(b)-1] != '}' {
		return b
	}
	sep := ","
	if bytes.Equal(bytes.TrimSpace(b[:len(b)-1]), []byte("{")) {
		sep = ""
	}
	out := make([]byte, 0, len(b)+12)
	out = append(out, b[:len(b)-1]...)
	out = append(out, sep+`"items":[]}`...)
	return out
}

// marshalStreamError writes an error met in the middle of a watch the way
// kube-apiserver does: {"type":"ERROR","object":{"kind":"Status",...}}.
func (m *jsonMarshaler) marshalStreamError(e proto.Message) ([]byte, error) {
	st := status.New(codes.Unknown, fmt.Sprint(e))
	if p, ok := e.(*spb.Status); ok {
		st = status.FromProto(p)
	}
	obj, err := m.marshalMessage(statusFromGRPC(st))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString(`{"type":"ERROR","object":`)
	buf.Write(obj)
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func (m *jsonMarshaler) Unmarshal(data []byte, v any) error {
	msg, ok := protoTarget(v, !isEmptyJSON(data))
	if !ok {
		return m.pb.Unmarshal(data, v)
	}
	if isEmptyJSON(data) {
		return io.EOF
	}
	if err := m.pb.UnmarshalOptions.Unmarshal(data, msg); err != nil {
		return decodeError(data, msg.ProtoReflect().Descriptor(), err)
	}
	return nil
}

// NewDecoder reads the whole body (the gateway has already capped its size) and
// decodes it as one document; an empty body yields io.EOF, which the generated
// handlers treat as "no body" (a DELETE without DeleteOptions).
func (m *jsonMarshaler) NewDecoder(r io.Reader) runtime.Decoder {
	return wholeBodyDecoder(r, m.Unmarshal)
}

func (m *jsonMarshaler) NewEncoder(w io.Writer) runtime.Encoder { return documentEncoder(w, m.Marshal) }

// wholeBodyDecoder decodes the whole of r as one document with unmarshal.
func wholeBodyDecoder(r io.Reader, unmarshal func([]byte, any) error) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		return unmarshal(data, v)
	})
}

// documentEncoder writes each value as one document made by marshal.
func documentEncoder(w io.Writer, marshal func(any) ([]byte, error)) runtime.Encoder {
	return runtime.EncoderFunc(func(v any) error {
		b, err := marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
}

// protoTarget finds the message to decode into: v itself, or *v when v is a
// pointer to a message pointer (the generated code decodes a body field as
// &req.Deployment); a nil *v is allocated only when alloc is set.
func protoTarget(v any, alloc bool) (proto.Message, bool) {
	if msg, ok := v.(proto.Message); ok {
		return msg, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, false
	}
	elem := rv.Elem()
	if elem.Kind() != reflect.Pointer || !elem.Type().Implements(protoMessageType) {
		return nil, false
	}
	if elem.IsNil() {
		if !alloc {
			return nil, true
		}
		elem.Set(reflect.New(elem.Type().Elem()))
	}
	return elem.Interface().(proto.Message), true
}

var protoMessageType = reflect.TypeFor[proto.Message]()

// yamlMarshaler reads and writes YAML by converting to and from jsonMarshaler's
// JSON (sigs.k8s.io/yaml, what kubectl and kube-apiserver use).
type yamlMarshaler struct {
	json *jsonMarshaler
}

var _ runtime.Marshaler = (*yamlMarshaler)(nil)

func (*yamlMarshaler) ContentType(any) string { return mimeYAML }

func (m *yamlMarshaler) Marshal(v any) ([]byte, error) {
	b, err := m.json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return yaml.JSONToYAML(b)
}

func (m *yamlMarshaler) Unmarshal(data []byte, v any) error {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return fmt.Errorf("error converting YAML to JSON: %w", err)
	}
	return m.json.Unmarshal(j, v)
}

func (m *yamlMarshaler) NewDecoder(r io.Reader) runtime.Decoder {
	return wholeBodyDecoder(r, m.Unmarshal)
}

func (m *yamlMarshaler) NewEncoder(w io.Writer) runtime.Encoder { return documentEncoder(w, m.Marshal) }
