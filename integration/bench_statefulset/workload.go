package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/podwarden/podwarden/integration/benchutil"
	"github.com/podwarden/podwarden/integration/harness"

	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

const (
	namespace = "default"
	oldImage  = "nginx:1.23"
	newImage  = "nginx:1.25"
)

type workload struct {
	s      *harness.System
	cfg    config
	policy string
	dsn    string
	sets   statefulsetv1.StatefulSetServiceClient
	claims statefulsetv1.PersistentVolumeClaimServiceClient
	vols   statefulsetv1.PersistentVolumeServiceClient
	pods   nodev1.PodServiceClient
	out    benchutil.Run
	// progress describes the last poll, for a timeout's error.
	progress string
}

func newWorkload(s *harness.System, cfg config, policy, dsn string) *workload {
	conn := s.Conn("statefulset")
	return &workload{s: s, cfg: cfg, policy: policy, dsn: dsn,
		sets:   statefulsetv1.NewStatefulSetServiceClient(conn),
		claims: statefulsetv1.NewPersistentVolumeClaimServiceClient(conn),
		vols:   statefulsetv1.NewPersistentVolumeServiceClient(conn),
		pods:   nodev1.NewPodServiceClient(s.Conn("node"))}
}

func setName(i int) string { return fmt.Sprintf("bench-%02d", i) }

func benchStatefulSet(i, replicas int, policy string) *statefulsetv1.StatefulSet {
	labels := map[string]string{"app": setName(i)}
	return &statefulsetv1.StatefulSet{
		Metadata: &corev1.ObjectMeta{Name: setName(i)},
		Spec: &statefulsetv1.StatefulSetSpec{
			Replicas:            proto.Int32(int32(replicas)),
			ServiceName:         setName(i),
			PodManagementPolicy: policy,
			Selector:            &corev1.LabelSelector{MatchLabels: labels},
			Template: &corev1.PodTemplateSpec{
				Metadata: &corev1.ObjectMeta{Labels: labels},
				Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: oldImage}}},
			},
			VolumeClaimTemplates: []*statefulsetv1.PersistentVolumeClaim{{
				Metadata: &corev1.ObjectMeta{Name: "data"},
				Spec: &statefulsetv1.PersistentVolumeClaimSpec{AccessModes: []string{"ReadWriteOnce"},
					Resources: &corev1.ResourceRequirements{Requests: map[string]*structpb.Value{"storage": structpb.NewStringValue("1Gi")}}},
			}},
		},
	}
}

