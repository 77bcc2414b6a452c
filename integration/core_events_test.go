package integration

import (
	"context"
	"net/url"
	"regexp"
	"testing"
	"time"

	k8scorev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"

	"github.com/podwarden/podwarden/integration/harness"
)

// TestEventRecorder: client-go's event recorder (what controller-runtime's
// recorders are built on) posts events through the gateway to the core service,
// counts a repeat with a strategic merge patch, and the events show in the
// merged lists with the workload services' own, as kubectl get events shows them.
func TestEventRecorder(t *testing.T) {
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	cs := kubernetes.NewForConfigOrDie(&rest.Config{Host: s.GatewayURL})
	ctx := context.Background()

	cm, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &k8scorev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "watched"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := record.NewBroadcaster()
	defer b.Shutdown()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	rec := b.NewRecorder(scheme.Scheme, k8scorev1.EventSource{Component: "demo-controller"})
	rec.Event(cm, k8scorev1.EventTypeNormal, "Synced", "configmap synced")
	rec.Event(cm, k8scorev1.EventTypeNormal, "Synced", "configmap synced")

	path := "/api/v1/namespaces/default/events?fieldSelector=" + url.QueryEscape("involvedObject.name=watched")
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs := items(a.mustGet(path))
		if len(evs) == 1 && evs[0]["count"] == float64(2) && evs[0]["reason"] == "Synced" {
			if src, _ := evs[0]["source"].(map[string]any); src["component"] != "demo-controller" {
				t.Fatalf("event source %v", evs[0]["source"])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events about watched: %v", evs)
		}
		time.Sleep(100 * time.Millisecond) // poll interval, bounded by the deadline
	}

	// Invalid: the namespace of the event is not its object's.
	bad := a.expect(a.postJSON("/api/v1/namespaces/default/events", map[string]any{"apiVersion": "v1", "kind": "Event",
		"metadata": map[string]any{"name": "stray"}, "involvedObject": map[string]any{"kind": "Pod", "namespace": "other", "name": "p"}, "reason": "X"}), 422, "event in the wrong namespace")
	if msg, _ := bad["message"].(string); !regexp.MustCompile(`involvedObject.namespace: Invalid value: "other": does not match event.namespace`).MatchString(msg) {
		t.Fatalf("message %q", msg)
	}

	bin := kubectlBin(t)
	k := newKubectl(t, bin, s.GatewayURL)
	out := k.within(30*time.Second, "get", "events", "--field-selector", "involvedObject.name=watched")
	if !regexp.MustCompile(`(?m)Normal\s+Synced\s+configmap/watched\s+configmap synced`).MatchString(out) {
		t.Fatalf("kubectl get events:\n%s", out)
	}
}
