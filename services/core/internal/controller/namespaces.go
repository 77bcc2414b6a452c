package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/core/internal/server"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/controller"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// SystemNamespaces exist from the start, as in a new cluster, and are made again
// when missing (kube-apiserver's system namespaces controller).
var SystemNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// ContentType is one kind of namespaced object that a namespace holds and the
// namespace controller removes: how to list a namespace's objects of it and delete one.
type ContentType struct {
	// Resource names it in conditions as Kubernetes does ("deployments.apps", "pods.").
	Resource string
	List     func(ctx context.Context, ns string) ([]*corev1.ObjectMeta, error)
	Delete   func(ctx context.Context, ns, name string) error
}

// contentRetry is how soon a namespace whose content is still going is looked at
// again; contentPassTimeout bounds one pass over every service.
const (
	contentRetry       = time.Second
	contentPassTimeout = 30 * time.Second
)

// Namespaces is kube-controller-manager's namespace controller (with
// kube-apiserver's system namespaces controller): it keeps the system namespaces
// and, for a namespace being deleted, deletes everything in it in every service
// (Content), reports what is left in the namespace's conditions, and once nothing
// is left removes the kubernetes finalizer and the namespace. Its key is a
// namespace name; a sync is level-triggered (all it needs is the stored
// Terminating namespace), so a restarted leader finishes the job.
type Namespaces struct {
	db      *store.DB
	ns      *crud.Resource[*corev1.Namespace]
	content []ContentType
	now     func() time.Time
	loop    *controller.Controller
	log     *slog.Logger
}

// NewNamespaces returns the controller.
func NewNamespaces(db *store.DB, ns *crud.Resource[*corev1.Namespace], content []ContentType, now func() time.Time, log *slog.Logger, workers int, resync time.Duration) *Namespaces {
	c := &Namespaces{db: db, ns: ns, content: content, now: now, log: log}
	c.loop = controller.New(controller.Config{Name: "namespace", Workers: workers, Sync: c.sync,
		List: c.terminating, Resync: resync, Log: log})
	return c
}

// OnObject routes a namespace's change to its key.
func (c *Namespaces) OnObject(payload string) {
	if name, ok := NamespaceChange(payload); ok {
		c.loop.Enqueue(name)
	}
}

// NamespaceChange reads the name of a Namespace change notification ("Namespace//name").
func NamespaceChange(payload string) (string, bool) {
	parts := strings.SplitN(payload, "/", 3)
	if len(parts) != 3 || parts[0] != "Namespace" || parts[2] == "" {
		return "", false
	}
	return parts[2], true
}

// Run makes the system namespaces, then runs the loop until ctx ends (one leadership term).
func (c *Namespaces) Run(ctx context.Context) {
	go c.ensureSystem(ctx)
	c.loop.Run(ctx)
}

