// Package controller holds the core service's controllers: the service-account
// controller of kube-controller-manager (every namespace gets a ServiceAccount
// named "default").
package controller

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/podwarden/podwarden/services/core/internal/server"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/controller"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// DefaultServiceAccountName is the ServiceAccount every namespace has.
const DefaultServiceAccountName = "default"

// ServiceAccounts is the service-account controller: in each Active namespace it
// makes sure a ServiceAccount "default" exists, and makes it again when it is
// deleted, as kube-controller-manager's serviceaccount-controller does (a
// terminating namespace gets nothing new). Its key is a namespace.
type ServiceAccounts struct {
	db   *store.DB
	ns   *crud.Resource[*corev1.Namespace]
	sa   *crud.Resource[*corev1.ServiceAccount]
	loop *controller.Controller
	log  *slog.Logger
}

// NewServiceAccounts returns the controller; ns serves the namespaces, sa the
// ServiceAccounts it reads and creates (with their defaults and validation).
func NewServiceAccounts(db *store.DB, ns *crud.Resource[*corev1.Namespace], sa *crud.Resource[*corev1.ServiceAccount], log *slog.Logger, workers int, resync time.Duration) *ServiceAccounts {
	c := &ServiceAccounts{db: db, ns: ns, sa: sa, log: log}
	c.loop = controller.New(controller.Config{Name: "serviceaccount", Workers: workers, Sync: c.sync,
		List: c.namespaces, Resync: resync, Log: log})
	return c
}

// OnObject routes a stored change ("Kind/namespace/name") to its namespace: a new
// namespace gets its default, a deleted default comes back.
func (c *ServiceAccounts) OnObject(payload string) {
	if name, ok := NamespaceChange(payload); ok {
		c.loop.Enqueue(name)
		return
	}
	if ns, ok := NamespaceOf(payload); ok {
		c.loop.Enqueue(ns)
	}
}

// Run runs the loop until ctx ends (one leadership term).
func (c *ServiceAccounts) Run(ctx context.Context) { c.loop.Run(ctx) }

// NamespaceOf reads the namespace of a change notification ("Kind/namespace/name");
// cluster-scoped objects (empty namespace) have none.
func NamespaceOf(payload string) (string, bool) {
	parts := strings.SplitN(payload, "/", 3)
	if len(parts) != 3 || parts[1] == "" {
		return "", false
	}
	return parts[1], true
}

// DefaultServiceAccount is the ServiceAccount the controller creates in ns.
func DefaultServiceAccount(ns string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ApiVersion: "v1", Kind: "ServiceAccount",
		Metadata: &corev1.ObjectMeta{Name: DefaultServiceAccountName, Namespace: ns}}
}

// namespaces lists the namespaces, for resyncs.
func (c *ServiceAccounts) namespaces(ctx context.Context) ([]string, error) {
	return listNamespaces(ctx, c.ns)
}

// listNamespaces is the name of every namespace.
func listNamespaces(ctx context.Context, r *crud.Resource[*corev1.Namespace]) ([]string, error) {
	res, err := r.List(ctx, "", crud.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	out := make([]string, len(res.Items))
	for i, ns := range res.Items {
		out[i] = ns.GetMetadata().GetName()
	}
	return out, nil
}

// IsActive reports whether a namespace takes new content: it exists and is not
// being deleted.
func IsActive(ns *corev1.Namespace) bool {
	return ns != nil && ns.GetMetadata().GetDeletionTimestamp() == nil && ns.GetStatus().GetPhase() != server.NamespaceTerminating
}

// activeNamespace reads namespace name; ok is false when it is missing or terminating.
func activeNamespace(ctx context.Context, r *crud.Resource[*corev1.Namespace], name string) (ok bool, err error) {
	ns, err := r.Get(ctx, "", name)
	if apierr.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get namespace %s: %w", name, err)
	}
	return IsActive(ns), nil
}

// sync makes sure namespace ns has its default ServiceAccount.
func (c *ServiceAccounts) sync(ctx context.Context, ns string) error {
	if ok, err := activeNamespace(ctx, c.ns, ns); !ok || err != nil {
		return err
	}
	_, err := c.sa.Get(ctx, ns, DefaultServiceAccountName)
	if err == nil {
		return nil
	}
	if !apierr.IsNotFound(err) {
		return fmt.Errorf("get serviceaccount %s/%s: %w", ns, DefaultServiceAccountName, err)
	}
	if _, err := c.sa.Create(ctx, ns, DefaultServiceAccount(ns), nil); err != nil && !apierr.IsAlreadyExists(err) {
		return fmt.Errorf("create serviceaccount %s/%s: %w", ns, DefaultServiceAccountName, err)
	}
	c.log.Debug("created default serviceaccount", "namespace", ns)
	return nil
}
