package controller

import (
	"testing"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func TestRootCAUpdate(t *testing.T) {
	const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	tests := map[string]struct {
		cm   *corev1.ConfigMap
		want bool // an update is due
	}{
		"as wanted":       {cm: RootCAConfigMap("team", pem)},
		"other CA":        {cm: RootCAConfigMap("team", "old"), want: true},
		"extra key":       {cm: &corev1.ConfigMap{Metadata: RootCAConfigMap("team", pem).Metadata, Data: map[string]string{RootCAKey: pem, "x": "y"}}, want: true},
		"binary data":     {cm: &corev1.ConfigMap{Metadata: RootCAConfigMap("team", pem).Metadata, Data: map[string]string{RootCAKey: pem}, BinaryData: map[string][]byte{"b": nil}}, want: true},
		"annotation gone": {cm: &corev1.ConfigMap{Metadata: &corev1.ObjectMeta{Name: RootCAConfigMapName, Namespace: "team"}, Data: map[string]string{RootCAKey: pem}}, want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			next := RootCAUpdate(tc.cm, pem)
			if (next != nil) != tc.want {
				t.Fatalf("update %v, want one: %v", next, tc.want)
			}
			if next == nil {
				return
			}
			if len(next.GetData()) != 1 || next.GetData()[RootCAKey] != pem || len(next.GetBinaryData()) != 0 ||
				next.GetMetadata().GetAnnotations()[RootCADescriptionAnnotation] != RootCADescription {
				t.Fatalf("update %v", next)
			}
			if tc.cm.GetData()[RootCAKey] == pem && next == tc.cm {
				t.Fatal("the update must be a copy")
			}
		})
	}
}
