package integration

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/podwarden/podwarden/integration/harness"
)

// candidate runs client-go's leader election for one identity on the Lease
// default/demo-controller, through the gateway, until its context ends.
type candidate struct {
	id      string
	cancel  context.CancelFunc
	leading chan struct{} // closed when it starts leading
	done    chan struct{} // closed when RunOrDie returns
}

func startCandidate(t *testing.T, cs kubernetes.Interface, id string) *candidate {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &candidate{id: id, cancel: cancel, leading: make(chan struct{}), done: make(chan struct{})}
	var once sync.Once
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Name: "demo-controller", Namespace: "default"},
			Client:     cs.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: id},
		},
		LeaseDuration:   4 * time.Second,
		RenewDeadline:   3 * time.Second,
		RetryPeriod:     300 * time.Millisecond,
		ReleaseOnCancel: true,
		Name:            "demo-controller",
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) { once.Do(func() { close(c.leading) }) },
			OnStoppedLeading: func() {},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() { defer close(c.done); le.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-c.done })
	return c
}

func waitClosed(t *testing.T, ch <-chan struct{}, limit time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(limit):
		t.Fatalf("%s: not after %s", what, limit)
	}
}

// TestLeaseLeaderElection: client-go's leader election (resourcelock.LeaseLock)
// works through the gateway against the core service: one candidate leads, a
// second takes over when the first stops and releases the Lease, and
// `kubectl get leases -A` shows the holder. Lease times are MicroTime on the wire.
func TestLeaseLeaderElection(t *testing.T) {
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	cs := kubernetes.NewForConfigOrDie(&rest.Config{Host: s.GatewayURL})

	first := startCandidate(t, cs, "candidate-a")
	waitClosed(t, first.leading, 30*time.Second, "candidate-a leading")
	second := startCandidate(t, cs, "candidate-b")

	lease := a.mustGet("/apis/coordination.k8s.io/v1/namespaces/default/leases/demo-controller")
	spec, _ := lease["spec"].(map[string]any)
	if spec["holderIdentity"] != "candidate-a" || spec["leaseDurationSeconds"] != float64(4) {
		t.Fatalf("lease spec %v", spec)
	}
	micro := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)
	for _, f := range []string{"acquireTime", "renewTime"} {
		if v, _ := spec[f].(string); !micro.MatchString(v) {
			t.Errorf("spec.%s = %q, want RFC 3339 with six fractional digits", f, v)
		}
	}
	select {
	case <-second.leading:
		t.Fatal("candidate-b leads while candidate-a holds the lease")
	default:
	}

	first.cancel()
	waitClosed(t, first.done, 10*time.Second, "candidate-a stopped")
	waitClosed(t, second.leading, 15*time.Second, "candidate-b leading after candidate-a released")
	got, err := cs.CoordinationV1().Leases("default").Get(context.Background(), "demo-controller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.HolderIdentity == nil || *got.Spec.HolderIdentity != "candidate-b" || got.Spec.LeaseTransitions == nil || *got.Spec.LeaseTransitions != 1 {
		t.Fatalf("lease spec after takeover: %+v", got.Spec)
	}

	bin := kubectlBin(t)
	k := newKubectl(t, bin, s.GatewayURL)
	out := k.within(30*time.Second, "get", "leases", "-A")
	if !regexp.MustCompile(`(?m)^NAMESPACE\s+NAME\s+HOLDER\s+AGE$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^default\s+demo-controller\s+candidate-b\s+\S+$`).MatchString(out) {
		t.Fatalf("kubectl get leases -A:\n%s", out)
	}
	if out := k.within(30*time.Second, "api-resources", "--api-group=coordination.k8s.io"); !strings.Contains(out, "leases") {
		t.Fatalf("kubectl api-resources:\n%s", out)
	}
}

