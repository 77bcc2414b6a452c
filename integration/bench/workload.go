package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/integration/benchutil"
	"github.com/podwarden/podwarden/integration/harness"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

type workload struct {
	s       *harness.System
	cfg     config
	d       deploymentv1.DeploymentServiceClient
	pods    nodev1.PodServiceClient
	dsn     string
	figures benchutil.Run
	// progress describes the last poll, for a timeout's error.
	progress string
}

func newWorkload(s *harness.System, cfg config, dsn string) *workload {
	return &workload{s: s, cfg: cfg, dsn: dsn,
		d:    deploymentv1.NewDeploymentServiceClient(s.Conn("deployment")),
		pods: nodev1.NewPodServiceClient(s.Conn("node"))}
}

func (w *workload) add(name string, v float64, unit string) {
	w.figures.Add(name, v, unit)
}

func deploymentName(i int) string { return fmt.Sprintf("bench-%03d", i) }

func benchDeployment(i, replicas int) *deploymentv1.Deployment {
	labels := map[string]string{"app": deploymentName(i)}
	return &deploymentv1.Deployment{
		Metadata: &corev1.ObjectMeta{Name: deploymentName(i)},
		Spec: &deploymentv1.DeploymentSpec{
			Replicas: proto.Int32(int32(replicas)),
			Selector: &corev1.LabelSelector{MatchLabels: labels},
			Template: &corev1.PodTemplateSpec{
				Metadata: &corev1.ObjectMeta{Labels: labels},
				Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: "nginx:1.23"}}},
			},
		},
	}
}

func (w *workload) run(ctx context.Context) (benchutil.Run, error) {
	cpu0 := benchutil.CPUSeconds(w.s.PIDs())
	pg0 := benchutil.PostgresCPUSeconds(w.dsn)
	byProgram0 := benchutil.CPUSecondsByProgram(w.s.PIDs())
	total := w.cfg.deployments * w.cfg.replicas

	start := time.Now()
	if err := benchutil.Parallel(w.cfg.deployments, 16, func(i int) error {
		_, err := w.d.CreateDeployment(ctx, &deploymentv1.CreateDeploymentRequest{Namespace: "default", Deployment: benchDeployment(i, w.cfg.replicas)})
		return err
	}); err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	if err := w.waitRolledOut(ctx, 1); err != nil {
		return nil, err
	}
	ready := time.Since(start).Seconds()
	sc := w.cfg.scale
	w.add(sc+"_pods_ready_seconds", ready, "s")
	w.add(sc+"_pods_ready_per_s", float64(total)/ready, "pods/s")
	// What each process and Postgres spent until every pod was Ready, per 1,000 pods:
	// the controllers' sync cost, and how it grows with the size of the world.
	per1000 := 1000 / float64(total)
	sum := 0.0
	for prog, cpu := range benchutil.CPUSecondsByProgram(w.s.PIDs()) {
		w.add(sc+"_cpu_per_1000_pods_"+strings.TrimPrefix(prog, "podwarden-"), (cpu-byProgram0[prog])*per1000, "cpu-s")
		sum += cpu - byProgram0[prog]
	}
	pg := benchutil.PostgresCPUSeconds(w.dsn) - pg0
	w.add(sc+"_cpu_per_1000_pods_postgres", pg*per1000, "cpu-s")
	w.add(sc+"_cpu_per_1000_pods", (sum+pg)*per1000, "cpu-s")

	start = time.Now()
	if err := benchutil.Parallel(w.cfg.deployments, 16, func(i int) error {
		g, err := w.d.GetDeployment(ctx, &deploymentv1.GetDeploymentRequest{Namespace: "default", Name: deploymentName(i)})
		if err != nil {
			return err
		}
		g.Deployment.Spec.Template.Spec.Containers[0].Image = "nginx:1.25"
		_, err = w.d.UpdateDeployment(ctx, &deploymentv1.UpdateDeploymentRequest{Namespace: "default", Name: deploymentName(i), Deployment: g.Deployment})
		return err
	}); err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	if err := w.waitRolledOut(ctx, 2); err != nil {
		return nil, err
	}
	w.add(sc+"_rolling_update_seconds", time.Since(start).Seconds(), "s")

	if err := w.latency(ctx); err != nil {
		return nil, err
	}

	start = time.Now()
	if err := benchutil.Parallel(w.cfg.deployments, 16, func(i int) error {
		_, err := w.d.DeleteDeployment(ctx, &deploymentv1.DeleteDeploymentRequest{Namespace: "default", Name: deploymentName(i)})
		return err
	}); err != nil {
		return nil, fmt.Errorf("delete: %w", err)
	}
	if err := benchutil.Poll(ctx, 5*time.Minute, 20*time.Millisecond, "all pods gone", func() (bool, error) {
		r, err := w.pods.ListPods(ctx, &nodev1.ListPodsRequest{})
		return err == nil && len(r.GetItems()) == 0, err
	}); err != nil {
		return nil, err
	}
	w.add(sc+"_delete_all_seconds", time.Since(start).Seconds(), "s")

	w.add(w.cfg.scale+"_system_cpu_seconds", benchutil.CPUSeconds(w.s.PIDs())-cpu0, "cpu-s")
	w.add(w.cfg.scale+"_postgres_cpu_seconds", benchutil.PostgresCPUSeconds(w.dsn)-pg0, "cpu-s")
	w.add(w.cfg.scale+"_services_peak_rss_mib", float64(benchutil.PeakRSSKiB(w.s.PIDs()))/1024, "MiB")
	return w.figures, nil
}

