package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"

	coordinationv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/coordination/v1"
	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	policyv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/policy/v1"
)

// coreBackend is the core service: the kinds Kubernetes keeps in the apiserver
// itself (coordination.k8s.io/v1 Leases, core/v1 ConfigMaps, Secrets and
// ServiceAccounts, policy/v1 PodDisruptionBudgets with the pods' eviction subresource).
var coreBackend = backend{
	name:        BackendCore,
	conn:        func(b *Backends) *grpc.ClientConnInterface { return &b.Core },
	register:    (*gateway).registerCore,
	patchRoutes: corePatchRoutes,
	resources:   coreServiceResources,
	printers: map[string]printer{"Namespace": namespacePrinter, "Lease": leasePrinter, "ConfigMap": configMapPrinter, "Secret": secretPrinter,
		"ServiceAccount": serviceAccountPrinter, "PodDisruptionBudget": pdbPrinter},
}

var (
	leaseDesc     = (&coordinationv1.Lease{}).ProtoReflect().Descriptor()
	configMapDesc = (&corev1.ConfigMap{}).ProtoReflect().Descriptor()
	secretDesc    = (&corev1.Secret{}).ProtoReflect().Descriptor()
	saDesc        = (&corev1.ServiceAccount{}).ProtoReflect().Descriptor()
	eventDesc     = (&corev1.Event{}).ProtoReflect().Descriptor()
	namespaceDesc = (&corev1.Namespace{}).ProtoReflect().Descriptor()
	pdbDesc       = (&policyv1.PodDisruptionBudget{}).ProtoReflect().Descriptor()
)

// corePatchRoutes are the core service's object paths that take a PATCH.
var corePatchRoutes = []patchRoute{
	{"/api/v1/namespaces/{name}", namespaceDesc},
	{"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}", leaseDesc},
	{"/api/v1/namespaces/{namespace}/configmaps/{name}", configMapDesc},
	{"/api/v1/namespaces/{namespace}/secrets/{name}", secretDesc},
	{"/api/v1/namespaces/{namespace}/serviceaccounts/{name}", saDesc},
	{"/api/v1/namespaces/{namespace}/events/{name}", eventDesc},
	{"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets/{name}", pdbDesc},
}

// coreServiceResources are the resources served through the core backend.
var coreServiceResources = []groupResource{
	{"v1", apiResource{Name: "namespaces", SingularName: "namespace", Kind: "Namespace", Verbs: namespaceVerbs, ShortNames: []string{"ns"}}},
	{"coordination.k8s.io/v1", apiResource{Name: "leases", SingularName: "lease", Namespaced: true, Kind: "Lease", Verbs: objectVerbs}},
	{"v1", apiResource{Name: "configmaps", SingularName: "configmap", Namespaced: true, Kind: "ConfigMap", Verbs: objectVerbs, ShortNames: []string{"cm"}}},
	{"v1", apiResource{Name: "secrets", SingularName: "secret", Namespaced: true, Kind: "Secret", Verbs: objectVerbs}},
	{"v1", apiResource{Name: "events", SingularName: "event", Namespaced: true, Kind: "Event", Verbs: objectVerbs, ShortNames: []string{"ev"}}},
	{"v1", apiResource{Name: "serviceaccounts", SingularName: "serviceaccount", Namespaced: true, Kind: "ServiceAccount", Verbs: objectVerbs, ShortNames: []string{"sa"}}},
	{"policy/v1", apiResource{Name: "poddisruptionbudgets", SingularName: "poddisruptionbudget", Namespaced: true, Kind: "PodDisruptionBudget", Verbs: objectVerbs, ShortNames: []string{"pdb"}}},
	// The pods' eviction subresource is served here, where the budgets are (kubectl
	// drain looks for it in the v1 resource list, with its group and version).
	{"v1", apiResource{Name: "pods/eviction", Namespaced: true, Group: "policy", Version: "v1", Kind: "Eviction", Verbs: []string{"create"}}},
}

