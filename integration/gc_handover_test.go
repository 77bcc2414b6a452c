package integration

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podwarden/podwarden/integration/harness"
)

// TestGarbageCollectionAfterLeaderKill: chaos seeds 39 and 40. A Deployment scaled
// while the deployment service's lease holder is killed, then deleted in the
// Background around the hand-over (the killed replica restarted at once and taking its
// live lease back; the other replica just taken over; no replica leading yet): its
// ReplicaSets and pods are collected at once, not at the next resync (30 s). The race
// that seed 40 lost (a restarted replica leading before its caches had loaded) is
// TestLeadsOnceTheCachesHaveLoaded's, in shared/app.
func TestGarbageCollectionAfterLeaderKill(t *testing.T) {
	s := startSystem(t, harness.Options{Replicas: 2})
	a := api{t: t, base: s.GatewayURL}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for i := range 3 {
		name := fmt.Sprintf("web-%d", i)
		a.expect(a.postJSON(deploymentsPath, map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": name},
			"spec": map[string]any{"replicas": 2, "selector": map[string]any{"matchLabels": map[string]any{"app": name}},
				"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": name}},
					"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx"}}}}},
		}), http.StatusCreated, "create "+name)
		rolledOut(t, a, name, 2)
		a.expect(a.mergePatch(deploymentsPath+"/"+name+"/scale", `{"spec":{"replicas":4}}`), http.StatusOK, "scale")
		var holder string
		if err := conn.QueryRow(ctx, "SELECT holder FROM deployment.leases WHERE name='deployment-controllers'").Scan(&holder); err != nil {
			t.Fatal(err)
		}
		var victim *harness.Proc
		for _, p := range s.Procs("deployment") {
			if p.Name == holder {
				victim = p
			}
		}
		if victim == nil {
			t.Fatalf("lease holder %q is no running replica", holder)
		}
		s.KillProc(victim)
		restart := func() {
			if _, err := s.StartService("deployment", victim.Replica()); err != nil {
				t.Fatal(err)
			}
		}
		del := func() {
			a.expect(a.do(http.MethodDelete, deploymentsPath+"/"+name, "", nil), http.StatusOK, "delete "+name)
		}
		switch i % 3 {
		case 0: // restarted at once: the same identity takes its live lease back
			time.Sleep(600 * time.Millisecond)
			restart()
			rolledOut(t, a, name, 4)
			del()
		case 1: // deleted right after the other replica took over
			eventually(t, 10*time.Second, "the other replica leads", func() (bool, string) {
				var h string
				err := conn.QueryRow(ctx, "SELECT holder FROM deployment.leases WHERE name='deployment-controllers'").Scan(&h)
				return err == nil && h != holder, h
			})
			restart()
			del()
		case 2: // deleted while no replica leads (the gateway asks replica 0)
			if victim.Replica() == 0 {
				restart()
				del()
			} else {
				del()
				restart()
			}
		}
		deleted := time.Now()
		eventually(t, 10*time.Second, "the ReplicaSets and pods of "+name+" collected", func() (bool, string) {
			rss, pods := replicaSetsOf(t, a, "app="+name), podsOf(t, a, "app="+name)
			live := 0
			for _, p := range pods {
				if path(p, "metadata", "deletionTimestamp") == nil {
					live++
				}
			}
			return len(rss) == 0 && live == 0, fmt.Sprintf("%d ReplicaSets, %d live pods", len(rss), live)
		})
		t.Logf("%s: lease holder %s killed; collected %v after the delete", name, holder, time.Since(deleted).Round(time.Millisecond))
	}
}
