package watch

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

var podKind = store.Kind[*corev1.Pod]{Name: "Pod", New: func() *corev1.Pod { return &corev1.Pod{} }, Watch: true}

// newTestCache is a loaded cache over no database, at rv start; feed it with step.
func newTestCache(start int64) *Cache[*corev1.Pod] {
	h := NewHub()
	c := newCache(h, podKind, func(*corev1.Pod) {})
	c.rv, c.start, c.loaded = start, start, true
	close(c.ready)
	h.latestRV = func() int64 {
		c.mu.RLock()
		defer c.mu.RUnlock()
		return c.rv
	}
	return c
}

func pod(name, app string, rv int64) *corev1.Pod {
	return &corev1.Pod{Metadata: &corev1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{"app": app},
		ResourceVersion: strconv.FormatInt(rv, 10)}}
}

// step feeds one change at rv.
func step(c *Cache[*corev1.Pod], typ, name, app string, rv int64) {
	data, _ := proto.Marshal(pod(name, app, 0))
	c.feed([]store.RawChange{{RV: rv, Kind: "Pod", Namespace: "default", Name: name, Type: typ, Data: data}}, rv)
}

// recorded is the change sequence the tables below read, with app=web as the selector:
//
//	10 a added (web)     11 b added (db)       12 a modified (web)   13 b modified to web
//	14 a modified to db  15 b deleted          16 c added (web)      17 x added (db)
func recorded() *Cache[*corev1.Pod] {
	c := newTestCache(9)
	step(c, store.Added, "a", "web", 10)
	step(c, store.Added, "b", "db", 11)
	step(c, store.Modified, "a", "web", 12)
	step(c, store.Modified, "b", "web", 13)
	step(c, store.Modified, "a", "db", 14)
	step(c, store.Deleted, "b", "web", 15)
	step(c, store.Added, "c", "web", 16)
	step(c, store.Added, "x", "db", 17)
	return c
}

func web(p *corev1.Pod) bool { return p.GetMetadata().GetLabels()["app"] == "web" }

func named(n string) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool { return p.GetMetadata().GetName() == n }
}

// collect runs a watch until it has sent n events (or 2 s passed) and returns them as
// "TYPE name@rv".
func collect(t *testing.T, c *Cache[*corev1.Pod], o WatchOptions, match func(*corev1.Pod) bool, n int) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var got []string
	errDone := errors.New("done")
	err := c.Watch(ctx, o, match, func(typ string, p *corev1.Pod) error {
		m := p.GetMetadata()
		s := fmt.Sprintf("%s %s@%s", typ, m.GetName(), m.GetResourceVersion())
		if v := m.GetAnnotations()[InitialEventsEnd]; v != "" {
			s += " initial-events-end"
		}
		got = append(got, s)
		if len(got) == n {
			return errDone
		}
		return nil
	})
	if errors.Is(err, errDone) {
		err = nil
	}
	return got, err
}