func (w *workload) run(ctx context.Context) (benchutil.Run, error) {
	var tr *tracer
	if w.cfg.trace {
		var err error
		if tr, err = startTracer(ctx, w.pods); err != nil {
			return nil, err
		}
	}
	cpu0, pg0 := benchutil.CPUSeconds(w.s.PIDs()), benchutil.PostgresCPUSeconds(w.dsn)
	self0, machine0 := benchutil.SelfCPUSeconds(), benchutil.MachineBusySeconds()
	byProgram0 := benchutil.CPUSecondsByProgram(w.s.PIDs())
	total := w.cfg.sets * w.cfg.replicas

	// Creation: every pod Ready, every claim Bound.
	w.logf("creating %d StatefulSets x %d replicas", w.cfg.sets, w.cfg.replicas)
	start := time.Now()
	scenarioStart := start
	if err := benchutil.Parallel(w.cfg.sets, 16, func(i int) error {
		_, err := w.sets.CreateStatefulSet(ctx, &statefulsetv1.CreateStatefulSetRequest{Namespace: namespace,
			StatefulSet: benchStatefulSet(i, w.cfg.replicas, w.policy)})
		return err
	}); err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	var bound time.Duration
	revisions, readyAt, err := w.waitSets(ctx, 1, nil, func() bool {
		if bound > 0 {
			return true
		}
		if n, _ := w.boundClaims(ctx); n == total {
			bound = time.Since(start)
		}
		return bound > 0
	})
	if err != nil {
		return nil, err
	}
	ready := readyAt.Sub(start)
	cpu1, pg1 := benchutil.CPUSeconds(w.s.PIDs()), benchutil.PostgresCPUSeconds(w.dsn)
	w.out.Add("ready_seconds", ready.Seconds(), "s")
	w.out.Add("pods_ready_per_s", float64(total)/ready.Seconds(), "pods/s")
	if w.policy == "OrderedReady" {
		w.out.Add("ready_per_ordinal_ms", ms(ready)/float64(w.cfg.replicas), "ms")
	}
	w.out.Add("claims_bound_seconds", bound.Seconds(), "s")

	// A rolling update of every set: the new revision on every pod, all Ready.
	w.logf("all pods Ready after %.1fs, all claims Bound after %.1fs; rolling update", ready.Seconds(), bound.Seconds())
	start = time.Now()
	if err := benchutil.Parallel(w.cfg.sets, 16, func(i int) error {
		g, err := w.sets.GetStatefulSet(ctx, &statefulsetv1.GetStatefulSetRequest{Namespace: namespace, Name: setName(i)})
		if err != nil {
			return err
		}
		g.StatefulSet.Spec.Template.Spec.Containers[0].Image = newImage
		_, err = w.sets.UpdateStatefulSet(ctx, &statefulsetv1.UpdateStatefulSetRequest{Namespace: namespace, Name: setName(i), StatefulSet: g.StatefulSet})
		return err
	}); err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	_, doneAt, err := w.waitSets(ctx, 2, revisions, nil)
	if err != nil {
		return nil, err
	}
	rollout := doneAt.Sub(start)
	w.logf("rolled out after %.1fs", rollout.Seconds())
	cpu2, pg2 := benchutil.CPUSeconds(w.s.PIDs()), benchutil.PostgresCPUSeconds(w.dsn)
	self2, machine2 := benchutil.SelfCPUSeconds(), benchutil.MachineBusySeconds()
	byProgram2 := benchutil.CPUSecondsByProgram(w.s.PIDs())
	wall := time.Since(scenarioStart).Seconds()
	w.out.Add("rolling_update_seconds", rollout.Seconds(), "s")
	w.out.Add("rolling_update_per_ordinal_ms", ms(rollout)/float64(w.cfg.replicas), "ms")
	w.out.Add("services_cpu_seconds", cpu2-cpu0, "cpu-s")
	w.out.Add("services_cpu_seconds_create", cpu1-cpu0, "cpu-s")
	w.out.Add("services_cpu_seconds_rollout", cpu2-cpu1, "cpu-s")
	for _, p := range []string{"statefulset", "node"} {
		w.out.Add("services_cpu_seconds_"+p, byProgram2["podwarden-"+p]-byProgram0["podwarden-"+p], "cpu-s")
	}
	w.out.Add("postgres_cpu_seconds", pg2-pg0, "cpu-s")
	w.out.Add("postgres_cpu_seconds_create", pg1-pg0, "cpu-s")
	w.out.Add("postgres_cpu_seconds_rollout", pg2-pg1, "cpu-s")
	w.out.Add("services_peak_rss_mib", float64(benchutil.PeakRSSKiB(w.s.PIDs()))/1024, "MiB")
	// The benchmark process runs the polling clients and the embedded NATS server.
	w.out.Add("bench_process_cpu_seconds", self2-self0, "cpu-s")
	// What else ran on the machine meanwhile (other people's work), as a share of
	// all its CPUs over the scenario.
	other := (machine2 - machine0) - (cpu2 - cpu0) - (pg2 - pg0) - (self2 - self0)
	w.out.Add("other_work_cpu_seconds", other, "cpu-s")
	w.out.Add("other_work_cpu_percent", 100*other/(wall*float64(runtime.NumCPU())), "% of the machine")

	// What the figures claim, checked once at the end (outside the measurements).
	if err := w.verify(ctx, total); err != nil {
		return nil, err
	}
	if tr != nil {
		tr.report(w, start)
	}
	return w.out, nil
}

