package controller

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/job/internal/api"
	"github.com/podwarden/podwarden/services/job/internal/kinds"
	"github.com/podwarden/podwarden/services/job/internal/migrations"
	"github.com/podwarden/podwarden/shared/apply/applytest"
	"github.com/podwarden/podwarden/shared/clock"
	ctlr "github.com/podwarden/podwarden/shared/controller"
	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/testenv"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

// These tests run the sync against a real Postgres (no NATS, no loops running:
// a sync's Enqueue is a no-op) and read back the rows, the pod commands in the
// outbox and the events it wrote.

func TestMain(m *testing.M) { testenv.Main(m) }

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func newController(t *testing.T) (*Controller, *store.DB) {
	t.Helper()
	return newControllerWith(t, Config{})
}

func newControllerWith(t *testing.T, cfg Config) (*Controller, *store.DB) {
	t.Helper()
	db := applytest.OpenDB(t, "job_sync", migrations.FS)
	hub := applytest.Hub(t, db)
	caches := Caches{Jobs: watch.For(hub, kinds.Jobs, nil), CronJobs: watch.For(hub, kinds.CronJobs, nil), Pods: watch.For(hub, kinds.Pods, nil)}
	return New(db, nil, hub, caches, slog.New(slog.NewTextHandler(io.Discard, nil)), clock.NewFake(t0), cfg), db
}

// run runs one sync once the caches hold every write so far, and fails if it
// modified a cached object.
func (c *Controller) run(t *testing.T, sync func(context.Context, string) error, key string) {
	t.Helper()
	applytest.RunSynced(t, c.in.Hub, sync, key, applytest.All(c.caches.Jobs), applytest.All(c.caches.CronJobs), applytest.All(c.caches.Pods))
}

// storeJob stores pi, defaulted as the API does (one completion, parallelism 1).
func storeJob(t *testing.T, db *store.DB, mutate ...func(*jobv1.Job)) *jobv1.Job {
	t.Helper()
	j := &jobv1.Job{ApiVersion: "batch/v1", Kind: "Job",
		Metadata: &corev1.ObjectMeta{Name: "pi", Namespace: "default", CreationTimestamp: timestamppb.New(t0)},
		Spec: &jobv1.JobSpec{Template: &corev1.PodTemplateSpec{
			Spec: &corev1.PodSpec{RestartPolicy: "Never", Containers: []*corev1.Container{{Name: "pi", Image: "perl:5.34"}}}}}}
	for _, m := range mutate {
		m(j)
	}
	api.DefaultJob(j)
	j, err := kinds.Jobs.Create(context.Background(), db.Pool, j)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func (c *Controller) mustSync(t *testing.T) {
	t.Helper()
	c.run(t, c.syncJob, "default/pi")
}

// TestSyncJob: the first sync writes the pod with its pod.create, the status and
// SuccessfulCreate on the Job; a repeat writes nothing more.
func TestSyncJob(t *testing.T) {
	c, db := newController(t)
	storeJob(t, db)
	c.mustSync(t)
	pods := applytest.Names(t, db, kinds.Pods)
	if len(pods) != 1 {
		t.Fatalf("pods %v", pods)
	}
	applytest.Equal(t, "commands", applytest.Commands(t, db), "[OP_CREATE:"+pods[0]+"]")
	applytest.Equal(t, "events", applytest.Events(t, db), "[Job/pi SuccessfulCreate: Created pod: "+pods[0]+"]")
	j, err := kinds.Jobs.Get(context.Background(), db.Pool, "default", "pi")
	if err != nil {
		t.Fatal(err)
	}
	if j.GetStatus().GetActive() != 1 || j.GetStatus().GetStartTime() == nil {
		t.Fatalf("status %v", j.GetStatus())
	}
	c.mustSync(t)
	if n := len(applytest.Commands(t, db)); n != 1 {
		t.Fatalf("%d commands after the repeat", n)
	}
}

// TestSyncJobAdoptsOrphans: like Kubernetes' getPodsForJob (ClaimPods), a Job
// adopts the orphan pods its selector matches (left by an orphaning delete of
// an earlier Job with the same manual selector): the pod gets the Job as its
// controller (an UPDATE command) and counts as active, so no pod is created.
func TestSyncJobAdoptsOrphans(t *testing.T) {
	c, db := newController(t)
	labels := map[string]string{"app": "pi"}
	j := storeJob(t, db, func(j *jobv1.Job) {
		yes := true
		j.Spec.ManualSelector = &yes
		j.Spec.Selector = &corev1.LabelSelector{MatchLabels: labels}
		j.Spec.Template.Metadata = &corev1.ObjectMeta{Labels: labels}
	})
	orphan := &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: "pi-orphan", Namespace: "default", Labels: labels,
		CreationTimestamp: timestamppb.New(t0.Add(-time.Minute))},
		Spec: &corev1.PodSpec{NodeName: "node-1"}, Status: &corev1.PodStatus{Phase: "Running"}}
	other := &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: &corev1.PodSpec{}, Status: &corev1.PodStatus{Phase: "Running"}}
	for _, p := range []*corev1.Pod{orphan, other} {
		if _, err := kinds.Pods.Create(context.Background(), db.Pool, p); err != nil {
			t.Fatal(err)
		}
	}
	c.mustSync(t) // the adoption, alone
	c.mustSync(t) // the plan, on the adopted pod: nothing to create
	applytest.Equal(t, "commands", applytest.Commands(t, db), "[OP_UPDATE:pi-orphan]")
	owners := map[string]string{}
	for _, p := range applytest.List(t, db, kinds.Pods) {
		owners[p.Metadata.Name] = podutil.GetControllerOf(p.Metadata).GetUid()
	}
	if want := map[string]string{"pi-orphan": j.Metadata.Uid, "web": ""}; fmt.Sprint(owners) != fmt.Sprint(want) {
		t.Fatalf("controllers %v, want %v", owners, want)
	}
}

