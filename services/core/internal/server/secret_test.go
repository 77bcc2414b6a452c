package server

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func secret(typ string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{Metadata: &corev1.ObjectMeta{Name: "s", Namespace: "default"}, Type: typ}
	for k, v := range data {
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		s.Data[k] = []byte(v)
	}
	return s
}

func TestDefaultSecret(t *testing.T) {
	s := secret("", map[string]string{"a": "1", "b": "2"})
	s.StringData = map[string]string{"b": "two", "c": "3"}
	DefaultSecret(s)
	if s.Type != SecretTypeOpaque || s.StringData != nil || string(s.Data["a"]) != "1" || string(s.Data["b"]) != "two" || string(s.Data["c"]) != "3" {
		t.Fatalf("defaulted: type %q data %q stringData %v", s.Type, s.Data, s.StringData)
	}
	only := &corev1.Secret{StringData: map[string]string{"k": "v"}}
	DefaultSecret(only)
	if string(only.Data["k"]) != "v" {
		t.Fatalf("stringData only: %q", only.Data)
	}
}

func TestValidateSecret(t *testing.T) {
	tests := map[string]struct {
		s    *corev1.Secret
		want []string
	}{
		"opaque":      {s: secret("Opaque", map[string]string{"password": "x"})},
		"custom type": {s: secret("example.com/mine", nil)},
		"bad key":     {s: secret("Opaque", map[string]string{"a:b": "x"}), want: []string{`data[a:b]: Invalid value: "a:b": a valid config key`}},
		"too large": {s: secret("Opaque", map[string]string{"a": strings.Repeat("x", MaxDataSize+1)}), want: []string{
			"data: Too long: may not be more than 1048576 bytes"}},
		"tls":                      {s: secret(SecretTypeTLS, map[string]string{"tls.crt": "c", "tls.key": "k"})},
		"tls without both":         {s: secret(SecretTypeTLS, nil), want: []string{"data[tls.crt]: Required value", "data[tls.key]: Required value"}},
		"tls without key":          {s: secret(SecretTypeTLS, map[string]string{"tls.crt": "c"}), want: []string{"data[tls.key]: Required value"}},
		"dockerconfigjson":         {s: secret(SecretTypeDockerConfigJSON, map[string]string{".dockerconfigjson": `{"auths":{}}`})},
		"dockerconfigjson missing": {s: secret(SecretTypeDockerConfigJSON, nil), want: []string{"data[.dockerconfigjson]: Required value"}},
		"dockerconfigjson not json": {s: secret(SecretTypeDockerConfigJSON, map[string]string{".dockerconfigjson": "{"}), want: []string{
			`data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": unexpected end of JSON input`}},
		"dockercfg missing":    {s: secret(SecretTypeDockercfg, nil), want: []string{"data[.dockercfg]: Required value"}},
		"basic-auth user only": {s: secret(SecretTypeBasicAuth, map[string]string{"username": ""})},
		"basic-auth empty":     {s: secret(SecretTypeBasicAuth, nil), want: []string{"data[username]: Required value", "data[password]: Required value"}},
		"ssh-auth empty key":   {s: secret(SecretTypeSSHAuth, map[string]string{"ssh-privatekey": ""}), want: []string{"data[ssh-privatekey]: Required value"}},
		"service-account-token without annotation": {s: secret(SecretTypeServiceAccountToken, nil), want: []string{
			"metadata.annotations[kubernetes.io/service-account.name]: Required value"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, e := range ValidateSecret(tc.s, nil, true) {
				got = append(got, e.Error())
			}
			checkErrs(t, got, tc.want)
		})
	}
}

func TestValidateSecretUpdate(t *testing.T) {
	old := secret("Opaque", map[string]string{"k": "v"})
	old.Metadata.ResourceVersion = "7"
	frozen := proto.Clone(old).(*corev1.Secret)
	frozen.Immutable = proto.Bool(true)
	tests := map[string]struct {
		old  *corev1.Secret
		edit func(s *corev1.Secret)
		want []string
	}{
		"data may change":   {old: old, edit: func(s *corev1.Secret) { s.Data["k"] = []byte("w") }},
		"type is immutable": {old: old, edit: func(s *corev1.Secret) { s.Type = "example.com/other" }, want: []string{`type: Invalid value: "example.com/other": field is immutable`}},
		"immutable data":    {old: frozen, edit: func(s *corev1.Secret) { s.Data["k"] = []byte("w") }, want: []string{"data: Forbidden: field is immutable when `immutable` is set"}},
		"immutable unset":   {old: frozen, edit: func(s *corev1.Secret) { s.Immutable = proto.Bool(false) }, want: []string{"immutable: Forbidden: field is immutable when `immutable` is set"}},
		"immutable, labels": {old: frozen, edit: func(s *corev1.Secret) { s.Metadata.Labels = map[string]string{"a": "b"} }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := proto.Clone(tc.old).(*corev1.Secret)
			tc.edit(s)
			var got []string
			for _, e := range ValidateSecret(s, tc.old, false) {
				got = append(got, e.Error())
			}
			checkErrs(t, got, tc.want)
		})
	}
}
