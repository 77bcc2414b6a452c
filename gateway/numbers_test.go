package gateway

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

func int64p(v int64) *int64 { return &v }

func TestMarshalWritesIntegersAsNumbers(t *testing.T) {
	tests := map[string]struct {
		msg  proto.Message
		want string
	}{
		"ObjectMeta.generation and optional int64": {
			msg:  &corev1.ObjectMeta{Name: "a", Generation: 7, DeletionGracePeriodSeconds: int64p(30)},
			want: `{"name":"a","generation":7,"deletionGracePeriodSeconds":30}`,
		},
		"Event.count (int32) and nested generation": {
			msg:  &corev1.Event{Metadata: &corev1.ObjectMeta{Generation: 2}, Count: 4, LastTimestamp: timestamppb.New(timestamppb.Now().AsTime().Truncate(1e9).UTC())},
			want: `"generation":2`,
		},
		"int64 inside list items": {
			msg: &deploymentv1.ListDeploymentsResponse{Items: []*deploymentv1.Deployment{
				{Metadata: &corev1.ObjectMeta{Generation: 1}}, {Metadata: &corev1.ObjectMeta{Generation: 9007199254740993}},
			}},
			want: `"items":[{"metadata":{"generation":1}},{"metadata":{"generation":9007199254740993}}]`,
		},
		"IntOrString Value left alone": {
			msg: &deploymentv1.RollingUpdateDeployment{
				MaxSurge: structpb.NewStringValue("25%"), MaxUnavailable: structpb.NewNumberValue(1),
			},
			want: `{"maxUnavailable":1,"maxSurge":"25%"}`,
		},
		"numeric-looking strings stay strings": {
			msg:  &corev1.ObjectMeta{Name: "123", ResourceVersion: "42", Labels: map[string]string{"n": "5"}},
			want: `"resourceVersion":"42"`,
		},
		"quantities in a map of Value": {
			msg:  &corev1.ResourceRequirements{Requests: map[string]*structpb.Value{"cpu": structpb.NewStringValue("100m"), "pods": structpb.NewNumberValue(3)}},
			want: `"cpu":"100m"`,
		},
		"no HTML escaping": {
			msg:  &corev1.ObjectMeta{Annotations: map[string]string{"a": "<b>&"}},
			want: `{"annotations":{"a":"<b>&"}}`,
		},
		"empty list items": {
			msg:  &deploymentv1.ListDeploymentsResponse{Kind: "DeploymentList"},
			want: `{"kind":"DeploymentList","items":[]}`,
		},
	}
	m := newJSONMarshaler()
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := m.Marshal(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			compact := compactJSON(t, b)
			if !strings.Contains(compact, tc.want) {
				t.Errorf("got %s\nwant it to contain %s", compact, tc.want)
			}
			// Whatever was written reads back as the same message.
			back := tc.msg.ProtoReflect().New().Interface()
			if err := m.Unmarshal(b, back); err != nil {
				t.Fatalf("read back: %v", err)
			}
			if !proto.Equal(back, tc.msg) {
				t.Errorf("read back %v, want %v", back, tc.msg)
			}
		})
	}
}

func compactJSON(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	// Re-encode preserving the original order: just strip protojson's whitespace.
	var sb strings.Builder
	inString, escaped := false, false
	for _, c := range string(b) {
		switch {
		case escaped:
			escaped = false
		case c == '\\' && inString:
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\n' || c == '\t'):
			continue
		}
		sb.WriteRune(c)
	}
	return sb.String()
}

func TestStreamChunks(t *testing.T) {
	m := newJSONMarshaler()
	b, err := m.Marshal(map[string]any{"result": &deploymentv1.WatchDeploymentsResponse{Type: "ADDED", Object: &deploymentv1.Deployment{Metadata: &corev1.ObjectMeta{Generation: 3}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := compactJSON(t, b); got != `{"type":"ADDED","object":{"metadata":{"generation":3}}}` {
		t.Errorf("chunk %s", got)
	}
}
