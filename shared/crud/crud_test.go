package crud_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/testenv"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The tests use Pod as a stand-in kind: spec, status and metadata like any workload.
func newResource(t *testing.T) (*crud.Resource[*corev1.Pod], *[]string) {
	t.Helper()
	db, err := store.Open(context.Background(), testenv.PostgresDSN(t), testenv.Schema(t, "crud"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	var orphaned []string
	hub := watch.NewHub()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go hub.Run(ctx, db, nil)
	r := &crud.Resource[*corev1.Pod]{
		Kind:       store.Kind[*corev1.Pod]{Name: "Pod", New: func() *corev1.Pod { return &corev1.Pod{} }, Watch: true},
		APIVersion: "v1", KindName: "Pod", Namespaced: true, DB: db, Hub: hub, Foreground: true,
		GR: apierr.GroupResource{Resource: "pods"}, GK: apierr.GroupKind{Kind: "Pod"},
		TypeMeta: func(p *corev1.Pod) (*string, *string) { return &p.ApiVersion, &p.Kind },
		Default: func(p *corev1.Pod) {
			if p.Spec == nil {
				p.Spec = &corev1.PodSpec{}
			}
			if p.Spec.RestartPolicy == "" {
				p.Spec.RestartPolicy = "Always"
			}
		},
		ResetStatus: func(p *corev1.Pod) { p.Status = nil },
		CopyStatus:  func(dst, src *corev1.Pod) { dst.Status = src.Status },
		SpecEqual:   func(a, b *corev1.Pod) bool { return proto.Equal(a.Spec, b.Spec) },
		Validate: func(p, _ *corev1.Pod, _ bool) field.ErrorList {
			if p.Spec.GetNodeName() == "forbidden" {
				return field.ErrorList{field.Invalid(field.NewPath("spec", "nodeName"), "forbidden", "not this one")}
			}
			return nil
		},
		Fields: func(p *corev1.Pod) map[string]string {
			return map[string]string{"spec.nodeName": p.GetSpec().GetNodeName()}
		},
		OrphanDependents: func(ctx context.Context, tx pgx.Tx, p *corev1.Pod) error {
			orphaned = append(orphaned, p.Metadata.Name)
			return nil
		},
	}
	return r, &orphaned
}

func pod(name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: name, Labels: labels}, Spec: &corev1.PodSpec{}, Status: &corev1.PodStatus{Phase: "Running"}}
}

