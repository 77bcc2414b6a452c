package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"

	"github.com/podwarden/podwarden/integration/harness"
	"github.com/podwarden/podwarden/shared/testenv"
)

// TestEventsV1Recorder: client-go's events.k8s.io/v1 recorder (tools/events, what
// controller-runtime's recorders use) creates an Event and, on a repeat, patches
// its series; the event is served at both paths, with each version's field
// names, and kubectl shows it with the controllers' own.
func TestEventsV1Recorder(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	k := newKubectl(t, bin, s.GatewayURL)
	cs := kubernetes.NewForConfigOrDie(&rest.Config{Host: s.GatewayURL})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	k.run("create", "deployment", "web", "--image=nginx")
	dep, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: cs.EventsV1()})
	broadcaster.StartRecordingToSink(ctx.Done())
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, "example.com/scaler")
	recorder.Eventf(dep, nil, "Normal", "Tuned", "Tune", "tuned %s", "web")

	testenv.Eventually(t, 30*time.Second, "the recorded event at events.k8s.io/v1", func() bool {
		l, err := cs.EventsV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "reason=Tuned"})
		return err == nil && len(l.Items) == 1 && l.Items[0].Note == "tuned web" && l.Items[0].Regarding.Name == "web" &&
			l.Items[0].ReportingController == "example.com/scaler"
	})
	recorder.Eventf(dep, nil, "Normal", "Tuned", "Tune", "tuned %s", "web")
	testenv.Eventually(t, 30*time.Second, "the repeat as a series", func() bool {
		l, err := cs.EventsV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "regarding.name=web,reason=Tuned"})
		return err == nil && len(l.Items) == 1 && l.Items[0].Series != nil && l.Items[0].Series.Count == 2
	})

	// The same event at core/v1, with its names there.
	core, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "reason=Tuned"})
	if err != nil || len(core.Items) != 1 || core.Items[0].Message != "tuned web" || core.Items[0].InvolvedObject.Kind != "Deployment" ||
		core.Items[0].ReportingController != "example.com/scaler" {
		t.Fatalf("core/v1 view: %+v, %v", core, err)
	}
	wantLines(t, k.run("get", "events.events.k8s.io", "--field-selector=reason=Tuned"), "Tuned", "deployment/web", "tuned web")
	testenv.Eventually(t, 30*time.Second, "kubectl events --for deployment/web", func() bool {
		out := k.run("events", "--for", "deployment/web")
		return strings.Contains(out, "tuned web") && strings.Contains(out, "ScalingReplicaSet")
	})

	// A watch at events.k8s.io/v1 sees new ones in its names.
	w, err := cs.EventsV1().Events("default").Watch(ctx, metav1.ListOptions{FieldSelector: "reason=Retuned"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	recorder.Eventf(dep, nil, "Warning", "Retuned", "Tune", "retuned")
	select {
	case ev := <-w.ResultChan():
		if e, ok := ev.Object.(interface{ GetName() string }); !ok || ev.Type != "ADDED" || e.GetName() == "" {
			t.Fatalf("watch event %v %#v", ev.Type, ev.Object)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no watch event for the new event")
	}
}