// TestSyncJobForeground: a Job deleted in the foreground deletes its pods and
// stays until the node service reported them gone.
func TestSyncJobForeground(t *testing.T) {
	c, db := newController(t)
	storeJob(t, db)
	c.mustSync(t)
	pods := applytest.Names(t, db, kinds.Pods)
	applytest.ClearOutbox(t, db)
	applytest.DeleteForeground(t, db, kinds.Jobs, "default", "pi", t0)
	c.mustSync(t)
	c.mustSync(t)
	applytest.Equal(t, "commands", applytest.Commands(t, db), "[OP_DELETE:"+pods[0]+"]")
	applytest.Equal(t, "jobs", applytest.Names(t, db, kinds.Jobs), "[pi(deleting)]")
	applytest.PodsGone(t, db)
	c.mustSync(t)
	applytest.Equal(t, "jobs", applytest.Names(t, db, kinds.Jobs), "[]")
}

// TestSyncCronJobForeground: a CronJob deleted in the foreground deletes its
// Jobs in the foreground (Kubernetes' garbage collector: a dependent with
// dependents of its own goes in the foreground too): the Job's pods go first,
// then the Job, then the CronJob. Before, the Jobs and the CronJob went at once.
func TestSyncCronJobForeground(t *testing.T) {
	c, db := newController(t)
	ctx := context.Background()
	cj := &jobv1.CronJob{ApiVersion: "batch/v1", Kind: "CronJob",
		Metadata: &corev1.ObjectMeta{Name: "hello", Namespace: "default", CreationTimestamp: timestamppb.New(t0)},
		Spec: &jobv1.CronJobSpec{Schedule: "0 0 1 1 *", JobTemplate: &jobv1.JobTemplateSpec{Spec: &jobv1.JobSpec{Template: &corev1.PodTemplateSpec{
			Spec: &corev1.PodSpec{RestartPolicy: "Never", Containers: []*corev1.Container{{Name: "hello", Image: "busybox"}}}}}}}}
	api.DefaultCronJob(cj)
	cj, err := kinds.CronJobs.Create(ctx, db.Pool, cj)
	if err != nil {
		t.Fatal(err)
	}
	storeJob(t, db, func(j *jobv1.Job) {
		j.Metadata.OwnerReferences = []*corev1.OwnerReference{podview.ControllerRefTo("batch/v1", "CronJob", cj.Metadata)}
	})
	c.mustSync(t)
	pods := applytest.Names(t, db, kinds.Pods)
	applytest.ClearOutbox(t, db)
	applytest.DeleteForeground(t, db, kinds.CronJobs, "default", "hello", t0)
	syncCron := func() {
		t.Helper()
		c.run(t, c.syncCronJob, "default/hello")
	}
	syncCron()
	applytest.Equal(t, "cronjobs", applytest.Names(t, db, kinds.CronJobs), "[hello(deleting)]")
	applytest.Equal(t, "jobs", applytest.Names(t, db, kinds.Jobs), "[pi(deleting)]")
	c.mustSync(t)
	applytest.Equal(t, "commands", applytest.Commands(t, db), "[OP_DELETE:"+pods[0]+"]")
	syncCron()
	applytest.Equal(t, "cronjobs", applytest.Names(t, db, kinds.CronJobs), "[hello(deleting)]")
	applytest.PodsGone(t, db)
	c.mustSync(t)
	applytest.Equal(t, "jobs", applytest.Names(t, db, kinds.Jobs), "[]")
	syncCron()
	applytest.Equal(t, "cronjobs", applytest.Names(t, db, kinds.CronJobs), "[]")
}