// registerCore registers the core backend's generated routes.
func (g *gateway) registerCore(ctx context.Context, conn grpc.ClientConnInterface) error {
	g.namespaceClient = corev1.NewNamespaceServiceClient(conn)
	g.serviceAccountClient = corev1.NewServiceAccountServiceClient(conn)
	return errors.Join(
		corev1.RegisterNamespaceServiceHandlerClient(ctx, g.mux, g.namespaceClient),
		coordinationv1.RegisterLeaseServiceHandlerClient(ctx, g.mux, coordinationv1.NewLeaseServiceClient(conn)),
		corev1.RegisterConfigMapServiceHandlerClient(ctx, g.mux, corev1.NewConfigMapServiceClient(conn)),
		corev1.RegisterSecretServiceHandlerClient(ctx, g.mux, corev1.NewSecretServiceClient(conn)),
		corev1.RegisterServiceAccountServiceHandlerClient(ctx, g.mux, g.serviceAccountClient),
		// Events posted by clients (client-go's recorder); lists and watches are merged
		// from every backend by the gateway's own handlers.
		corev1.RegisterEventWriteServiceHandlerClient(ctx, g.mux, corev1.NewEventWriteServiceClient(conn)),
		policyv1.RegisterPodDisruptionBudgetServiceHandlerClient(ctx, g.mux, policyv1.NewPodDisruptionBudgetServiceClient(conn)),
		policyv1.RegisterEvictionServiceHandlerClient(ctx, g.mux, policyv1.NewEvictionServiceClient(conn)),
	)
}

// namespacePrinter is kubectl's `get namespaces` columns.
var namespacePrinter = printer{
	columns: []column{col("Name", "string", 0), col("Status", "string", 0), col("Age", "string", 0)},
	cells: func(o map[string]any, now time.Time) []any {
		return []any{name(o), str2(obj(o, "status"), "phase"), age(o, now)}
	},
}

// leasePrinter is kubectl's `get leases` columns.
var leasePrinter = printer{
	columns: []column{col("Name", "string", 0), col("Holder", "string", 0), col("Age", "string", 0)},
	cells: func(o map[string]any, now time.Time) []any {
		return []any{name(o), str2(obj(o, "spec"), "holderIdentity"), age(o, now)}
	},
}

// configMapPrinter is kubectl's `get configmaps` columns (DATA counts data and binaryData).
var configMapPrinter = printer{
	columns: []column{col("Name", "string", 0), col("Data", "integer", 0), col("Age", "string", 0)},
	cells: func(o map[string]any, now time.Time) []any {
		return []any{name(o), len(obj(o, "data")) + len(obj(o, "binaryData")), age(o, now)}
	},
}

// secretPrinter is kubectl's `get secrets` columns.
var secretPrinter = printer{
	columns: []column{col("Name", "string", 0), col("Type", "string", 0), col("Data", "integer", 0), col("Age", "string", 0)},
	cells: func(o map[string]any, now time.Time) []any {
		return []any{name(o), str2(o, "type"), len(obj(o, "data")), age(o, now)}
	},
}

// serviceAccountPrinter is kubectl's `get serviceaccounts` columns.
var serviceAccountPrinter = printer{
	columns: []column{col("Name", "string", 0), col("Secrets", "integer", 0), col("Age", "string", 0)},
	cells: func(o map[string]any, now time.Time) []any {
		return []any{name(o), len(list(o, "secrets")), age(o, now)}
	},
}

// pdbPrinter is kubectl's `get poddisruptionbudgets` columns.
var pdbPrinter = printer{
	columns: []column{col("Name", "string", 0), col("Min Available", "string", 0), col("Max Unavailable", "string", 0),
		col("Allowed Disruptions", "integer", 0), col("Age", "string", 0)},
	cells: func(o map[string]any, now time.Time) []any {
		spec := obj(o, "spec")
		intOrString := func(k string) string {
			if v, ok := spec[k]; ok && v != nil {
				return fmt.Sprint(v)
			}
			return "N/A"
		}
		return []any{name(o), intOrString("minAvailable"), intOrString("maxUnavailable"), integer(obj(o, "status"), "disruptionsAllowed"), age(o, now)}
	},
}