// ensureSystem creates the system namespaces that are missing, retrying until it
// has (the store may be briefly unreachable at start).
func (c *Namespaces) ensureSystem(ctx context.Context) {
	for {
		err := EnsureNamespaces(ctx, c.ns, SystemNamespaces)
		if err == nil {
			return
		}
		c.log.Warn("create the system namespaces", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// EnsureNamespaces creates the named namespaces that do not exist.
func EnsureNamespaces(ctx context.Context, r *crud.Resource[*corev1.Namespace], names []string) error {
	for _, name := range names {
		if _, err := r.Get(ctx, "", name); err == nil {
			continue
		} else if !apierr.IsNotFound(err) {
			return err
		}
		ns := &corev1.Namespace{ApiVersion: "v1", Kind: "Namespace", Metadata: &corev1.ObjectMeta{Name: name}}
		if _, err := r.Create(ctx, "", ns, nil); err != nil && !apierr.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", name, err)
		}
	}
	return nil
}

// terminating lists the namespaces being deleted, for resyncs.
func (c *Namespaces) terminating(ctx context.Context) ([]string, error) {
	res, err := c.ns.List(ctx, "", crud.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ns := range res.Items {
		if ns.GetMetadata().GetDeletionTimestamp() != nil {
			out = append(out, ns.GetMetadata().GetName())
		}
	}
	return out, nil
}

// ContentTotals is what a pass found left in a namespace.
type ContentTotals struct {
	// Remaining counts the objects left by resource; Finalizers those carrying
	// each finalizer.
	Remaining  map[string]int
	Finalizers map[string]int
	// Errors are the failures to list or delete (one per resource).
	Errors []string
}

// Empty reports whether the namespace's content is gone.
func (t ContentTotals) Empty() bool {
	for _, n := range t.Remaining {
		if n > 0 {
			return false
		}
	}
	return len(t.Errors) == 0
}

// sync empties a terminating namespace, then removes it.
func (c *Namespaces) sync(ctx context.Context, name string) error {
	ns, err := c.ns.Get(ctx, "", name)
	if apierr.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get namespace %s: %w", name, err)
	}
	if ns.GetMetadata().GetDeletionTimestamp() == nil {
		return nil
	}
	var totals ContentTotals
	if slices.Contains(ns.GetSpec().GetFinalizers(), server.FinalizerKubernetes) {
		totals = c.deleteContent(ctx, name)
	}
	done, err := c.write(ctx, name, totals)
	if err != nil {
		return err
	}
	if !done {
		c.log.Debug("namespace content remaining", "namespace", name, "remaining", totals.Remaining, "errors", totals.Errors)
		c.loop.EnqueueAfter(name, contentRetry)
	}
	return nil
}

// deleteContent deletes every object in the namespace that is not being deleted
// yet, then counts what is left.
func (c *Namespaces) deleteContent(ctx context.Context, ns string) ContentTotals {
	// A service that hangs fails this pass, not the worker.
	ctx, cancel := context.WithTimeout(ctx, contentPassTimeout)
	defer cancel()
	t := ContentTotals{Remaining: map[string]int{}, Finalizers: map[string]int{}}
	failed := map[string]bool{}
	for _, ct := range c.content {
		items, err := ct.List(ctx, ns)
		if err != nil {
			t.Errors = append(t.Errors, fmt.Sprintf("failed to list %s: %v", ct.Resource, apierr.Message(err)))
			failed[ct.Resource] = true
			continue
		}
		for _, m := range items {
			if m.GetDeletionTimestamp() != nil {
				continue
			}
			if err := ct.Delete(ctx, ns, m.GetName()); err != nil && !apierr.IsNotFound(err) && !apierr.IsConflict(err) {
				t.Errors = append(t.Errors, fmt.Sprintf("failed to delete %s %s: %v", ct.Resource, m.GetName(), apierr.Message(err)))
				failed[ct.Resource] = true
				break
			}
		}
	}
	for _, ct := range c.content {
		if failed[ct.Resource] {
			continue
		}
		items, err := ct.List(ctx, ns)
		if err != nil {
			t.Errors = append(t.Errors, fmt.Sprintf("failed to list %s: %v", ct.Resource, apierr.Message(err)))
			continue
		}
		if len(items) > 0 {
			t.Remaining[ct.Resource] += len(items)
		}
		for _, m := range items {
			for _, f := range m.GetFinalizers() {
				t.Finalizers[f]++
			}
		}
	}
	return t
}

// write records the pass in the namespace's status and, when its content is gone,
// finalizes it (removes the kubernetes finalizer) and deletes it once no finalizer
// is left. done reports that the namespace is finished with.
func (c *Namespaces) write(ctx context.Context, name string, totals ContentTotals) (done bool, err error) {
	err = c.db.InTx(ctx, func(tx pgx.Tx) error {
		ns, err := c.ns.Kind.GetForUpdate(ctx, tx, "", name)
		if errors.Is(err, store.ErrNotFound) {
			done = true
			return nil
		}
		if err != nil {
			return err
		}
		next := proto.Clone(ns).(*corev1.Namespace)
		server.MarkTerminating(next, c.now())
		if slices.Contains(next.GetSpec().GetFinalizers(), server.FinalizerKubernetes) {
			next.Status.Conditions = UpdateConditions(next.Status.Conditions, totals, c.now())
			if totals.Empty() {
				next.Spec.Finalizers = slices.DeleteFunc(next.Spec.Finalizers, func(f string) bool { return f == server.FinalizerKubernetes })
			}
		}
		if len(next.GetSpec().GetFinalizers()) == 0 && len(next.GetMetadata().GetFinalizers()) == 0 {
			done = true
			_, err := c.ns.Kind.Delete(ctx, tx, "", name, ns.GetMetadata().GetUid())
			return err
		}
		if proto.Equal(next, ns) {
			return nil
		}
		_, err = c.ns.Kind.Update(ctx, tx, next)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("update namespace %s: %w", name, err)
	}
	return done, nil
}

// Kubernetes' namespace condition types, in the order the controller keeps them.
const (
	NamespaceDeletionDiscoveryFailure = "NamespaceDeletionDiscoveryFailure"
	NamespaceDeletionGVParsingFailure = "NamespaceDeletionGroupVersionParsingFailure"
	NamespaceDeletionContentFailure   = "NamespaceDeletionContentFailure"
	NamespaceContentRemaining         = "NamespaceContentRemaining"
	NamespaceFinalizersRemaining      = "NamespaceFinalizersRemaining"
)

var (
	conditionTypes = []string{NamespaceDeletionDiscoveryFailure, NamespaceDeletionGVParsingFailure,
		NamespaceDeletionContentFailure, NamespaceContentRemaining, NamespaceFinalizersRemaining}
	okMessages = map[string]string{
		NamespaceDeletionDiscoveryFailure: "All resources successfully discovered",
		NamespaceDeletionGVParsingFailure: "All legacy kube types successfully parsed",
		NamespaceDeletionContentFailure:   "All content successfully deleted, may be waiting on finalization",
		NamespaceContentRemaining:         "All content successfully removed",
		NamespaceFinalizersRemaining:      "All content successfully removed",
	}
	okReasons = map[string]string{
		NamespaceDeletionDiscoveryFailure: "ResourcesDiscovered",
		NamespaceDeletionGVParsingFailure: "ParsedGroupVersions",
		NamespaceDeletionContentFailure:   "ContentDeleted",
		NamespaceContentRemaining:         "ContentRemoved",
		NamespaceFinalizersRemaining:      "ContentRemoved",
	}
)

// UpdateConditions is the namespace deleter's condition update
// (pkg/controller/namespace/deletion/status_condition_utils.go): each of the five
// types is True with what failed or remains, else False with its "ok" reason; a
// condition's lastTransitionTime moves only when its status changes.
func UpdateConditions(old []*corev1.Condition, t ContentTotals, now time.Time) []*corev1.Condition {
	fresh := map[string]*corev1.Condition{}
	if len(t.Remaining) > 0 {
		var parts []string
		for res, n := range t.Remaining {
			if n > 0 {
				parts = append(parts, fmt.Sprintf("%s has %d resource instances", res, n))
			}
		}
		sort.Strings(parts)
		if len(parts) > 0 {
			fresh[NamespaceContentRemaining] = &corev1.Condition{Type: NamespaceContentRemaining, Status: "True",
				Reason: "SomeResourcesRemain", Message: "Some resources are remaining: " + strings.Join(parts, ", ")}
		}
	}
	if len(t.Finalizers) > 0 {
		var parts []string
		for f, n := range t.Finalizers {
			if n > 0 {
				parts = append(parts, fmt.Sprintf("%s in %d resource instances", f, n))
			}
		}
		sort.Strings(parts)
		if len(parts) > 0 {
			fresh[NamespaceFinalizersRemaining] = &corev1.Condition{Type: NamespaceFinalizersRemaining, Status: "True",
				Reason: "SomeFinalizerRemain", Message: "Some finalizers are remaining: " + strings.Join(parts, ", ")}
		}
	}
	if len(t.Errors) > 0 {
		msgs := slices.Clone(t.Errors)
		sort.Strings(msgs)
		fresh[NamespaceDeletionContentFailure] = &corev1.Condition{Type: NamespaceDeletionContentFailure, Status: "True",
			Reason: "ContentDeletionFailed", Message: fmt.Sprintf("Failed to delete all resource types, %d remaining: %v", len(msgs), strings.Join(msgs, ", "))}
	}
	out := make([]*corev1.Condition, 0, len(conditionTypes))
	for _, typ := range conditionTypes {
		want := fresh[typ]
		if want == nil {
			want = &corev1.Condition{Type: typ, Status: "False", Reason: okReasons[typ], Message: okMessages[typ]}
		}
		want.LastTransitionTime = timestamppb.New(now.Truncate(time.Second))
		if i := slices.IndexFunc(old, func(c *corev1.Condition) bool { return c.GetType() == typ }); i >= 0 {
			prev := old[i]
			if prev.GetStatus() == want.Status {
				want.LastTransitionTime = prev.GetLastTransitionTime()
			}
		}
		out = append(out, want)
	}
	// Conditions of other types (set by someone else) are kept after ours.
	for _, c := range old {
		if !slices.Contains(conditionTypes, c.GetType()) {
			out = append(out, c)
		}
	}
	return out
}
