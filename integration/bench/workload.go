package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/podwarden/podwarden/integration/benchutil"
	"github.com/podwarden/podwarden/integration/harness"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// maxRecv lets a page of large objects through (gRPC's default limit of 4 MiB holds
// about 5,000 Deployments; -page sets the page size).
const maxRecv = 256 << 20

// phases are what a run can do; a scale lists which, in order.
var phases = map[string]func(w *workload, ctx context.Context) error{
	"ready":            (*workload).ready,
	"update":           (*workload).update,
	"latency":          (*workload).latency,
	"idle":             (*workload).idle,
	"delete":           (*workload).deleteAll,
	"nodes":            (*workload).nodesReady,
	"daemonset":        (*workload).daemonSet,
	"daemonset-update": (*workload).daemonSetUpdate,
}

type workload struct {
	s       *harness.System
	cfg     config
	d       deploymentv1.DeploymentServiceClient
	ds      daemonsetv1.DaemonSetServiceClient
	pods    nodev1.PodServiceClient
	nodes   nodev1.NodeServiceClient
	dsn     string
	figures benchutil.Run
	// started is when the system was started (the nodes phase counts from it).
	started time.Time
	// progress describes the last poll, for a timeout's error.
	progress string
}

func newWorkload(s *harness.System, cfg config, dsn string) *workload {
	return &workload{s: s, cfg: cfg, dsn: dsn,
		d:     deploymentv1.NewDeploymentServiceClient(s.Conn("deployment")),
		ds:    daemonsetv1.NewDaemonSetServiceClient(s.Conn("daemonset")),
		pods:  nodev1.NewPodServiceClient(s.Conn("node")),
		nodes: nodev1.NewNodeServiceClient(s.Conn("node"))}
}

func (w *workload) add(name string, v float64, unit string) {
	w.figures.Add(w.cfg.scale+"_"+name, v, unit)
}

// pids are every process of the system: the services, the gateway, NATS and the
// Postgres server.
func (w *workload) pids() []int {
	return append(w.s.PIDs(), benchutil.PostgresPIDs(w.dsn)...)
}

// cpu is the CPU-seconds of every process of the system so far, Postgres's
// reaped backends included.
func (w *workload) cpu() float64 {
	return benchutil.CPUSeconds(w.s.PIDs()) + benchutil.PostgresCPUSeconds(w.dsn)
}

func (w *workload) run(ctx context.Context) (benchutil.Run, error) {
	cpu0, pg0 := benchutil.CPUSeconds(w.s.PIDs()), benchutil.PostgresCPUSeconds(w.dsn)
	mem := benchutil.SampleMemory(max(w.cfg.interval, 250*time.Millisecond), w.pids)
	for _, name := range w.cfg.phases {
		if err := phases[name](w, ctx); err != nil {
			mem.Stop()
			return nil, fmt.Errorf("phase %s: %w", name, err)
		}
	}
	peak := mem.Stop()
	w.add("system_cpu_seconds", benchutil.CPUSeconds(w.s.PIDs())-cpu0, "cpu-s")
	w.add("postgres_cpu_seconds", benchutil.PostgresCPUSeconds(w.dsn)-pg0, "cpu-s")
	w.add("services_peak_rss_mib", float64(benchutil.PeakRSSKiB(w.s.PIDs()))/1024, "MiB")
	w.add("peak_rss_mib", peak, "MiB")
	return w.figures, nil
}