func TestWatchResumeSemantics(t *testing.T) {
	yes := true
	cases := map[string]struct {
		opts  WatchOptions
		match func(*corev1.Pod) bool
		want  []string
	}{
		"from before the first change": {opts: WatchOptions{ResourceVersion: "9"}, match: web,
			want: []string{"ADDED a@10", "MODIFIED a@12", "ADDED b@13", "DELETED a@14", "DELETED b@15", "ADDED c@16"}},
		"an object matching at the resume point and deleted after is DELETED": {opts: WatchOptions{ResourceVersion: "14"}, match: named("b"),
			want: []string{"DELETED b@15"}},
		"its first change after the resume point is MODIFIED, not ADDED": {opts: WatchOptions{ResourceVersion: "10"}, match: named("a"),
			want: []string{"MODIFIED a@12", "MODIFIED a@14"}},
		"starts matching: ADDED; stops matching: DELETED with its last matching content": {opts: WatchOptions{ResourceVersion: "12"}, match: web,
			want: []string{"ADDED b@13", "DELETED a@14", "DELETED b@15", "ADDED c@16"}},
		"resourceVersion 0: the state, then changes": {opts: WatchOptions{ResourceVersion: "0"}, match: web,
			want: []string{"ADDED c@16"}},
		"no resourceVersion: the newest state": {opts: WatchOptions{}, match: func(*corev1.Pod) bool { return true },
			want: []string{"ADDED a@14", "ADDED c@16", "ADDED x@17"}},
		"sendInitialEvents: the state, then the bookmark that ends it": {
			opts:  WatchOptions{ResourceVersion: "12", ResourceVersionMatch: MatchNotOlderThan, SendInitialEvents: &yes, AllowWatchBookmarks: true},
			match: web, want: []string{"ADDED c@16", "BOOKMARK @17 initial-events-end"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := recorded()
			got, err := collect(t, c, tc.opts, tc.match, len(tc.want))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
				t.Fatalf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestWatchDeletedCarriesPreviousContentAtEventVersion(t *testing.T) {
	c := recorded()
	var got *corev1.Pod
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = c.Watch(ctx, WatchOptions{ResourceVersion: "13"}, web, func(typ string, p *corev1.Pod) error {
		got = p
		return errors.New("stop")
	})
	if got.GetMetadata().GetLabels()["app"] != "web" || got.GetMetadata().GetResourceVersion() != "14" {
		t.Fatalf("DELETED object: %v", got.GetMetadata())
	}
	// The cache's own copy is untouched.
	if c.objs["default/a"].obj.GetMetadata().GetLabels()["app"] != "db" {
		t.Fatal("the cached object was modified")
	}
}

func TestWatchLiveChangesAndBookmarks(t *testing.T) {
	old := BookmarkEvery
	BookmarkEvery = 20 * time.Millisecond
	defer func() { BookmarkEvery = old }()
	c := recorded()
	events := make(chan string, 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = c.Watch(ctx, WatchOptions{ResourceVersion: "17", AllowWatchBookmarks: true}, named("c"), func(typ string, p *corev1.Pod) error {
			events <- typ + " " + p.GetMetadata().GetName() + "@" + p.GetMetadata().GetResourceVersion()
			return nil
		})
	}()
	next := func() string {
		select {
		case e := <-events:
			return e
		case <-time.After(2 * time.Second):
			return "nothing"
		}
	}
	step(c, store.Modified, "c", "db", 18)
	if e := next(); e != "MODIFIED c@18" {
		t.Fatalf("got %q", e)
	}
	step(c, store.Modified, "x", "db", 19) // not ours: only the bookmark moves
	for {
		e := next()
		if e == "BOOKMARK @19" {
			break
		}
		if !strings.HasPrefix(e, "BOOKMARK") {
			t.Fatalf("got %q, want a bookmark at 19", e)
		}
	}
	step(c, store.Deleted, "c", "db", 20)
	for {
		e := next()
		if e == "DELETED c@20" {
			break
		}
		if !strings.HasPrefix(e, "BOOKMARK") {
			t.Fatalf("got %q", e)
		}
	}
}

func isExpired(err error) bool {
	st, ok := status.FromError(err)
	return ok && strings.Contains(st.Message(), "too old resource version") || ok && strings.Contains(st.Message(), "continue parameter is too old")
}

func TestTooOldIsGone(t *testing.T) {
	oldMin, oldMax := MinEvents, MaxEvents
	MinEvents, MaxEvents = 2, 4
	defer func() { MinEvents, MaxEvents = oldMin, oldMax }()
	c := recorded() // 8 changes, the window keeps the last 4: start is 13
	if s := c.Stats(); s.Start != 13 || s.Events != 4 {
		t.Fatalf("window: %+v", s)
	}
	_, err := collect(t, c, WatchOptions{ResourceVersion: "12"}, web, 1)
	if !isExpired(err) || !strings.Contains(err.Error(), "too old resource version: 12 (13)") {
		t.Fatalf("watch from 12: %v", err)
	}
	if _, err := c.List(context.Background(), ListOptions{ResourceVersion: "12", ResourceVersionMatch: MatchExact}, web); !isExpired(err) {
		t.Fatalf("exact list at 12: %v", err)
	}
	got, err := collect(t, c, WatchOptions{ResourceVersion: "13"}, web, 3)
	if err != nil || len(got) != 3 {
		t.Fatalf("watch from 13: %v %v", got, err)
	}
}

func TestSlowWatcherFallingOutOfTheWindowIsGone(t *testing.T) {
	oldMin, oldMax := MinEvents, MaxEvents
	MinEvents, MaxEvents = 1, 2
	defer func() { MinEvents, MaxEvents = oldMin, oldMax }()
	c := newTestCache(0)
	step(c, store.Added, "a", "web", 1)
	release, reading := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		first := true
		errc <- c.Watch(context.Background(), WatchOptions{ResourceVersion: "0"}, web, func(string, *corev1.Pod) error {
			if first {
				first = false
				close(reading)
				<-release // the client stops reading
			}
			return nil
		})
	}()
	<-reading
	for rv := int64(2); rv < 10; rv++ {
		step(c, store.Modified, "a", "web", rv)
	}
	close(release)
	select {
	case err := <-errc:
		if !isExpired(err) {
			t.Fatalf("want 410, got %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the watch did not end")
	}
}

func names(items []*corev1.Pod) string {
	var s []string
	for _, p := range items {
		s = append(s, p.GetMetadata().GetName()+"@"+p.GetMetadata().GetResourceVersion())
	}
	return strings.Join(s, ",")
}

func TestListSemantics(t *testing.T) {
	all := func(*corev1.Pod) bool { return true }
	cases := map[string]struct {
		opts   ListOptions
		match  func(*corev1.Pod) bool
		want   string
		wantRV string
	}{
		"newest":                               {opts: ListOptions{}, match: all, want: "a@14,c@16,x@17", wantRV: "17"},
		"any":                                  {opts: ListOptions{ResourceVersion: "0"}, match: web, want: "c@16", wantRV: "17"},
		"not older than 12":                    {opts: ListOptions{ResourceVersion: "12"}, match: all, want: "a@14,c@16,x@17", wantRV: "17"},
		"exact 13":                             {opts: ListOptions{ResourceVersion: "13", ResourceVersionMatch: MatchExact}, match: web, want: "a@12,b@13", wantRV: "13"},
		"exact 11":                             {opts: ListOptions{ResourceVersion: "11", ResourceVersionMatch: MatchExact}, match: all, want: "a@10,b@11", wantRV: "11"},
		"with a limit and no match N is exact": {opts: ListOptions{ResourceVersion: "15", Limit: 10}, match: all, want: "a@14", wantRV: "15"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := recorded().List(context.Background(), tc.opts, tc.match)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(res.Items); got != tc.want || res.ResourceVersion != tc.wantRV {
				t.Fatalf("got %s at %s, want %s at %s", got, res.ResourceVersion, tc.want, tc.wantRV)
			}
		})
	}
}

func TestListPagesOneSnapshot(t *testing.T) {
	c := newTestCache(0)
	for i := range 7 {
		step(c, store.Added, fmt.Sprintf("p%d", i), "web", int64(i+1))
	}
	ctx := context.Background()
	all := func(*corev1.Pod) bool { return true }
	var got []string
	res, err := c.List(ctx, ListOptions{Limit: 3}, all)
	for {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, names(res.Items))
		if res.Continue == "" {
			break
		}
		if *res.RemainingItemCount <= 0 {
			t.Fatalf("remainingItemCount %d with a continue token", *res.RemainingItemCount)
		}
		// The world changes between pages: a page shows the first page's snapshot.
		step(c, store.Deleted, "p4", "web", c.Stats().RV+1)
		step(c, store.Added, "p3a", "web", c.Stats().RV+1)
		res, err = c.List(ctx, ListOptions{Limit: 3, Continue: res.Continue}, all)
	}
	want := "p0@1,p1@2,p2@3|p3@4,p4@5,p5@6|p6@7"
	if strings.Join(got, "|") != want {
		t.Fatalf("pages %v, want %s", got, want)
	}
	if _, err := c.List(ctx, ListOptions{Continue: "not-a-token"}, all); err == nil || !strings.Contains(err.Error(), "invalid continue token") {
		t.Fatalf("bad token: %v", err)
	}
}

func TestTooLargeResourceVersion(t *testing.T) {
	old := TooLargeWait
	TooLargeWait = 50 * time.Millisecond
	defer func() { TooLargeWait = old }()
	c := recorded()
	_, err := c.List(context.Background(), ListOptions{ResourceVersion: "100"}, web)
	if err == nil || !strings.Contains(err.Error(), "Too large resource version: 100, current: 17") {
		t.Fatalf("got %v", err)
	}
	// A version the cache reaches while the request waits is served.
	go func() {
		time.Sleep(10 * time.Millisecond)
		step(c, store.Added, "late", "web", 18)
	}()
	TooLargeWait = 2 * time.Second
	res, err := c.List(context.Background(), ListOptions{ResourceVersion: "18"}, web)
	if err != nil || res.ResourceVersion != "18" {
		t.Fatalf("got %v %v", res.ResourceVersion, err)
	}
}

// realisticPod is a Deployment's pod as the node service stores it: labels, owner, one
// container with ports and resources, a scheduled and Running status with conditions.
func realisticPod(i int) *corev1.Pod {
	name := fmt.Sprintf("web-7d4b9c8f6d-%05d", i)
	ready := "True"
	return &corev1.Pod{
		ApiVersion: "v1", Kind: "Pod",
		Metadata: &corev1.ObjectMeta{
			Namespace: "default", Name: name, Uid: fmt.Sprintf("0b6c2f0e-4a1d-4c2e-9a7f-%012d", i),
			Labels:          map[string]string{"app": "web", "pod-template-hash": "7d4b9c8f6d"},
			OwnerReferences: []*corev1.OwnerReference{{ApiVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7d4b9c8f6d", Uid: "5f1e7c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b", Controller: &yes, BlockOwnerDeletion: &yes}},
			ResourceVersion: "1",
		},
		Spec: &corev1.PodSpec{
			NodeName:   fmt.Sprintf("node-%d", i%100),
			Containers: []*corev1.Container{{Name: "nginx", Image: "nginx:1.27", Ports: []*corev1.ContainerPort{{ContainerPort: 80, Protocol: "TCP"}}}},
		},
		Status: &corev1.PodStatus{
			Phase: "Running", PodIp: fmt.Sprintf("10.244.%d.%d", i/250, i%250), HostIp: "172.18.0.2",
			Conditions: []*corev1.Condition{{Type: "Ready", Status: ready}, {Type: "ContainersReady", Status: ready}, {Type: "PodScheduled", Status: ready}, {Type: "Initialized", Status: ready}},
		},
	}
}

var yes = true

// BenchmarkCacheMemory reports the heap a cache holds per 1,000 pods: the objects, and
// the window's events when each pod changed once more (a rolling update's worth).
func BenchmarkCacheMemory(b *testing.B) {
	const n = 1000
	raw := make([]store.RawChange, 2*n)
	for i := range n {
		data, _ := proto.Marshal(realisticPod(i))
		raw[i] = store.RawChange{RV: int64(i + 1), Kind: "Pod", Namespace: "default", Name: fmt.Sprintf("web-7d4b9c8f6d-%05d", i), Type: store.Added, Data: data}
		p := realisticPod(i)
		p.Status.Phase = "Succeeded"
		data, _ = proto.Marshal(p)
		raw[n+i] = store.RawChange{RV: int64(n + i + 1), Kind: "Pod", Namespace: "default", Name: raw[i].Name, Type: store.Modified, Data: data}
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	var objects, window float64
	for range b.N {
		before := heap()
		c := newTestCache(0)
		c.feed(raw[:n], int64(n))
		mid := heap()
		c.feed(raw[n:], int64(2*n))
		after := heap()
		objects += float64(mid - before)
		window += float64(after - mid)
		runtime.KeepAlive(c)
	}
	b.ReportMetric(objects/float64(b.N)/(1<<20), "MiB/1000pods")
	b.ReportMetric(window/float64(b.N)/(1<<20), "MiB/1000changes")
}
