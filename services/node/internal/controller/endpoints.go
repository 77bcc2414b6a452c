package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/services/node/internal/repo"
	"github.com/podwarden/podwarden/shared/store"

	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// serviceIndex remembers which Services of each namespace have a selector, so
// that a pod change wakes only those (a level-triggered hint: the resync
// repairs whatever it misses).
type serviceIndex struct {
	mu       sync.Mutex
	selected map[string]map[string]bool // namespace -> names of Services with a selector
}

func (s *serviceIndex) set(ns, name string, hasSelector bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.selected == nil {
		s.selected = map[string]map[string]bool{}
	}
	if !hasSelector {
		delete(s.selected[ns], name)
		return
	}
	if s.selected[ns] == nil {
		s.selected[ns] = map[string]bool{}
	}
	s.selected[ns][name] = true
}

func (s *serviceIndex) names(ns string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.selected[ns]))
	for n := range s.selected[ns] {
		out = append(out, n)
	}
	return out
}

// onPodChange wakes the Services with a selector in the pod's namespace.
func (c *Controllers) onPodChange(podKey string) {
	ns, _, _ := strings.Cut(podKey, "/")
	for _, name := range c.services.names(ns) {
		c.endpoints.Enqueue(ns + "/" + name)
	}
}

// listServiceKeys lists every Service and every Endpoints object (one left
// behind by a deleted Service is deleted by its sync).
func (c *Controllers) listServiceKeys(ctx context.Context) ([]string, error) {
	svcs, err := repo.Services.Keys(ctx, c.db.Pool)
	if err != nil {
		return nil, err
	}
	eps, err := repo.Endpoints.Keys(ctx, c.db.Pool)
	if err != nil {
		return nil, err
	}
	return append(svcs, eps...), nil
}

// syncEndpoints is the endpoints controller for one Service: it writes the
// Endpoints endpointsFor computes from the stored pods (when they differ), or
// deletes the Endpoints it wrote for a Service that is gone. The Endpoints of
// a Service without selector are the user's and are left alone.
func (c *Controllers) syncEndpoints(ctx context.Context, key string) error {
	ns, name, _ := strings.Cut(key, "/")
	svc, err := repo.Services.Get(ctx, c.db.Pool, ns, name)
	if errors.Is(err, store.ErrNotFound) {
		c.services.set(ns, name, false)
		return c.deleteManagedEndpoints(ctx, ns, name)
	}
	if err != nil {
		return err
	}
	selector := svc.GetSpec().GetSelector()
	c.services.set(ns, name, len(selector) > 0)
	if len(selector) == 0 {
		return nil
	}
	pods, err := repo.Pods.List(ctx, c.db.Pool, store.ListOptions{Namespace: ns, Labels: selector})
	if err != nil {
		return err
	}
	want := endpointsFor(svc, pods)
	cur, err := repo.Endpoints.Get(ctx, c.db.Pool, ns, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		want.Metadata.Annotations = map[string]string{AnnotationTriggerTime: c.clock.Now().UTC().Format(time.RFC3339Nano)}
		if _, err := repo.Endpoints.Create(ctx, c.db.Pool, want); err != nil {
			return fmt.Errorf("create endpoints %s: %w", key, err)
		}
		return nil
	case err != nil:
		return err
	}
	if sameEndpoints(cur, want) {
		return nil
	}
	next := proto.Clone(cur).(*nodev1.Endpoints)
	next.Subsets = want.Subsets
	next.Metadata.Labels = want.Metadata.Labels
	if next.Metadata.Annotations == nil {
		next.Metadata.Annotations = map[string]string{}
	}
	next.Metadata.Annotations[AnnotationTriggerTime] = c.clock.Now().UTC().Format(time.RFC3339Nano)
	if _, err := repo.Endpoints.Update(ctx, c.db.Pool, next); err != nil {
		return fmt.Errorf("update endpoints %s: %w", key, err)
	}
	return nil
}

// sameEndpoints compares what the controller owns: subsets and labels.
func sameEndpoints(cur, want *nodev1.Endpoints) bool {
	if len(cur.GetSubsets()) != len(want.GetSubsets()) || !maps.Equal(cur.GetMetadata().GetLabels(), want.GetMetadata().GetLabels()) {
		return false
	}
	for i := range cur.GetSubsets() {
		if !proto.Equal(cur.GetSubsets()[i], want.GetSubsets()[i]) {
			return false
		}
	}
	return true
}

func (c *Controllers) deleteManagedEndpoints(ctx context.Context, ns, name string) error {
	ep, err := repo.Endpoints.Get(ctx, c.db.Pool, ns, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, managed := ep.GetMetadata().GetAnnotations()[AnnotationTriggerTime]; !managed {
		return nil
	}
	_, err = repo.Endpoints.Delete(ctx, c.db.Pool, ns, name, ep.GetMetadata().GetUid())
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete endpoints %s/%s: %w", ns, name, err)
	}
	return nil
}
