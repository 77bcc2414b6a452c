package controller

import (
	"slices"
	"testing"
)

func TestNamespaceOf(t *testing.T) {
	tests := map[string]struct {
		payload string
		want    string
		ok      bool
	}{
		"namespaced":      {payload: "ConfigMap/team-a/settings", want: "team-a", ok: true},
		"name with slash": {payload: "Lease/kube-system/a/b", want: "kube-system", ok: true},
		"cluster-scoped":  {payload: "StorageClass//standard"},
		"reconnect":       {payload: ""},
		"malformed":       {payload: "ConfigMap"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := NamespaceOf(tc.payload)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("NamespaceOf(%q) = %q, %v; want %q, %v", tc.payload, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestNamespacesInUse(t *testing.T) {
	tests := map[string]struct {
		builtin, stored, want []string
	}{
		"nothing stored":  {builtin: BuiltinNamespaces, want: []string{"default", "kube-system"}},
		"stored and dups": {builtin: BuiltinNamespaces, stored: []string{"team", "default", "", "app"}, want: []string{"app", "default", "kube-system", "team"}},
		"no builtins":     {stored: []string{"b", "a", "b"}, want: []string{"a", "b"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := NamespacesInUse(tc.builtin, tc.stored); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDefaultServiceAccount(t *testing.T) {
	sa := DefaultServiceAccount("team")
	if sa.GetMetadata().GetName() != "default" || sa.GetMetadata().GetNamespace() != "team" || sa.GetKind() != "ServiceAccount" || sa.GetApiVersion() != "v1" {
		t.Fatalf("%v", sa)
	}
}
