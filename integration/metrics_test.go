package integration

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
	"github.com/podwarden/podwarden/shared/metrics"
	"github.com/podwarden/podwarden/shared/testenv"
)

// scrape reads one number from the /metrics of a process of s ("gateway" or a service).
func scrape(t *testing.T, s *harness.System, process, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(s.MetricsURL(process))
	if err != nil {
		t.Fatalf("scrape %s: %v", process, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s", process, resp.Status)
	}
	g, err := metrics.ParseText(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: %v", process, err)
	}
	v, err := metrics.Value(g, name, labels...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// kubectl apply of a Deployment moves the gateway's request counter and the
// deployment service's workqueue, sync, outbox and pool metrics; the node service
// reports its JetStream consumers.
func TestMetricsMoveAfterACreate(t *testing.T) {
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	creates := []string{"verb", "POST", "group", "apps", "version", "v1", "resource", "deployments", "scope", "resource", "code", "201"}
	testenv.Eventually(t, 20*time.Second, "the deployment service leads", func() bool {
		return scrape(t, s, "deployment", "leader_election_master_status", "name", "deployment-controllers") == 1
	})
	before := map[string]float64{
		"gateway creates": scrape(t, s, "gateway", "apiserver_request_total", creates...),
		"adds":            scrape(t, s, "deployment", "workqueue_adds_total", "name", "deployment"),
		"syncs":           scrape(t, s, "deployment", "controller_runtime_reconcile_total", "controller", "deployment"),
		"published":       scrape(t, s, "deployment", "podwarden_outbox_published_total"),
		"acquires":        scrape(t, s, "deployment", "pgxpool_acquires_total"),
	}

	a.expect(a.do(http.MethodPost, deploymentsPath, "application/yaml", readManifest(t, "deployment-nginx.yaml")), http.StatusCreated, "create")

	if got := scrape(t, s, "gateway", "apiserver_request_total", creates...); got != before["gateway creates"]+1 {
		t.Fatalf("gateway apiserver_request_total{verb=POST,resource=deployments,code=201} = %v, want %v", got, before["gateway creates"]+1)
	}
	if got := scrape(t, s, "gateway", "apiserver_request_duration_seconds", "verb", "POST", "resource", "deployments"); got < 1 {
		t.Fatalf("gateway apiserver_request_duration_seconds has no create observed (%v)", got)
	}
	testenv.Eventually(t, 30*time.Second, "deployment service metrics move", func() bool {
		return scrape(t, s, "deployment", "workqueue_adds_total", "name", "deployment") > before["adds"] &&
			scrape(t, s, "deployment", "controller_runtime_reconcile_total", "controller", "deployment") > before["syncs"] &&
			scrape(t, s, "deployment", "podwarden_outbox_published_total") > before["published"] &&
			scrape(t, s, "deployment", "pgxpool_acquires_total") > before["acquires"]
	})
	rolledOut(t, a, "nginx-deployment", 1)
	testenv.Eventually(t, 30*time.Second, "the outbox drained and the node's consumers caught up", func() bool {
		return scrape(t, s, "deployment", "podwarden_outbox_pending_messages") == 0 &&
			scrape(t, s, "node", "jetstream_consumer_num_pending") == 0 &&
			scrape(t, s, "node", "workqueue_depth") == 0
	})
	if n := scrape(t, s, "node", "workqueue_adds_total"); n == 0 {
		t.Fatal("the node service's queues added nothing")
	}
	// The node service's pod-command consumer is reported (a lag of 0 is not a missing series).
	resp, err := http.Get(s.MetricsURL("node"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if want := `jetstream_consumer_num_pending{consumer="node",stream="POD_COMMANDS"} 0`; !strings.Contains(string(body), want) {
		t.Fatalf("node /metrics lacks %s", want)
	}
}