// poll waits for cond at the scale's interval, within the phase timeout.
func (w *workload) poll(ctx context.Context, what string, cond func() (bool, error)) error {
	return benchutil.Poll(ctx, w.cfg.timeout, w.cfg.interval, what, cond)
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

// ready creates the Deployments and waits until every one is rolled out: all of
// its pods Ready and available. It also counts what each process and Postgres spent
// until then, per 1,000 pods: the controllers' sync cost, and how it grows with the
// size of the world.
func (w *workload) ready(ctx context.Context) error {
	byProgram0 := benchutil.CPUSecondsByProgram(w.s.PIDs())
	pg0 := benchutil.PostgresCPUSeconds(w.dsn)
	total := w.cfg.deployments * w.cfg.replicas
	start := time.Now()
	if err := benchutil.Parallel(w.cfg.deployments, w.cfg.createWidth, func(i int) error {
		_, err := w.d.CreateDeployment(ctx, &deploymentv1.CreateDeploymentRequest{Namespace: "default", Deployment: benchDeployment(i, w.cfg.replicas)})
		return err
	}); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if err := w.waitRolledOut(ctx, 1); err != nil {
		return err
	}
	ready := time.Since(start).Seconds()
	w.add(w.cfg.readyFigure, ready, "s")
	w.add("pods_ready_per_s", float64(total)/ready, "pods/s")
	per1000 := 1000 / float64(total)
	sum := 0.0
	byProgram := benchutil.CPUSecondsByProgram(w.s.PIDs())
	for _, prog := range slices.Sorted(maps.Keys(byProgram)) {
		name := strings.TrimSuffix(strings.TrimPrefix(prog, "podwarden-"), "-server") // nats-server: nats
		w.add("cpu_per_1000_pods_"+name, (byProgram[prog]-byProgram0[prog])*per1000, "cpu-s")
		sum += byProgram[prog] - byProgram0[prog]
	}
	pg := benchutil.PostgresCPUSeconds(w.dsn) - pg0
	w.add("cpu_per_1000_pods_postgres", pg*per1000, "cpu-s")
	w.add("cpu_per_1000_pods", (sum+pg)*per1000, "cpu-s")
	return nil
}

// update rolls every Deployment out to a new image.
func (w *workload) update(ctx context.Context) error {
	start := time.Now()
	if err := benchutil.Parallel(w.cfg.deployments, w.cfg.createWidth, func(i int) error {
		g, err := w.d.GetDeployment(ctx, &deploymentv1.GetDeploymentRequest{Namespace: "default", Name: deploymentName(i)})
		if err != nil {
			return err
		}
		g.Deployment.Spec.Template.Spec.Containers[0].Image = "nginx:1.25"
		_, err = w.d.UpdateDeployment(ctx, &deploymentv1.UpdateDeploymentRequest{Namespace: "default", Name: deploymentName(i), Deployment: g.Deployment})
		return err
	}); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if err := w.waitRolledOut(ctx, 2); err != nil {
		return err
	}
	w.add("rolling_update_seconds", time.Since(start).Seconds(), "s")
	return nil
}

// idle leaves the system alone and measures the CPU every process spends (the
// services, the gateway, NATS and Postgres), as a percentage of one core.
func (w *workload) idle(ctx context.Context) error {
	cpu0, t0 := w.cpu(), time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(w.cfg.idle):
	}
	w.add("idle_cpu_percent", 100*(w.cpu()-cpu0)/time.Since(t0).Seconds(), "%")
	return nil
}

// deleteAll deletes every Deployment and waits until no pod is left.
func (w *workload) deleteAll(ctx context.Context) error {
	start := time.Now()
	if err := benchutil.Parallel(w.cfg.deployments, w.cfg.createWidth, func(i int) error {
		_, err := w.d.DeleteDeployment(ctx, &deploymentv1.DeleteDeploymentRequest{Namespace: "default", Name: deploymentName(i)})
		return err
	}); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := w.poll(ctx, "all pods gone", func() (bool, error) {
		n, err := w.countPods(ctx, "")
		w.progress = fmt.Sprintf("%d pods left", n)
		return err == nil && n == 0, err
	}); err != nil {
		return err
	}
	w.add("delete_all_seconds", time.Since(start).Seconds(), "s")
	return nil
}

// countPods counts the pods that match fieldSelector with a one-item page: its
// remaining item count is the rest, so no pod list crosses the wire.
func (w *workload) countPods(ctx context.Context, fieldSelector string) (int, error) {
	r, err := w.pods.ListPods(ctx, &nodev1.ListPodsRequest{FieldSelector: fieldSelector, Limit: 1, ResourceVersion: "0"})
	if err != nil {
		return 0, err
	}
	return len(r.GetItems()) + int(r.GetMetadata().GetRemainingItemCount()), nil
}

// listDeployments lists every Deployment, page by page.
func (w *workload) listDeployments(ctx context.Context) ([]*deploymentv1.Deployment, error) {
	return benchutil.ListAll(func(cont string) ([]*deploymentv1.Deployment, string, error) {
		req := &deploymentv1.ListDeploymentsRequest{Namespace: "default", Limit: int64(w.cfg.pageSize), Continue: cont}
		if cont == "" {
			req.ResourceVersion = "0" // any state the cache has: no consistent read for a poll
		}
		r, err := w.d.ListDeployments(ctx, req, grpc.MaxCallRecvMsgSize(maxRecv))
		return r.GetItems(), r.GetMetadata().GetContinue(), err
	})
}

// waitRolledOut waits until every Deployment reports all replicas updated, ready and
// available for the given generation, and no old replicas.
func (w *workload) waitRolledOut(ctx context.Context, generation int64) error {
	want := int32(w.cfg.replicas)
	total := w.cfg.deployments * w.cfg.replicas
	return w.poll(ctx, fmt.Sprintf("rollout of generation %d", generation), func() (bool, error) {
		// Every pod Running is necessary for every Deployment available, and costs one
		// small page to count: list the Deployments only once it holds.
		if running, err := w.countPods(ctx, "status.phase=Running"); err != nil || running < total {
			w.progress = fmt.Sprintf("%d/%d pods Running", running, total)
			return false, err
		}
		items, err := w.listDeployments(ctx)
		if err != nil {
			return false, err
		}
		done, ready := 0, int32(0)
		for _, d := range items {
			st := d.GetStatus()
			ready += st.GetReadyReplicas()
			if d.Metadata.Generation == generation && st.GetObservedGeneration() == generation && st.GetReplicas() == want &&
				st.GetUpdatedReplicas() == want && st.GetReadyReplicas() == want && st.GetAvailableReplicas() == want {
				done++
			}
		}
		w.progress = fmt.Sprintf("%d/%d deployments done, %d pods ready", done, w.cfg.deployments, ready)
		return done == w.cfg.deployments, nil
	})
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
	w.add("api_get_p50_ms", ms(gets[len(gets)/2]), "ms")
	w.add("api_get_p99_ms", ms(gets[len(gets)*99/100]), "ms")
	w.add("api_scale_p50_ms", ms(scales[len(scales)/2]), "ms")
	w.add("api_scale_p99_ms", ms(scales[len(scales)*99/100]), "ms")
	return nil
}