// logf prints progress with the time of day (to line up with profiles).
func (w *workload) logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s %s: %s\n", time.Now().Format("15:04:05.000"), w.policy, fmt.Sprintf(format, a...))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// waitSets waits until every set has observed the given generation and runs all
// replicas Ready on one revision (currentRevision == updateRevision, all updated),
// a different one than before (when before is given), and until also() (when
// given) holds. It returns the sets' revisions and when the sets were first seen
// done.
func (w *workload) waitSets(ctx context.Context, generation int64, before map[string]string, also func() bool) (map[string]string, time.Time, error) {
	want := int32(w.cfg.replicas)
	revisions := map[string]string{}
	alsoDone := also == nil
	var lastAlso, doneAt time.Time
	err := benchutil.Poll(ctx, w.cfg.timeout, 20*time.Millisecond, fmt.Sprintf("generation %d rolled out", generation), func() (bool, error) {
		r, err := w.sets.ListStatefulSets(ctx, &statefulsetv1.ListStatefulSetsRequest{Namespace: namespace})
		if err != nil {
			return false, err
		}
		done, ready := 0, int32(0)
		for _, set := range r.Items {
			st := set.GetStatus()
			ready += st.GetReadyReplicas()
			name := set.GetMetadata().GetName()
			if set.GetMetadata().GetGeneration() == generation && st.GetObservedGeneration() == generation &&
				st.GetReplicas() == want && st.GetReadyReplicas() == want && st.GetUpdatedReplicas() == want &&
				st.GetCurrentRevision() == st.GetUpdateRevision() && st.GetUpdateRevision() != "" &&
				(before == nil || st.GetUpdateRevision() != before[name]) {
				done++
				revisions[name] = st.GetUpdateRevision()
			}
		}
		first := done == w.cfg.sets && doneAt.IsZero()
		if first {
			doneAt = time.Now()
		}
		// Claims are listed every 250 ms (all of them at every poll would weigh on
		// the system measured), and at once when the pods are done.
		if !alsoDone && (first || time.Since(lastAlso) > 250*time.Millisecond) {
			alsoDone, lastAlso = also(), time.Now()
		}
		w.progress = fmt.Sprintf("%d/%d sets done, %d pods ready, extra condition met: %v", done, w.cfg.sets, ready, alsoDone)
		return !doneAt.IsZero() && alsoDone, nil
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: %s", err, w.progress)
	}
	return revisions, doneAt, nil
}

func (w *workload) boundClaims(ctx context.Context) (int, error) {
	r, err := w.claims.ListPersistentVolumeClaims(ctx, &statefulsetv1.ListPersistentVolumeClaimsRequest{Namespace: namespace})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range r.Items {
		if c.GetStatus().GetPhase() == "Bound" && c.GetSpec().GetVolumeName() != "" {
			n++
		}
	}
	return n, nil
}

func isReady(p *corev1.Pod) bool {
	return p.GetStatus().GetPhase() == podutil.PodRunning && p.GetMetadata().GetDeletionTimestamp() == nil && podutil.IsPodReady(p)
}

// verify: exactly the pods wanted, all Ready on the new image; every claim Bound
// to a volume, every volume Bound.
func (w *workload) verify(ctx context.Context, total int) error {
	pods, err := w.pods.ListPods(ctx, &nodev1.ListPodsRequest{Namespace: namespace})
	if err != nil {
		return err
	}
	good := 0
	for _, p := range pods.Items {
		if isReady(p) && p.GetSpec().GetContainers()[0].GetImage() == newImage {
			good++
		}
	}
	if len(pods.Items) != total || good != total {
		return fmt.Errorf("%d pods, %d of them Ready on %s; want %d", len(pods.Items), good, newImage, total)
	}
	claims, err := w.boundClaims(ctx)
	if err != nil {
		return err
	}
	vols, err := w.vols.ListPersistentVolumes(ctx, &statefulsetv1.ListPersistentVolumesRequest{})
	if err != nil {
		return err
	}
	boundVols := 0
	for _, v := range vols.Items {
		if v.GetStatus().GetPhase() == "Bound" {
			boundVols++
		}
	}
	if claims != total || len(vols.Items) != total || boundVols != total {
		return fmt.Errorf("%d claims Bound, %d volumes (%d Bound); want %d", claims, len(vols.Items), boundVols, total)
	}
	w.out.Add("claims_bound", float64(claims), "claims")
	w.out.Add("volumes_bound", float64(boundVols), "volumes")
	return nil
}
