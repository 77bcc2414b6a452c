package controller

import (
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

func TestDefaultServiceAccount(t *testing.T) {
	sa := DefaultServiceAccount("team")
	if sa.GetMetadata().GetName() != "default" || sa.GetMetadata().GetNamespace() != "team" || sa.GetKind() != "ServiceAccount" || sa.GetApiVersion() != "v1" {
		t.Fatalf("%v", sa)
	}
}
