package integration

import (
	"context"
	"encoding/base64"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/podwarden/podwarden/integration/harness"
)

// TestConfigMapsAndSecretsWithKubectl: the tutorial commands for ConfigMaps and
// Secrets work against the gateway as in a cluster: kubectl create configmap and
// secret generic (which send Kubernetes protobuf), the tables, -o jsonpath of a
// base64 value, stringData merged into data and never stored, the type rules,
// and immutable objects refusing changes with Kubernetes' message.
func TestConfigMapsAndSecretsWithKubectl(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	k := newKubectl(t, bin, s.GatewayURL)

	k.within(30*time.Second, "create", "configmap", "x", "--from-literal=a=b", "--from-literal=c=d")
	out := k.within(30*time.Second, "get", "configmaps")
	if !regexp.MustCompile(`(?m)^NAME\s+DATA\s+AGE$`).MatchString(out) || !regexp.MustCompile(`(?m)^x\s+2\s+\S+$`).MatchString(out) {
		t.Fatalf("kubectl get configmaps:\n%s", out)
	}
	if v := k.within(30*time.Second, "get", "cm", "x", "-o", "jsonpath={.data.a}"); v != "b" {
		t.Fatalf("data.a = %q", v)
	}

	k.within(30*time.Second, "create", "secret", "generic", "s", "--from-literal=p=q")
	out = k.within(30*time.Second, "get", "secrets")
	if !regexp.MustCompile(`(?m)^NAME\s+TYPE\s+DATA\s+AGE$`).MatchString(out) || !regexp.MustCompile(`(?m)^s\s+Opaque\s+1\s+\S+$`).MatchString(out) {
		t.Fatalf("kubectl get secrets:\n%s", out)
	}
	enc := k.within(30*time.Second, "get", "secret", "s", "-o", "jsonpath={.data.p}")
	if dec, err := base64.StdEncoding.DecodeString(enc); err != nil || string(dec) != "q" {
		t.Fatalf("data.p = %q (decoded %q, %v)", enc, dec, err)
	}

	// stringData is merged into data on create and on patch, and never stored.
	created := a.expect(a.postJSON("/api/v1/namespaces/default/secrets", map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "login"}, "type": "kubernetes.io/basic-auth",
		"data": map[string]any{"username": base64.StdEncoding.EncodeToString([]byte("old"))}, "stringData": map[string]any{"username": "admin", "password": "pw"}}), 201, "create basic-auth secret")
	if _, ok := created["stringData"]; ok {
		t.Fatalf("stringData returned: %v", created)
	}
	data, _ := created["data"].(map[string]any)
	if data["username"] != base64.StdEncoding.EncodeToString([]byte("admin")) || data["password"] != base64.StdEncoding.EncodeToString([]byte("pw")) {
		t.Fatalf("data %v", data)
	}
	k.within(30*time.Second, "patch", "secret", "login", "-p", `{"stringData":{"password":"new"}}`)
	cs := kubernetes.NewForConfigOrDie(&rest.Config{Host: s.GatewayURL})
	got, err := cs.CoreV1().Secrets("default").Get(context.Background(), "login", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Data["password"]) != "new" || string(got.Data["username"]) != "admin" || len(got.StringData) != 0 || got.Type != "kubernetes.io/basic-auth" {
		t.Fatalf("secret after patch: data %q stringData %v type %s", got.Data, got.StringData, got.Type)
	}

	// Type rules and key names, with Kubernetes' messages; nothing is stored.
	bad := a.expect(a.postJSON("/api/v1/namespaces/default/secrets", map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "cert"}, "type": "kubernetes.io/tls", "stringData": map[string]any{"tls.crt": "x", "bad key": "y"}}), 422, "tls secret without key")
	msg, _ := bad["message"].(string)
	for _, want := range []string{`data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters`, "data[tls.key]: Required value"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	a.expect(a.get("/api/v1/namespaces/default/secrets/cert"), 404, "invalid secret not stored")

	// An immutable ConfigMap refuses data changes.
	a.expect(a.postJSON("/api/v1/namespaces/default/configmaps", map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "frozen"}, "immutable": true, "data": map[string]any{"k": "v"}}), 201, "create immutable configmap")
	r := a.mergePatch("/api/v1/namespaces/default/configmaps/frozen", `{"data":{"k":"w"}}`)
	if body := a.expect(r, 422, "change immutable configmap"); !strings.Contains(body["message"].(string), "data: Forbidden: field is immutable when `immutable` is set") {
		t.Fatalf("message %v", body["message"])
	}

	// kubectl apply (client-side: create, then a strategic merge patch) and the other secret generators.
	dir := t.TempDir()
	manifest := dir + "/cm.yaml"
	for _, mode := range []string{"easy", "hard"} {
		if err := os.WriteFile(manifest, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: game\ndata:\n  mode: "+mode+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		k.within(30*time.Second, "apply", "-f", manifest)
	}
	if v := k.within(30*time.Second, "get", "cm", "game", "-o", "jsonpath={.data.mode}"); v != "hard" {
		t.Fatalf("applied mode %q", v)
	}
	k.within(30*time.Second, "create", "secret", "docker-registry", "reg", "--docker-server=registry.example.com", "--docker-username=u", "--docker-password=p")
	if out := k.within(30*time.Second, "get", "secret", "reg"); !regexp.MustCompile(`(?m)^reg\s+kubernetes.io/dockerconfigjson\s+1\s+\S+$`).MatchString(out) {
		t.Fatalf("kubectl get secret reg:\n%s", out)
	}

	k.within(30*time.Second, "delete", "configmap", "x")
	k.within(30*time.Second, "delete", "secret", "s")
	a.expect(a.get("/api/v1/namespaces/default/configmaps/x"), 404, "deleted configmap")
}
