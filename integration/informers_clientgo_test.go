package integration

import (
	"context"
	"sync"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"

	"github.com/podwarden/podwarden/integration/harness"
)

// seen records what an informer's handlers were told, as "ADD name" / "UPDATE name".
type seen struct {
	mu     sync.Mutex
	events []string
}

func (s *seen) add(e string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}

func (s *seen) has(e string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.events {
		if x == e {
			return true
		}
	}
	return false
}

func (s *seen) handler(name func(any) string) cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.add("ADD " + name(obj)) },
		UpdateFunc: func(_, obj any) { s.add("UPDATE " + name(obj)) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			s.add("DELETE " + name(obj))
		},
	}
}

// TestInformersOnNamespacesAndHPAsV1: client-go informers (what controller-runtime
// runs) list and watch namespaces and autoscaling/v1 HorizontalPodAutoscalers, in
// Kubernetes' protobuf as client-go sends it: they sync, and see a namespace created
// and terminated and an autoscaling/v1 HPA created and changed. (An informer whose
// watch fails relists now and then and may still see the changes: the watches the
// informers open are also opened directly, and must answer the changes as events.)
func TestInformersOnNamespacesAndHPAsV1(t *testing.T) {
	s := startSystem(t, harness.Options{})
	cs := kubernetes.NewForConfigOrDie(&rest.Config{Host: s.GatewayURL, ContentConfig: rest.ContentConfig{
		AcceptContentTypes: "application/vnd.kubernetes.protobuf,application/json", ContentType: "application/vnd.kubernetes.protobuf"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	factory := informers.NewSharedInformerFactory(cs, 0)
	var namespaces, hpas seen
	metaName := func(obj any) string {
		if m, ok := obj.(metav1.Object); ok {
			return m.GetName()
		}
		return "?"
	}
	nsReg, err := factory.Core().V1().Namespaces().Informer().AddEventHandler(namespaces.handler(metaName))
	if err != nil {
		t.Fatal(err)
	}
	hpaReg, err := factory.Autoscaling().V1().HorizontalPodAutoscalers().Informer().AddEventHandler(hpas.handler(metaName))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	factory.Start(ctx.Done())
	defer func() { cancel(); factory.Shutdown() }() // Shutdown waits for the informers, which stop with ctx
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("informer of %v never synced", typ)
		}
	}
	// The stores have synced; the handlers get the initial list asynchronously, and
	// their registrations say when they have had all of it.
	if !cache.WaitForCacheSync(ctx.Done(), nsReg.HasSynced, hpaReg.HasSynced) {
		t.Fatal("the handlers never had the informers' initial lists")
	}
	t.Logf("%v: informers synced", time.Since(start))
	if !namespaces.has("ADD default") {
		t.Errorf("namespace informer: %v, want ADD default", namespaces.events)
	}

	nsWatch, err := cs.CoreV1().Namespaces().Watch(ctx, metav1.ListOptions{ResourceVersion: factory.Core().V1().Namespaces().Informer().LastSyncResourceVersion()})
	if err != nil {
		t.Fatalf("watch namespaces: %v", err)
	}
	defer nsWatch.Stop()
	hpaWatch, err := cs.AutoscalingV1().HorizontalPodAutoscalers("").Watch(ctx, metav1.ListOptions{ResourceVersion: factory.Autoscaling().V1().HorizontalPodAutoscalers().Informer().LastSyncResourceVersion(), AllowWatchBookmarks: true})
	if err != nil {
		t.Fatalf("watch autoscaling/v1 horizontalpodautoscalers: %v", err)
	}
	defer hpaWatch.Stop()

	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the namespace informer to see team-a", func() (bool, string) {
		return namespaces.has("ADD team-a"), ""
	})
	if err := cs.CoreV1().Namespaces().Delete(ctx, "team-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the namespace informer to see team-a terminating", func() (bool, string) {
		return namespaces.has("UPDATE team-a") || namespaces.has("DELETE team-a"), ""
	})

	target := int32(50)
	hpa := &autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
		MaxReplicas:    5, TargetCPUUtilizationPercentage: &target}}
	created, err := cs.AutoscalingV1().HorizontalPodAutoscalers("default").Create(ctx, hpa, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the autoscaling/v1 informer to see web", func() (bool, string) {
		return hpas.has("ADD web"), ""
	})
	t.Logf("%v: informers saw the namespace and the HPA", time.Since(start))
	watchSees(t, nsWatch, watch.Added, "team-a")
	watchSees(t, nsWatch, watch.Modified, "team-a")
	watchSees(t, hpaWatch, watch.Added, "web")
	lister := factory.Autoscaling().V1().HorizontalPodAutoscalers().Lister()
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error { // the controller writes its status meanwhile
		cur, err := cs.AutoscalingV1().HorizontalPodAutoscalers("default").Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		target := int32(70)
		cur.Spec.TargetCPUUtilizationPercentage = &target
		_, err = cs.AutoscalingV1().HorizontalPodAutoscalers("default").Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the autoscaling/v1 informer to see the new target", func() (bool, string) {
		h, err := lister.HorizontalPodAutoscalers("default").Get("web")
		if err != nil || h.Spec.TargetCPUUtilizationPercentage == nil {
			return false, "not in the lister"
		}
		return *h.Spec.TargetCPUUtilizationPercentage == 70, ""
	})
	if h := watchSees(t, hpaWatch, watch.Modified, "web").(*autoscalingv1.HorizontalPodAutoscaler); h.Spec.TargetCPUUtilizationPercentage == nil {
		t.Errorf("an autoscaling/v1 watch event without targetCPUUtilizationPercentage: %+v", h.Spec)
	}
}

// watchSees waits for an event of type typ about name on w, skipping others.
func watchSees(t *testing.T, w watch.Interface, typ watch.EventType, name string) runtime.Object {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("the watch ended before %s %s", typ, name)
			}
			if ev.Type == watch.Error {
				t.Fatalf("watch error before %s %s: %v", typ, name, ev.Object)
			}
			if m, ok := ev.Object.(metav1.Object); ok && ev.Type == typ && m.GetName() == name {
				return ev.Object
			}
		case <-timeout:
			t.Fatalf("no %s %s in 30 s", typ, name)
		}
	}
}
