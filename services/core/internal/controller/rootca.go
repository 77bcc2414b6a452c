package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/controller"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/pki"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// The root CA ConfigMap every namespace gets (kube-controller-manager's
// root-ca-cert-publisher).
const (
	RootCAConfigMapName = "kube-root-ca.crt"
	RootCAKey           = "ca.crt"
	// RootCADescription is the annotation Kubernetes puts on it.
	RootCADescriptionAnnotation = "kubernetes.io/description"
	RootCADescription           = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."
)

// RootCAConfigMap is the ConfigMap the publisher wants in ns.
func RootCAConfigMap(ns, caPEM string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ApiVersion: "v1", Kind: "ConfigMap",
		Metadata: &corev1.ObjectMeta{Name: RootCAConfigMapName, Namespace: ns,
			Annotations: map[string]string{RootCADescriptionAnnotation: RootCADescription}},
		Data: map[string]string{RootCAKey: caPEM}}
}

// RootCAUpdate returns the update that brings cm to what the publisher wants (its
// data exactly the CA, the description annotation set, the rest kept), or nil when
// cm is up to date.
func RootCAUpdate(cm *corev1.ConfigMap, caPEM string) *corev1.ConfigMap {
	want := map[string]string{RootCAKey: caPEM}
	if maps.Equal(cm.GetData(), want) && len(cm.GetBinaryData()) == 0 &&
		cm.GetMetadata().GetAnnotations()[RootCADescriptionAnnotation] == RootCADescription {
		return nil
	}
	next := proto.Clone(cm).(*corev1.ConfigMap)
	next.Data, next.BinaryData = want, nil
	if next.Metadata.Annotations == nil {
		next.Metadata.Annotations = map[string]string{}
	}
	next.Metadata.Annotations[RootCADescriptionAnnotation] = RootCADescription
	return next
}

// RootCA is the root-ca-cert-publisher: every Active namespace has the ConfigMap
// kube-root-ca.crt holding the CA, made again when deleted and put back when
// changed. Its key is a namespace.
type RootCA struct {
	ns    *crud.Resource[*corev1.Namespace]
	cm    *crud.Resource[*corev1.ConfigMap]
	caPEM string
	loop  *controller.Controller
	log   *slog.Logger
}

// NewRootCA returns the publisher of caPEM.
func NewRootCA(ns *crud.Resource[*corev1.Namespace], cm *crud.Resource[*corev1.ConfigMap], caPEM string, log *slog.Logger, workers int, resync time.Duration) *RootCA {
	c := &RootCA{ns: ns, cm: cm, caPEM: caPEM, log: log}
	c.loop = controller.New(controller.Config{Name: "root-ca-cert-publisher", Workers: workers, Sync: c.sync,
		List: func(ctx context.Context) ([]string, error) { return listNamespaces(ctx, ns) }, Resync: resync, Log: log})
	return c
}

// OnObject routes a namespace's change, and its kube-root-ca.crt's, to the namespace.
func (c *RootCA) OnObject(payload string) {
	if name, ok := NamespaceChange(payload); ok {
		c.loop.Enqueue(name)
		return
	}
	if ns, ok := NamespaceOf(payload); ok {
		c.loop.Enqueue(ns)
	}
}

// Run runs the loop until ctx ends (one leadership term).
func (c *RootCA) Run(ctx context.Context) { c.loop.Run(ctx) }

func (c *RootCA) sync(ctx context.Context, ns string) error {
	if ok, err := activeNamespace(ctx, c.ns, ns); !ok || err != nil {
		return err
	}
	cm, err := c.cm.Get(ctx, ns, RootCAConfigMapName)
	if apierr.IsNotFound(err) {
		if _, err := c.cm.Create(ctx, ns, RootCAConfigMap(ns, c.caPEM), nil); err != nil && !apierr.IsAlreadyExists(err) {
			return fmt.Errorf("create configmap %s/%s: %w", ns, RootCAConfigMapName, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("get configmap %s/%s: %w", ns, RootCAConfigMapName, err)
	}
	if next := RootCAUpdate(cm, c.caPEM); next != nil {
		if _, err := c.cm.Update(ctx, ns, RootCAConfigMapName, next, nil); err != nil {
			return fmt.Errorf("update configmap %s/%s: %w", ns, RootCAConfigMapName, err)
		}
	}
	return nil
}

// generatedCA is where the core service keeps the CA it generated when it was
// given none (a ConfigMap-shaped row of its schema, never served).
var generatedCA = store.Kind[*corev1.ConfigMap]{Name: "GeneratedRootCA", Quiet: true,
	New: func() *corev1.ConfigMap { return &corev1.ConfigMap{} }}

// LoadRootCA is the CA certificate to publish: the PEM file when one is given (the
// CA of the gateway's serving certificate), else a CA the service generated once
// and keeps in its schema, so every replica and restart publishes the same one.
func LoadRootCA(ctx context.Context, db *store.DB, file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("root CA: %w", err)
		}
		return string(b), nil
	}
	const name = "root-ca"
	for range 2 {
		cm, err := generatedCA.Get(ctx, db.Pool, "", name)
		if err == nil {
			return cm.GetData()[RootCAKey], nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("root CA: %w", err)
		}
		ca, err := pki.NewCA("podwarden-root-ca")
		if err != nil {
			return "", fmt.Errorf("root CA: %w", err)
		}
		_, err = generatedCA.Create(ctx, db.Pool, &corev1.ConfigMap{Metadata: &corev1.ObjectMeta{Name: name},
			Data: map[string]string{RootCAKey: string(ca.CertPEM)}})
		if err == nil {
			return string(ca.CertPEM), nil
		}
		if !errors.Is(err, store.ErrAlreadyExists) {
			return "", fmt.Errorf("root CA: %w", err)
		}
		// Another replica made it first: read theirs.
	}
	return "", errors.New("root CA: could not be stored or read")
}
