package service_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/podwarden/podwarden/shared/testenv"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	eventsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/events/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

func podQuota(name string, pods string) *corev1.ResourceQuota {
	return &corev1.ResourceQuota{ApiVersion: "v1", Kind: "ResourceQuota", Metadata: &corev1.ObjectMeta{Name: name},
		Spec: &corev1.ResourceQuotaSpec{Hard: map[string]*structpb.Value{"pods": structpb.NewStringValue(pods)}}}
}

// TestQuotaRaceForTheLastSlots: ten clients and ten commanded pods race for
// three slots of a quota at once: exactly three pods are stored, the others are
// refused (403 with Kubernetes' message; DELETED with create_refused for the
// commanded ones), and status.used says 3.
func TestQuotaRaceForTheLastSlots(t *testing.T) {
	e := newEnv(t, nil)
	quotas := corev1.NewResourceQuotaServiceClient(e.conn)
	if _, err := quotas.CreateResourceQuota(e.ctx(), &corev1.CreateResourceQuotaRequest{Namespace: "default", ResourceQuota: podQuota("three", "3")}); err != nil {
		t.Fatal(err)
	}
	var (
		wg                sync.WaitGroup
		mu                sync.Mutex
		created, refusals int
	)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.pods.CreatePod(e.ctx(), &nodev1.CreatePodRequest{Namespace: "default", Pod: barePod(fmt.Sprintf("client-%d", i))})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case status.Code(err) == codes.PermissionDenied && strings.Contains(err.Error(), "exceeded quota: three, requested: pods=1, used: pods=3, limited: pods=3"):
				refusals++
			default:
				t.Errorf("create: %v", err)
			}
		}()
		e.command(eventsv1.PodCommand_OP_CREATE, rsPod(fmt.Sprintf("commanded-%d", i)), nil)
	}
	wg.Wait()
	stored := func() int {
		l, err := e.pods.ListPods(e.ctx(), &nodev1.ListPodsRequest{Namespace: "default"})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}
	testenv.Eventually(t, 20*time.Second, "every commanded pod stored or refused", func() bool {
		n := 0
		for i := range 10 {
			if ev := e.podEvts.get(fmt.Sprintf("uid-commanded-%d", i)); ev != nil {
				n++
			}
		}
		return n == 10
	})
	commandedRefused := 0
	for i := range 10 {
		ev := e.podEvts.get(fmt.Sprintf("uid-commanded-%d", i))
		if ev.GetType() == eventsv1.PodEvent_TYPE_DELETED {
			if want := fmt.Sprintf(`pods "commanded-%d" is forbidden: exceeded quota: three`, i); !strings.HasPrefix(ev.GetCreateRefused(), want) {
				t.Errorf("refusal %q, want %q...", ev.GetCreateRefused(), want)
			}
			commandedRefused++
		}
	}
	if n := stored(); n != 3 || created+10-commandedRefused != 3 || refusals+commandedRefused != 17 {
		t.Fatalf("stored %d pods (clients: %d created, %d refused; commanded: %d refused), want 3", n, created, refusals, commandedRefused)
	}
	testenv.Eventually(t, 10*time.Second, "status.used", func() bool {
		q, err := quotas.GetResourceQuota(e.ctx(), &corev1.GetResourceQuotaRequest{Namespace: "default", Name: "three"})
		return err == nil && q.GetResourceQuota().GetStatus().GetUsed()["pods"].GetStringValue() == "3" &&
			q.GetResourceQuota().GetStatus().GetHard()["pods"].GetStringValue() == "3"
	})
}
