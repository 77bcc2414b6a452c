package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/pager"

	"github.com/podwarden/podwarden/integration/harness"
	"github.com/podwarden/podwarden/shared/testenv"
)

// kubectlBin is the real kubectl, or the test is skipped.
func kubectlBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not on PATH")
	}
	return bin
}

// within runs kubectl with kubectl's own default flags (delete waits for the object to
// be gone) and fails the test if it has not returned after limit.
func (k kubectl) within(limit time.Duration, args ...string) string {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.bin, append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+k.kubeconfig)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		k.t.Fatalf("kubectl %s still running after %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), limit, stdout.String(), stderr.String())
	}
	if err != nil {
		k.t.Fatalf("kubectl %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	k.t.Logf("$ kubectl %s (%.1fs)\n%s", strings.Join(args, " "), time.Since(start).Seconds(), stdout.String())
	return stdout.String()
}

// stream starts a long-running kubectl and sends its output lines to the channel.
func (k kubectl) stream(ctx context.Context, args ...string) <-chan string {
	cmd := exec.CommandContext(ctx, k.bin, append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+k.kubeconfig)
	out, _ := cmd.StdoutPipe()
	lines := make(chan string, 1000)
	if err := cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_ = cmd.Wait()
	}()
	return lines
}

// waitForDelete starts `kubectl wait --for=delete` and returns once kubectl has opened its
// watch (it logs its requests at -v=6); the channel gets its output when it exits.
func (k kubectl) waitForDelete(ctx context.Context, obj string) <-chan string {
	k.t.Helper()
	cmd := exec.CommandContext(ctx, k.bin, "--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir, "-v=6",
		"wait", "--for=delete", obj, "--timeout=30s")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	watching := make(chan struct{})
	done := make(chan string, 1)
	var log bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "watch=true") {
				once.Do(func() { close(watching) })
			}
		}
		err := cmd.Wait()
		if err != nil {
			done <- fmt.Sprintf("%s\nexit: %v\n%s", stdout.String(), err, log.String())
			return
		}
		done <- stdout.String()
	}()
	select {
	case <-watching:
	case <-time.After(30 * time.Second):
		k.t.Fatal("kubectl wait opened no watch")
	}
	return done
}

func podNames(t *testing.T, a api, selector string) []string {
	t.Helper()
	var names []string
	for _, it := range podsOf(t, a, selector) {
		names = append(names, str(path(it, "metadata", "name")))
	}
	return names
}

