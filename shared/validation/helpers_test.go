package validation

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// unmarshal parses Kubernetes JSON into a proto message.
func unmarshal[T proto.Message](t *testing.T, js string, into T) T {
	t.Helper()
	if err := protojson.Unmarshal([]byte(js), into); err != nil {
		t.Fatalf("unmarshal %s: %v", js, err)
	}
	return into
}

// checkErrs compares the rendered errors with want, in order.
func checkErrs(t *testing.T, got field.ErrorList, want []string) {
	t.Helper()
	gotS := make([]string, 0, len(got))
	for _, e := range got {
		gotS = append(gotS, e.Error())
	}
	if strings.Join(gotS, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n  %s\nwant:\n  %s", strings.Join(gotS, "\n  "), strings.Join(want, "\n  "))
	}
}