// TestLeaseAPI: create, validation with Kubernetes' messages, merge patch, watch
// and delete of Leases over REST and kubectl.
func TestLeaseAPI(t *testing.T) {
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	const base = "/apis/coordination.k8s.io/v1/namespaces/team/leases"
	a.expect(a.postJSON("/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "team"}}), 201, "create namespace team")
	cs := kubernetes.NewForConfigOrDie(&rest.Config{Host: s.GatewayURL})
	w, err := cs.CoordinationV1().Leases("team").Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// The watch has started once it sees a change made after it: a probe lease. (The
	// exact story of "lock" below needs the watch running before lock is created.)
	a.expect(a.postJSON(base, map[string]any{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
		"metadata": map[string]any{"name": "probe"}, "spec": map[string]any{"holderIdentity": "probe"}}), 201, "create probe lease")
	for started := false; !started; {
		select {
		case ev := <-w.ResultChan():
			l, ok := ev.Object.(*coordinationv1.Lease)
			started = ok && l.Name == "probe"
		case <-time.After(30 * time.Second):
			t.Fatal("the watch never saw the probe lease")
		}
	}

	bad := a.expect(a.postJSON(base, map[string]any{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
		"metadata": map[string]any{"name": "bad"}, "spec": map[string]any{"leaseDurationSeconds": 0, "leaseTransitions": -1}}), 422, "invalid lease")
	msg, _ := bad["message"].(string)
	for _, want := range []string{"spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0", "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	a.expect(a.get(base+"/bad"), 404, "the invalid lease is not stored")

	created := a.expect(a.postJSON(base, map[string]any{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
		"metadata": map[string]any{"name": "lock"}, "spec": map[string]any{"holderIdentity": "me", "leaseDurationSeconds": 15,
			"renewTime": "2026-12-07T18:49:27.123456789+01:00"}}), 201, "create lease")
	if rt := created["spec"].(map[string]any)["renewTime"]; rt != "2026-12-07T17:49:27.123456Z" {
		t.Errorf("renewTime = %v, want UTC microseconds", rt)
	}
	patched := a.expect(a.mergePatch(base+"/lock", `{"spec":{"holderIdentity":"you","leaseTransitions":1}}`), 200, "patch lease")
	if sp := patched["spec"].(map[string]any); sp["holderIdentity"] != "you" || sp["leaseTransitions"] != float64(1) {
		t.Fatalf("patched spec %v", sp)
	}

	// A client that sends Kubernetes protobuf (as controller-runtime may) creates one too.
	pb := kubernetes.NewForConfigOrDie(&rest.Config{Host: s.GatewayURL, ContentConfig: rest.ContentConfig{
		ContentType: "application/vnd.kubernetes.protobuf", AcceptContentTypes: "application/vnd.kubernetes.protobuf,application/json"}})
	holder, now := "pb", metav1.NewMicroTime(time.Now())
	made, err := pb.CoordinationV1().Leases("team").Create(context.Background(), &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "pb-lock"}, Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, RenewTime: &now}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !made.Spec.RenewTime.Time.Equal(now.Time.Truncate(time.Microsecond)) {
		t.Errorf("renewTime %v, sent %v", made.Spec.RenewTime, now)
	}

	bin := kubectlBin(t)
	k := newKubectl(t, bin, s.GatewayURL)
	if out := k.within(30*time.Second, "get", "lease", "lock", "-n", "team", "-o", "jsonpath={.spec.holderIdentity}"); out != "you" {
		t.Fatalf("holder %q", out)
	}
	k.within(30*time.Second, "delete", "lease", "lock", "-n", "team")
	a.expect(a.get(base+"/lock"), 404, "deleted lease")

	// The watch saw the whole story of lock.
	var seen []string
	deadline := time.After(30 * time.Second)
	for len(seen) == 0 || !strings.HasPrefix(seen[len(seen)-1], "DELETED") {
		select {
		case ev := <-w.ResultChan():
			if l, ok := ev.Object.(*coordinationv1.Lease); ok && l.Name == "lock" {
				seen = append(seen, string(ev.Type)+" "+ptrString(l.Spec.HolderIdentity))
			}
		case <-deadline:
			t.Fatalf("watch events %v", seen)
		}
	}
	if want := []string{"ADDED me", "MODIFIED you", "DELETED you"}; strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("watch events %v, want %v", seen, want)
	}
}

func ptrString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
