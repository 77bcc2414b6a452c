package gateway

import (
	"context"
	"time"

	"google.golang.org/grpc"

	coordinationv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/coordination/v1"
)

// coreBackend is the core service: the kinds Kubernetes keeps in the apiserver
// itself (coordination.k8s.io/v1 Leases).
var coreBackend = backend{
	name:        BackendCore,
	conn:        func(b *Backends) *grpc.ClientConnInterface { return &b.Core },
	register:    (*gateway).registerCore,
	patchRoutes: corePatchRoutes,
	resources:   coreServiceResources,
	printers:    map[string]printer{"Lease": leasePrinter},
}

var leaseDesc = (&coordinationv1.Lease{}).ProtoReflect().Descriptor()

// corePatchRoutes are the core service's object paths that take a PATCH.
var corePatchRoutes = []patchRoute{
	{"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}", leaseDesc},
}

// coreServiceResources are the resources served through the core backend.
var coreServiceResources = []groupResource{
	{"coordination.k8s.io/v1", apiResource{Name: "leases", SingularName: "lease", Namespaced: true, Kind: "Lease", Verbs: objectVerbs}},
}

// registerCore registers the core backend's generated routes.
func (g *gateway) registerCore(ctx context.Context, conn grpc.ClientConnInterface) error {
	return coordinationv1.RegisterLeaseServiceHandlerClient(ctx, g.mux, coordinationv1.NewLeaseServiceClient(conn))
}

// leasePrinter is kubectl's `get leases` columns.
var leasePrinter = printer{
	columns: []column{col("Name", "string", 0), col("Holder", "string", 0), col("Age", "string", 0)},
	cells: func(o map[string]any, now time.Time) []any {
		return []any{name(o), str2(obj(o, "spec"), "holderIdentity"), age(o, now)}
	},
}
