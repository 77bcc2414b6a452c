package server

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func configMap(name string, data map[string]string, bin map[string][]byte) *corev1.ConfigMap {
	return &corev1.ConfigMap{Metadata: &corev1.ObjectMeta{Name: name, Namespace: "default"}, Data: data, BinaryData: bin}
}

// checkErrs compares a field.ErrorList's texts with wanted prefixes, in order.
func checkErrs(t *testing.T, got []string, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("errors %q, want %d: %q", got, len(want), want)
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("error %d = %q, want prefix %q", i, got[i], w)
		}
	}
}

func TestValidateConfigMap(t *testing.T) {
	tests := map[string]struct {
		cm   *corev1.ConfigMap
		want []string
	}{
		"valid":    {cm: configMap("game-config", map[string]string{"game.properties": "x", "ui-mode": "dark", "_k": "v"}, map[string][]byte{"logo.png": {1, 2}})},
		"bad name": {cm: configMap("Game", nil, nil), want: []string{`metadata.name: Invalid value: "Game"`}},
		"bad data key": {cm: configMap("c", map[string]string{"a b": "x", "..": "y"}, nil), want: []string{
			`data[..]: Invalid value: "..": must not be '..'`,
			`data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric characters, '-', '_' or '.'`}},
		"bad binary key": {cm: configMap("c", nil, map[string][]byte{"a/b": nil}), want: []string{`binaryData[a/b]: Invalid value: "a/b": a valid config key`}},
		"duplicate key": {cm: configMap("c", map[string]string{"k": "x"}, map[string][]byte{"k": {1}}), want: []string{
			`data[k]: Invalid value: "k": duplicate of key present in binaryData`}},
		"exactly 1 MiB": {cm: configMap("c", map[string]string{"a": strings.Repeat("x", MaxDataSize-1)}, map[string][]byte{"b": {1}})},
		"over 1 MiB": {cm: configMap("c", map[string]string{"a": strings.Repeat("x", MaxDataSize)}, map[string][]byte{"b": {1}}), want: []string{
			`[]: Too long: may not be more than 1048576 bytes`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, e := range ValidateConfigMap(tc.cm, nil, true) {
				got = append(got, e.Error())
			}
			checkErrs(t, got, tc.want)
		})
	}
}

func TestValidateConfigMapUpdateImmutable(t *testing.T) {
	old := configMap("c", map[string]string{"k": "v"}, map[string][]byte{"b": {1}})
	old.Immutable = proto.Bool(true)
	old.Metadata.ResourceVersion = "7"
	tests := map[string]struct {
		edit func(c *corev1.ConfigMap)
		want []string
	}{
		"labels may change": {edit: func(c *corev1.ConfigMap) { c.Metadata.Labels = map[string]string{"a": "b"} }},
		"data":              {edit: func(c *corev1.ConfigMap) { c.Data["k"] = "w" }, want: []string{"data: Forbidden: field is immutable when `immutable` is set"}},
		"binaryData":        {edit: func(c *corev1.ConfigMap) { c.BinaryData = nil }, want: []string{"binaryData: Forbidden: field is immutable when `immutable` is set"}},
		"immutable unset":   {edit: func(c *corev1.ConfigMap) { c.Immutable = nil }, want: []string{"immutable: Forbidden: field is immutable when `immutable` is set"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := proto.Clone(old).(*corev1.ConfigMap)
			tc.edit(c)
			var got []string
			for _, e := range ValidateConfigMap(c, old, false) {
				got = append(got, e.Error())
			}
			checkErrs(t, got, tc.want)
		})
	}
}