// waitRolledOut waits until every Deployment reports all replicas updated, ready and
// available for the given revision's generation, and no old replicas.
func (w *workload) waitRolledOut(ctx context.Context, generation int64) error {
	err := benchutil.Poll(ctx, w.cfg.timeout, 20*time.Millisecond, fmt.Sprintf("rollout of generation %d", generation), func() (bool, error) {
		r, err := w.d.ListDeployments(ctx, &deploymentv1.ListDeploymentsRequest{Namespace: "default"})
		if err != nil {
			return false, err
		}
		done, ready := 0, int32(0)
		want := int32(w.cfg.replicas)
		defer func() {
			w.progress = fmt.Sprintf("%d/%d deployments done, %d pods ready", done, w.cfg.deployments, ready)
		}()
		for _, d := range r.Items {
			ready += d.GetStatus().GetReadyReplicas()
			st := d.GetStatus()
			if d.Metadata.Generation == generation && st.GetObservedGeneration() == generation && st.GetReplicas() == want &&
				st.GetUpdatedReplicas() == want && st.GetReadyReplicas() == want && st.GetAvailableReplicas() == want {
				done++
			}
		}
		return done == w.cfg.deployments, nil
	})
	if err != nil {
		return fmt.Errorf("%w: %s\n%s", err, w.progress, w.s.Logs(3000))
	}
	return nil
}

// latency measures Get and Scale under concurrent clients.
func (w *workload) latency(ctx context.Context) error {
	measure := func(op func(i int) error) ([]time.Duration, error) {
		var mu sync.Mutex
		var all []time.Duration
		err := benchutil.Parallel(w.cfg.clients, w.cfg.clients, func(c int) error {
			lat := make([]time.Duration, 0, w.cfg.requests)
			for r := range w.cfg.requests {
				t := time.Now()
				if err := op(c*w.cfg.requests + r); err != nil {
					return err
				}
				lat = append(lat, time.Since(t))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
			return nil
		})
		sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
		return all, err
	}
	gets, err := measure(func(i int) error {
		_, err := w.d.GetDeployment(ctx, &deploymentv1.GetDeploymentRequest{Namespace: "default", Name: deploymentName(i % w.cfg.deployments)})
		return err
	})
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	scales, err := measure(func(i int) error {
		name := deploymentName(i % w.cfg.deployments)
		_, err := w.d.UpdateDeploymentScale(ctx, &deploymentv1.UpdateDeploymentScaleRequest{Namespace: "default", Name: name,
			Scale: &corev1.Scale{Spec: &corev1.ScaleSpec{Replicas: int32(w.cfg.replicas)}}})
		return err
	})
	if err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	w.add(w.cfg.scale+"_api_get_p50_ms", ms(gets[len(gets)/2]), "ms")
	w.add(w.cfg.scale+"_api_get_p99_ms", ms(gets[len(gets)*99/100]), "ms")
	w.add(w.cfg.scale+"_api_scale_p50_ms", ms(scales[len(scales)/2]), "ms")
	w.add(w.cfg.scale+"_api_scale_p99_ms", ms(scales[len(scales)*99/100]), "ms")
	return nil
}