func TestCreateStrategy(t *testing.T) {
	ctx := context.Background()
	r, _ := newResource(t)
	cases := map[string]struct {
		ns      string
		obj     *corev1.Pod
		reason  string
		checkOK func(*testing.T, *corev1.Pod)
	}{
		"defaults, status reset, type meta filled": {ns: "default", obj: pod("a", nil), checkOK: func(t *testing.T, p *corev1.Pod) {
			if p.Spec.RestartPolicy != "Always" || p.Status != nil || p.Kind != "Pod" || p.ApiVersion != "v1" || p.Metadata.Generation != 1 || p.Metadata.Namespace != "default" {
				t.Fatalf("create strategy not applied: %v", p)
			}
		}},
		"generateName": {ns: "default", obj: &corev1.Pod{Metadata: &corev1.ObjectMeta{GenerateName: "web-"}}, checkOK: func(t *testing.T, p *corev1.Pod) {
			if len(p.Metadata.Name) != len("web-")+5 {
				t.Fatalf("generated name %q", p.Metadata.Name)
			}
		}},
		"namespace mismatch": {ns: "default", obj: &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: "b", Namespace: "other"}}, reason: apierr.ReasonBadRequest},
		"wrong kind":         {ns: "default", obj: &corev1.Pod{Kind: "Deployment", Metadata: &corev1.ObjectMeta{Name: "c"}}, reason: apierr.ReasonBadRequest},
		"invalid":            {ns: "default", obj: &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: "d"}, Spec: &corev1.PodSpec{NodeName: "forbidden"}}, reason: apierr.ReasonInvalid},
		"duplicate":          {ns: "default", obj: pod("a", nil), reason: apierr.ReasonAlreadyExists},
	}
	for _, name := range []string{"defaults, status reset, type meta filled", "generateName", "namespace mismatch", "wrong kind", "invalid", "duplicate"} {
		tc := cases[name]
		t.Run(name, func(t *testing.T) {
			got, err := r.Create(ctx, tc.ns, tc.obj, nil)
			if tc.reason != "" {
				if apierr.Reason(err) != tc.reason {
					t.Fatalf("got %v, want reason %s", err, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.checkOK(t, got)
		})
	}
	if _, err := r.Create(ctx, "default", pod("dry", nil), []string{"All"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(ctx, "default", "dry"); !apierr.IsNotFound(err) {
		t.Fatalf("dry run stored the object: %v", err)
	}
}

func TestUpdateStrategyAndConcurrency(t *testing.T) {
	ctx := context.Background()
	r, _ := newResource(t)
	created, err := r.Create(ctx, "default", pod("a", map[string]string{"app": "x"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The controller writes a status.
	st := proto.Clone(created).(*corev1.Pod)
	st.Status = &corev1.PodStatus{Phase: "Running"}
	withStatus, err := r.UpdateStatus(ctx, "default", "a", st)
	if err != nil {
		t.Fatal(err)
	}
	// A label change keeps generation and status.
	upd := proto.Clone(withStatus).(*corev1.Pod)
	upd.Metadata.Labels["app"] = "y"
	upd.Status = nil
	labelled, err := r.Update(ctx, "default", "a", upd, nil)
	if err != nil {
		t.Fatal(err)
	}
	if labelled.Metadata.Generation != 1 || labelled.Status.GetPhase() != "Running" {
		t.Fatalf("metadata update: generation %d status %v", labelled.Metadata.Generation, labelled.Status)
	}
	// A spec change bumps generation.
	spec := proto.Clone(labelled).(*corev1.Pod)
	spec.Spec.NodeName = "node-1"
	changed, err := r.Update(ctx, "default", "a", spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if changed.Metadata.Generation != 2 {
		t.Fatalf("spec update: generation %d, want 2", changed.Metadata.Generation)
	}
	// A write with a stale resourceVersion is a conflict and changes nothing.
	spec.Spec.NodeName = "node-2"
	if _, err := r.Update(ctx, "default", "a", spec, nil); !apierr.IsConflict(err) {
		t.Fatalf("stale update: %v", err)
	}
	// Concurrent writers with the same resourceVersion: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := proto.Clone(changed).(*corev1.Pod)
			c.Metadata.Labels["writer"] = fmt.Sprint(i)
			if _, err := r.Update(ctx, "default", "a", c, nil); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !apierr.IsConflict(err) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent writers won, want 1", wins)
	}
	got, _ := r.Get(ctx, "default", "a")
	if got.Spec.NodeName != "node-1" {
		t.Fatalf("rejected write leaked: %v", got.Spec.NodeName)
	}
}

// TestUpdateKeepsManagedFields: managedFields survive storage, and an update
// that leaves them out keeps the stored ones (kube-apiserver's rule for
// clients that know nothing of them); one that carries them replaces them.
func TestUpdateKeepsManagedFields(t *testing.T) {
	ctx := context.Background()
	r, _ := newResource(t)
	p := pod("a", map[string]string{"app": "x"})
	p.Metadata.ManagedFields = []*corev1.ManagedFieldsEntry{{Manager: "kubectl", Operation: "Apply", ApiVersion: "v1", FieldsType: "FieldsV1"}}
	created, err := r.Create(ctx, "default", p, nil)
	if err != nil {
		t.Fatal(err)
	}
	upd := proto.Clone(created).(*corev1.Pod)
	upd.Metadata.ManagedFields = nil
	upd.Metadata.Labels["app"] = "y"
	kept, err := r.Update(ctx, "default", "a", upd, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := kept.Metadata.GetManagedFields(); len(got) != 1 || got[0].GetManager() != "kubectl" {
		t.Fatalf("managedFields after an update without them: %v", got)
	}
	repl := proto.Clone(kept).(*corev1.Pod)
	repl.Metadata.ManagedFields = []*corev1.ManagedFieldsEntry{{Manager: "kubectl-edit", Operation: "Update", ApiVersion: "v1", FieldsType: "FieldsV1"}}
	replaced, err := r.Update(ctx, "default", "a", repl, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := r.Get(ctx, "default", "a")
	if m := got.Metadata.GetManagedFields(); len(m) != 1 || m[0].GetManager() != "kubectl-edit" || replaced.Metadata.GetManagedFields()[0].GetManager() != "kubectl-edit" {
		t.Fatalf("managedFields after replacing them: %v", m)
	}
	// A status write keeps them unless it carries its own (a status writer's manager).
	st := proto.Clone(got).(*corev1.Pod)
	st.Metadata.ManagedFields = nil
	st.Status = &corev1.PodStatus{Phase: "Running"}
	if _, err := r.UpdateStatus(ctx, "default", "a", st); err != nil {
		t.Fatal(err)
	}
	if got, _ = r.Get(ctx, "default", "a"); len(got.Metadata.GetManagedFields()) != 1 {
		t.Fatalf("managedFields after a status write without them: %v", got.Metadata.GetManagedFields())
	}
	st = proto.Clone(got).(*corev1.Pod)
	st.Metadata.ManagedFields = append(st.Metadata.ManagedFields, &corev1.ManagedFieldsEntry{Manager: "tester", Operation: "Update", ApiVersion: "v1", FieldsType: "FieldsV1", Subresource: "status"})
	if _, err := r.UpdateStatus(ctx, "default", "a", st); err != nil {
		t.Fatal(err)
	}
	if got, _ = r.Get(ctx, "default", "a"); len(got.Metadata.GetManagedFields()) != 2 {
		t.Fatalf("managedFields after a status write with its manager: %v", got.Metadata.GetManagedFields())
	}
}

func TestDeletePolicies(t *testing.T) {
	ctx := context.Background()
	r, orphaned := newResource(t)
	for _, n := range []string{"bg", "orphan", "fg"} {
		if _, err := r.Create(ctx, "default", pod(n, nil), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := r.Delete(ctx, "default", "bg", "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(ctx, "default", "bg"); !apierr.IsNotFound(err) {
		t.Fatalf("background delete left the object: %v", err)
	}
	if _, _, err := r.Delete(ctx, "default", "orphan", "", &corev1.DeleteOptions{PropagationPolicy: "Orphan"}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(*orphaned) != "[orphan]" {
		t.Fatalf("orphan hook ran for %v", *orphaned)
	}
	if _, _, err := r.Delete(ctx, "default", "fg", "Foreground", nil); err != nil {
		t.Fatal(err)
	}
	fg, err := r.Get(ctx, "default", "fg")
	if err != nil || fg.Metadata.DeletionTimestamp == nil || !crud.HasFinalizer(fg.Metadata, crud.FinalizerForeground) {
		t.Fatalf("foreground delete must mark, not remove: %v %v", fg, err)
	}
	if _, _, err := r.Delete(ctx, "default", "missing", "", nil); !apierr.IsNotFound(err) {
		t.Fatalf("delete missing: %v", err)
	}
	if _, _, err := r.Delete(ctx, "default", "fg", "Sideways", nil); !apierr.IsInvalid(err) {
		t.Fatalf("unknown policy: %v", err)
	}
}

func TestListSelectorsAndWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, _ := newResource(t)
	if _, err := r.Create(ctx, "default", pod("a", map[string]string{"app": "web", "tier": "fe"}), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Create(ctx, "other", pod("b", map[string]string{"app": "web"}), nil); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		ns, labels, fields string
		want               int
	}{
		"all namespaces":     {want: 2},
		"one namespace":      {ns: "other", want: 1},
		"set-based selector": {labels: "app in (web),tier", want: 1},
		"negated":            {labels: "!tier", want: 1},
		"field selector":     {fields: "metadata.name=b", want: 1},
		"extra field":        {fields: "spec.nodeName=", want: 2},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := r.List(ctx, tc.ns, crud.ListOptions{LabelSelector: tc.labels, FieldSelector: tc.fields})
			if err != nil || res.Meta.GetResourceVersion() == "" {
				t.Fatal(err)
			}
			if len(res.Items) != tc.want {
				t.Fatalf("got %d, want %d", len(res.Items), tc.want)
			}
		})
	}
	if _, err := r.List(ctx, "", crud.ListOptions{LabelSelector: "app in ("}); !apierr.IsBadRequest(err) {
		t.Fatalf("bad selector: %v", err)
	}

	// Watch app=web in default: the existing object, then a change that stops matching.
	events := make(chan string, 10)
	go func() {
		_ = r.Watch(ctx, "default", crud.WatchOptions{LabelSelector: "app=web"}, func(typ string, p *corev1.Pod) error {
			events <- typ + ":" + p.Metadata.Name
			return nil
		})
	}()
	expect := func(want string) {
		select {
		case got := <-events:
			if got != want {
				t.Fatalf("watch event %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no watch event, want %q", want)
		}
	}
	expect("ADDED:a")
	a, _ := r.Get(ctx, "default", "a")
	a.Metadata.Labels["app"] = "api"
	if _, err := r.Update(ctx, "default", "a", a, nil); err != nil {
		t.Fatal(err)
	}
	r.Hub.Notify("Pod/default/a") // what the service's NOTIFY listener does
	expect("DELETED:a")
}

// headerStream is a grpc.ServerStream that records when headers are sent.
type headerStream struct {
	grpc.ServerStream
	ctx    context.Context
	header chan struct{}
}

func (s *headerStream) Context() context.Context { return s.ctx }
func (s *headerStream) SendHeader(metadata.MD) error {
	close(s.header)
	return nil
}

// TestServeWatchSendsHeadersAtOnce: a watch resumed from a resourceVersion with nothing
// new to send still sends its headers as soon as it is established, so a client that
// opens several watches one after the other (the gateway's merged watches) and waits
// for each to be accepted does not wait for the first event of each.
func TestServeWatchSendsHeadersAtOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, _ := newResource(t)
	p, err := r.Create(ctx, "default", pod("a", nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &headerStream{ctx: ctx, header: make(chan struct{})}
	sent := make(chan string, 1)
	go func() {
		_ = r.ServeWatch(s, "default", &nodev1.WatchPodsRequest{ResourceVersion: p.Metadata.ResourceVersion}, func(typ string, p *corev1.Pod) error {
			sent <- typ
			return nil
		})
	}()
	select {
	case <-s.header:
	case typ := <-sent:
		t.Fatalf("an event (%s) before the headers", typ)
	case <-time.After(5 * time.Second):
		t.Fatal("no headers 5 s after the watch was established")
	}
}

// actingStream is a grpc.ServerStream whose client acts (act) the moment the
// headers arrive, before reading any event.
type actingStream struct {
	grpc.ServerStream
	ctx context.Context
	act func()
}

func (s *actingStream) Context() context.Context { return s.ctx }
func (s *actingStream) SendHeader(metadata.MD) error {
	s.act()
	return nil
}

// TestServeWatchHeadersMeanEstablished: the headers of a watch without a
// resourceVersion come once its starting point is fixed, so a change the client
// makes as soon as it has them is an event after the initial state (ADDED with
// the old labels, then MODIFIED), as from kube-apiserver, which answers a watch
// once its watcher is registered. Headers sent before the start was fixed let
// the change slip into the initial state: one ADDED with the new labels, and
// no event of the change.
func TestServeWatchHeadersMeanEstablished(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, _ := newResource(t)
	if _, err := r.Create(ctx, "default", pod("a", map[string]string{"app": "web"}), nil); err != nil {
		t.Fatal(err)
	}
	s := &actingStream{ctx: ctx, act: func() {
		a, err := r.Get(ctx, "default", "a")
		if err != nil {
			t.Error(err)
			return
		}
		a.Metadata.Labels["app"] = "api"
		if _, err := r.Update(ctx, "default", "a", a, nil); err != nil {
			t.Error(err)
		}
		r.Hub.Notify("Pod/default/a")
	}}
	sent := make(chan string, 10)
	go func() {
		_ = r.ServeWatch(s, "default", &nodev1.WatchPodsRequest{}, func(typ string, p *corev1.Pod) error {
			sent <- typ + ":" + p.Metadata.Labels["app"]
			return nil
		})
	}()
	for _, want := range []string{"ADDED:web", "MODIFIED:api"} {
		select {
		case got := <-sent:
			if got != want {
				t.Fatalf("watch event %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no watch event, want %q", want)
		}
	}
}

// TestUnknownFieldLabelIsBadRequest: a list, watch or matcher with a field label
// the kind does not take is kube-apiserver's 400, not an empty answer.
func TestUnknownFieldLabelIsBadRequest(t *testing.T) {
	ctx := context.Background()
	r, _ := newResource(t)
	const want = "field label not supported: spec.nodename"
	if _, err := r.List(ctx, "", crud.ListOptions{FieldSelector: "spec.nodename=x"}); !apierr.IsBadRequest(err) || status.Convert(err).Message() != want {
		t.Errorf("list: %v, want a 400 %q", err, want)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second) // a watch that was not refused runs until then
	defer cancel()
	err := r.Watch(wctx, "", crud.WatchOptions{FieldSelector: "spec.nodename=x"}, func(string, *corev1.Pod) error { return nil })
	if !apierr.IsBadRequest(err) || status.Convert(err).Message() != want {
		t.Errorf("watch: %v, want a 400 %q", err, want)
	}
	if _, err := r.List(ctx, "", crud.ListOptions{FieldSelector: "spec.host=node-1"}); err != nil {
		t.Errorf("list by the legacy spec.host: %v", err)
	}
}