// TestKubectlWatchesEndAsInACluster: the commands that wait on a watch — `kubectl delete`
// (which waits by default), `kubectl wait --for=delete`, `delete --cascade=foreground`,
// `get -w --output-watch-events` — return (or print) as soon as the object is gone.
// Before the watch cache, a watch resumed from the delete's resourceVersion never sent
// the DELETED event and `kubectl delete pod` hung forever.
func TestKubectlWatchesEndAsInACluster(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	k := newKubectl(t, bin, s.GatewayURL)
	k.within(60*time.Second, "apply", "-f", "testdata/manifests/deployment-nginx.yaml")
	k.within(60*time.Second, "scale", "deployment/nginx-deployment", "--replicas=4")
	k.within(90*time.Second, "rollout", "status", "deployment/nginx-deployment")
	pods := podNames(t, a, "app=nginx")
	if len(pods) != 4 {
		t.Fatalf("pods %v", pods)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watchLines := k.stream(ctx, "get", "pods", "-w", "--output-watch-events", "-l", "app=nginx")
	// kubectl prints the pods it listed (ADDED rows) before it watches from the
	// list's resourceVersion: wait for them, so the deletions below come after its
	// list (else it may list after the first one and never see that pod).
	listed := map[string]bool{}
	listDeadline := time.After(30 * time.Second)
	for len(listed) < len(pods) {
		select {
		case l, ok := <-watchLines:
			if !ok {
				t.Fatal("kubectl get -w ended")
			}
			if f := strings.Fields(l); len(f) > 1 && f[0] == "ADDED" {
				listed[f[1]] = true
			}
		case <-listDeadline:
			t.Fatalf("kubectl get -w listed %v, want %v", listed, pods)
		}
	}

	out := k.within(30*time.Second, "delete", "pod", pods[0])
	wantLines(t, out, fmt.Sprintf("pod %q deleted", pods[0]))
	a.expect(a.get("/api/v1/namespaces/default/pods/"+pods[0]), http.StatusNotFound, "the deleted pod")

	// kubectl wait --for=delete, started before the pod goes.
	waitDone := k.waitForDelete(ctx, "pod/"+pods[1])
	a.expect(a.do(http.MethodDelete, "/api/v1/namespaces/default/pods/"+pods[1], "", nil), http.StatusOK, "delete over REST")
	select {
	case out := <-waitDone:
		wantLines(t, out, "pod/"+pods[1]+" condition met")
		if strings.Contains(out, "exit") {
			t.Fatal(out)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("kubectl wait --for=delete did not return")
	}

	// The watch printed the deletion of both pods.
	deleted := map[string]bool{}
	deadline := time.After(20 * time.Second)
	for !deleted[pods[0]] || !deleted[pods[1]] {
		select {
		case l, ok := <-watchLines:
			if !ok {
				t.Fatal("kubectl get -w ended")
			}
			f := strings.Fields(l)
			if len(f) > 1 && f[0] == "DELETED" {
				deleted[f[1]] = true
			}
		case <-deadline:
			t.Fatalf("kubectl get -w --output-watch-events showed no DELETED row for %v (saw %v)", pods[:2], deleted)
		}
	}

	k.within(60*time.Second, "delete", "pods", "-l", "app=nginx")
	out = k.within(60*time.Second, "delete", "deployment", "nginx-deployment", "--cascade=foreground")
	wantLines(t, out, `deployment.apps "nginx-deployment" deleted`)
	a.expect(a.get(deploymentsPath+"/nginx-deployment"), http.StatusNotFound, "the deployment after a foreground delete")
	if left := podNames(t, a, "app=nginx"); len(left) != 0 {
		t.Fatalf("pods left after a foreground delete: %v", left)
	}
}

// informerLog records what a client-go informer saw.
type informerLog struct {
	mu                   sync.Mutex
	added, updated, gone map[string]int
}

func newInformerLog() *informerLog {
	return &informerLog{added: map[string]int{}, updated: map[string]int{}, gone: map[string]int{}}
}

func (l *informerLog) handler() cache.ResourceEventHandler {
	name := func(obj any) string {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		m, _ := obj.(metav1.Object)
		if m == nil {
			return "?"
		}
		return m.GetName()
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { l.mu.Lock(); l.added[name(obj)]++; l.mu.Unlock() },
		UpdateFunc: func(_, obj any) { l.mu.Lock(); l.updated[name(obj)]++; l.mu.Unlock() },
		DeleteFunc: func(obj any) { l.mu.Lock(); l.gone[name(obj)]++; l.mu.Unlock() },
	}
}

func (l *informerLog) count(m map[string]int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(m)
}

// storeMatchesAPI: the informer's store holds exactly what a list returns.
func storeMatchesAPI(t *testing.T, cs *kubernetes.Clientset, inf cache.SharedIndexInformer) bool {
	list, err := cs.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Logf("list: %v", err)
		return false
	}
	want := map[string]string{}
	for _, p := range list.Items {
		want[p.Namespace+"/"+p.Name] = p.ResourceVersion
	}
	got := map[string]string{}
	for _, o := range inf.GetStore().List() {
		p := o.(*corev1.Pod)
		got[p.Namespace+"/"+p.Name] = p.ResourceVersion
	}
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// TestClientGoInformers: a SharedInformerFactory over pods and deployments sees every
// add, update and delete; survives a gateway restart by resuming its watches; and
// relists after a 410 (the node service restarted: its watch cache no longer has the
// informer's resourceVersion), ending equal to the API.
func TestClientGoInformers(t *testing.T) {
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	cs := kubernetes.NewForConfigOrDie(&rest.Config{Host: s.GatewayURL})
	f := informers.NewSharedInformerFactory(cs, 0)
	pods, deps := newInformerLog(), newInformerLog()
	podInf := f.Core().V1().Pods().Informer()
	if _, err := podInf.AddEventHandler(pods.handler()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Apps().V1().Deployments().Informer().AddEventHandler(deps.handler()); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	f.Start(stop)
	for typ, ok := range f.WaitForCacheSync(stop) {
		if !ok {
			t.Fatalf("informer of %v did not sync", typ)
		}
	}

	a.expect(a.do(http.MethodPost, deploymentsPath, "application/yaml", readManifest(t, "deployment-nginx.yaml")), http.StatusCreated, "create")
	a.expect(a.do(http.MethodPatch, deploymentsPath+"/nginx-deployment/scale", "application/merge-patch+json", []byte(`{"spec":{"replicas":3}}`)), http.StatusOK, "scale")
	testenv.Eventually(t, 60*time.Second, "the informer sees 3 pods and their updates", func() bool {
		return pods.count(pods.added) == 3 && pods.count(pods.updated) >= 3 && deps.count(deps.added) == 1 && deps.count(deps.updated) >= 1
	})

	// The gateway restarts: the informers' watches break and resume.
	if err := s.RestartGateway(); err != nil {
		t.Fatal(err)
	}
	a.expect(a.do(http.MethodPatch, deploymentsPath+"/nginx-deployment/scale", "application/merge-patch+json", []byte(`{"spec":{"replicas":1}}`)), http.StatusOK, "scale down")
	testenv.Eventually(t, 60*time.Second, "the informer sees 2 pods go after the gateway restart", func() bool {
		return pods.count(pods.gone) == 2
	})

	// The node service restarts: its cache starts after the informer's resourceVersion
	// (410), and the informer relists.
	s.Kill("node")
	if _, err := s.StartService("node", 0); err != nil {
		t.Fatal(err)
	}
	a.expect(a.do(http.MethodPatch, deploymentsPath+"/nginx-deployment/scale", "application/merge-patch+json", []byte(`{"spec":{"replicas":2}}`)), http.StatusOK, "scale up")
	testenv.Eventually(t, 60*time.Second, "the informer's store equals the API after the node service restart", func() bool {
		return pods.count(pods.added) >= 4 && storeMatchesAPI(t, cs, podInf)
	})
	a.expect(a.do(http.MethodDelete, deploymentsPath+"/nginx-deployment", "", nil), http.StatusOK, "delete")
	testenv.Eventually(t, 60*time.Second, "the informers see the deployment and its pods go", func() bool {
		return deps.count(deps.gone) == 1 && len(podInf.GetStore().List()) == 0
	})
}

// TestPagedListIsOneSnapshot: a list of 1,000 pods read 100 at a time (client-go's pager,
// as kubectl get does) while pods come and go has every pod of the first page's snapshot
// exactly once.
func TestPagedListIsOneSnapshot(t *testing.T) {
	s := startSystem(t, harness.Options{})
	cs := kubernetes.NewForConfigOrDie(&rest.Config{Host: s.GatewayURL, QPS: 500, Burst: 500})
	ctx := context.Background()
	const n = 1000
	want := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		name := fmt.Sprintf("p-%04d", i)
		want[name] = true
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"set": "paged"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			}, metav1.CreateOptions{})
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	pages, seen := 0, map[string]int{}
	churn := sync.WaitGroup{}
	p := pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		list, err := cs.CoreV1().Pods("default").List(ctx, opts)
		if err == nil && pages == 0 {
			// After the first page: delete some pods not yet read and add others.
			churn.Add(1)
			go func() {
				defer churn.Done()
				for i := n - 1; i > n-50; i-- {
					_ = cs.CoreV1().Pods("default").Delete(ctx, fmt.Sprintf("p-%04d", i), metav1.DeleteOptions{})
				}
				for i := range 20 {
					_, _ = cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
						ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-0500-new-%d", i), Labels: map[string]string{"set": "paged"}},
						Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
					}, metav1.CreateOptions{})
				}
			}()
			churn.Wait() // the rest of the pages are read after the churn
		}
		pages++
		return list, err
	})
	p.PageSize = 100
	err := p.EachListItem(ctx, metav1.ListOptions{LabelSelector: "set=paged"}, func(obj runtime.Object) error {
		seen[obj.(*corev1.Pod).Name]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if pages != n/100 {
		t.Errorf("%d pages, want %d", pages, n/100)
	}
	for name, c := range seen {
		if c != 1 {
			t.Errorf("%s listed %d times", name, c)
		}
		if !want[name] {
			t.Errorf("%s is not in the first page's snapshot", name)
		}
	}
	for name := range want {
		if seen[name] == 0 {
			t.Errorf("%s missing from the paged list", name)
		}
	}
}

// TestEventsWatch: events, merged by the gateway from every service, can be watched and
// the watch resumed: a client-go informer over events (list, then watch from the list's
// merged resourceVersion) sees the events of a Deployment's rollout from the deployment
// and node services, and `kubectl get events -w` prints new ones as they come.
func TestEventsWatch(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	k := newKubectl(t, bin, s.GatewayURL)
	cs := kubernetes.NewForConfigOrDie(&rest.Config{Host: s.GatewayURL})
	f := informers.NewSharedInformerFactory(cs, 0)
	inf := f.Core().V1().Events().Informer()
	stop := make(chan struct{})
	defer close(stop)
	f.Start(stop)
	f.WaitForCacheSync(stop)
	reasons := func() map[string]bool {
		out := map[string]bool{}
		for _, o := range inf.GetStore().List() {
			out[o.(*corev1.Event).Reason] = true
		}
		return out
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lines := k.stream(ctx, "get", "events", "-w")
	a.expect(a.do(http.MethodPost, deploymentsPath, "application/yaml", readManifest(t, "deployment-nginx.yaml")), http.StatusCreated, "create")
	testenv.Eventually(t, 60*time.Second, "the informer sees the deployment's and the node service's events", func() bool {
		r := reasons()
		return r["ScalingReplicaSet"] && r["SuccessfulCreate"] && r["Scheduled"]
	})
	// kubectl pages the merged list (limit and continue, one snapshot of every
	// service's events): no event twice, the paged list as long as a single one.
	paged := strings.Fields(k.run("get", "events", "-o", "name", "--chunk-size=2"))
	once := map[string]bool{}
	for _, n := range paged {
		if once[n] {
			t.Errorf("kubectl get events --chunk-size=2 listed %s twice", n)
		}
		once[n] = true
	}
	if whole := strings.Fields(k.run("get", "events", "-o", "name", "--chunk-size=0")); len(paged) < 3 || len(whole) < len(paged) {
		t.Errorf("paged events %v, unpaged %v", paged, whole)
	}
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("kubectl get events -w ended")
			}
			if strings.Contains(l, "ScalingReplicaSet") {
				return
			}
		case <-deadline:
			t.Fatal("kubectl get events -w printed no ScalingReplicaSet event")
		}
	}
}

// revisionInformer starts a client-go informer over ControllerRevisions (a list, then the
// gateway's merged watch of the daemonset and statefulset services, resumed from the
// list's merged resourceVersion) and returns what its store holds.
func revisionInformer(t *testing.T, server string) func() []string {
	cs := kubernetes.NewForConfigOrDie(&rest.Config{Host: server})
	f := informers.NewSharedInformerFactory(cs, 0)
	inf := f.Apps().V1().ControllerRevisions().Informer()
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	f.Start(stop)
	f.WaitForCacheSync(stop)
	return func() []string {
		var names []string
		for _, o := range inf.GetStore().List() {
			names = append(names, o.(*appsv1.ControllerRevision).Name)
		}
		return names
	}
}