// TestPodChangesShareOneJobSync: as with Kubernetes' syncJobBatchPeriod, a pod's
// change wakes its Job only after the batch period, so that the changes of its pods
// meanwhile are counted by one sync and one status write (before, each pod's change
// synced the Job: five syncs and five status writes for five completions).
func TestPodChangesShareOneJobSync(t *testing.T) {
	const period = 3 * time.Second
	c, db := newControllerWith(t, Config{SyncBatchPeriod: period})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	storeJob(t, db, func(j *jobv1.Job) { j.Spec.Parallelism, j.Spec.Completions = proto.Int32(3), proto.Int32(3) })
	c.mustSync(t)
	pods := applytest.List(t, db, kinds.Pods)
	if len(pods) != 3 {
		t.Fatalf("%d pods", len(pods))
	}
	// The Job loop, recording its syncs; every write so far handled before it runs.
	var mu sync.Mutex
	var synced []string
	syncs := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(synced) }
	c.jobs = ctlr.New(ctlr.Config{Name: "job", Workers: 1, Sync: func(_ context.Context, key string) error {
		mu.Lock()
		defer mu.Unlock()
		synced = append(synced, key)
		return nil
	}})
	now, err := store.CurrentRV(ctx, db.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.in.Hub.Seen(ctx, now); err != nil {
		t.Fatal(err)
	}
	go c.jobs.Run(ctx)
	start := time.Now()
	for _, p := range pods {
		p.Status = &corev1.PodStatus{Phase: "Succeeded"}
		p, err := kinds.Pods.Update(ctx, db.Pool, p)
		if err != nil {
			t.Fatal(err)
		}
		rv, _ := strconv.ParseInt(p.GetMetadata().GetResourceVersion(), 10, 64)
		if err := c.in.Hub.Seen(ctx, rv); err != nil { // the change handled
			t.Fatal(err)
		}
		// For a while (well inside the period) the Job is not synced; without the
		// batch period it would be at once.
		for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if s := syncs(); len(s) != 0 && time.Since(start) < period {
				t.Fatalf("synced %v before the batch period ended", s)
			}
		}
	}
	deadline := time.Now().Add(period + 20*time.Second)
	for len(syncs()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the Job was never synced")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := syncs(); fmt.Sprint(s) != "[default/pi]" {
		t.Fatalf("synced %v, want the Job once", s)
	}
}