// nodesReady waits until every simulated node has joined and is Ready, and counts
// the seconds from the start of the system.
func (w *workload) nodesReady(ctx context.Context) error {
	if err := w.poll(ctx, "every node Ready", func() (bool, error) {
		nodes, err := benchutil.ListAll(func(cont string) ([]*nodev1.Node, string, error) {
			r, err := w.nodes.ListNodes(ctx, &nodev1.ListNodesRequest{Limit: int64(w.cfg.pageSize), Continue: cont}, grpc.MaxCallRecvMsgSize(maxRecv))
			return r.GetItems(), r.GetMetadata().GetContinue(), err
		})
		if err != nil {
			return false, err
		}
		ready := 0
		for _, n := range nodes {
			for _, c := range n.GetStatus().GetConditions() {
				if c.GetType() == "Ready" && c.GetStatus() == "True" {
					ready++
				}
			}
		}
		w.progress = fmt.Sprintf("%d/%d nodes Ready", ready, w.cfg.nodes)
		return ready == w.cfg.nodes, nil
	}); err != nil {
		return err
	}
	w.add("nodes_ready_seconds", time.Since(w.started).Seconds(), "s")
	return nil
}

const daemonSetName = "agent"

// daemonSet creates one DaemonSet of host-network pods (as node agents are) and
// waits until every worker runs a Ready one (the control plane is tainted).
func (w *workload) daemonSet(ctx context.Context) error {
	labels := map[string]string{"app": daemonSetName}
	start := time.Now()
	_, err := w.ds.CreateDaemonSet(ctx, &daemonsetv1.CreateDaemonSetRequest{Namespace: "default", DaemonSet: &daemonsetv1.DaemonSet{
		Metadata: &corev1.ObjectMeta{Name: daemonSetName},
		Spec: &daemonsetv1.DaemonSetSpec{
			Selector: &corev1.LabelSelector{MatchLabels: labels},
			UpdateStrategy: &daemonsetv1.DaemonSetUpdateStrategy{Type: "RollingUpdate", RollingUpdate: &daemonsetv1.RollingUpdateDaemonSet{
				MaxUnavailable: structpb.NewStringValue("10%"), MaxSurge: structpb.NewNumberValue(0)}},
			Template: &corev1.PodTemplateSpec{
				Metadata: &corev1.ObjectMeta{Labels: labels},
				Spec:     &corev1.PodSpec{HostNetwork: true, Containers: []*corev1.Container{{Name: "agent", Image: "agent:1"}}},
			},
		},
	}})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if err := w.waitDaemonSet(ctx, 1); err != nil {
		return err
	}
	w.add("daemonset_ready_seconds", time.Since(start).Seconds(), "s")
	return nil
}

// daemonSetUpdate rolls the DaemonSet out to a new image, 10% of the nodes at a time.
func (w *workload) daemonSetUpdate(ctx context.Context) error {
	start := time.Now()
	g, err := w.ds.GetDaemonSet(ctx, &daemonsetv1.GetDaemonSetRequest{Namespace: "default", Name: daemonSetName})
	if err != nil {
		return err
	}
	g.DaemonSet.Spec.Template.Spec.Containers[0].Image = "agent:2"
	if _, err := w.ds.UpdateDaemonSet(ctx, &daemonsetv1.UpdateDaemonSetRequest{Namespace: "default", Name: daemonSetName, DaemonSet: g.DaemonSet}); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if err := w.waitDaemonSet(ctx, 2); err != nil {
		return err
	}
	w.add("daemonset_rolling_update_seconds", time.Since(start).Seconds(), "s")
	return nil
}

// waitDaemonSet waits until generation gen is observed and every worker runs an
// updated, available pod.
func (w *workload) waitDaemonSet(ctx context.Context, gen int64) error {
	n := int32(w.cfg.nodes - 1)
	return w.poll(ctx, fmt.Sprintf("DaemonSet generation %d on every worker", gen), func() (bool, error) {
		g, err := w.ds.GetDaemonSet(ctx, &daemonsetv1.GetDaemonSetRequest{Namespace: "default", Name: daemonSetName})
		if err != nil {
			return false, err
		}
		st := g.DaemonSet.GetStatus()
		w.progress = fmt.Sprintf("status %v", st)
		return st.GetObservedGeneration() == gen && st.GetDesiredNumberScheduled() == n &&
			st.GetUpdatedNumberScheduled() == n && st.GetNumberAvailable() == n, nil
	})
}
