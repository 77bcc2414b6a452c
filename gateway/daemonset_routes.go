package gateway

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"

	appsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/apps/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
)

// daemonSetBackend serves DaemonSets and stores their ControllerRevisions.
var daemonSetBackend = backend{
	name:        BackendDaemonSet,
	conn:        func(b *Backends) *grpc.ClientConnInterface { return &b.DaemonSet },
	register:    (*gateway).registerDaemonSet,
	patchRoutes: daemonSetPatchRoutes,
	resources:   daemonSetResources,
	printers:    map[string]printer{"DaemonSet": daemonSetPrinter},
	revisions:   daemonSetRevisions,
}

var daemonSetDesc = (&daemonsetv1.DaemonSet{}).ProtoReflect().Descriptor()

// daemonSetPatchRoutes are the DaemonSet paths that take a PATCH.
var daemonSetPatchRoutes = []patchRoute{
	{"/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}", daemonSetDesc},
	{"/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}/status", daemonSetDesc},
}

// daemonSetResources are the resources served through the daemonset backend.
var daemonSetResources = []groupResource{
	{"apps/v1", apiResource{Name: "daemonsets", SingularName: "daemonset", Namespaced: true, Kind: "DaemonSet", Verbs: objectVerbs, ShortNames: []string{"ds"}, Categories: []string{"all"}}},
	{"apps/v1", apiResource{Name: "daemonsets/status", Namespaced: true, Kind: "DaemonSet", Verbs: subresourceVerbs}},
}

// registerDaemonSet registers the daemonset backend's generated routes.
func (g *gateway) registerDaemonSet(ctx context.Context, conn grpc.ClientConnInterface) error {
	return daemonsetv1.RegisterDaemonSetServiceHandlerClient(ctx, g.mux, daemonsetv1.NewDaemonSetServiceClient(conn))
}

// daemonSetRevisions reads the DaemonSets' ControllerRevisions.
func daemonSetRevisions(conn grpc.ClientConnInterface) revisionSource {
	client := daemonsetv1.NewDaemonSetServiceClient(conn)
	return revisionSource{name: BackendDaemonSet, owner: daemonSetDesc,
		list: func(ctx context.Context, ns, sel, rv, match string) ([]*appsv1.ControllerRevision, string, error) {
			resp, err := client.ListControllerRevisions(ctx, &daemonsetv1.ListControllerRevisionsRequest{Namespace: ns, LabelSelector: sel,
				ResourceVersion: rv, ResourceVersionMatch: match})
			return resp.GetItems(), resp.GetMetadata().GetResourceVersion(), err
		},
		watch: func(ctx context.Context, q watchQuery) (recvFunc[*appsv1.ControllerRevision], error) {
			stream, err := client.WatchControllerRevisions(ctx, &daemonsetv1.WatchControllerRevisionsRequest{
				Namespace: q.namespace, LabelSelector: q.labelSelector, FieldSelector: q.fieldSelector, ResourceVersion: q.resourceVersion,
				ResourceVersionMatch: q.resourceVersionMatch, AllowWatchBookmarks: q.allowWatchBookmarks, SendInitialEvents: q.sendInitialEvents,
			})
			return revisionWatch(stream, err, daemonSetDesc)
		}}
}

// daemonSetPrinter is kubectl's DaemonSet columns.
var daemonSetPrinter = printer{
	columns: []column{col("Name", "string", 0), col("Desired", "integer", 0), col("Current", "integer", 0), col("Ready", "integer", 0),
		col("Up-to-date", "integer", 0), col("Available", "integer", 0), col("Node Selector", "string", 0), col("Age", "string", 0),
		col("Containers", "string", 1), col("Images", "string", 1), col("Selector", "string", 1)},
	cells: func(o map[string]any, now time.Time) []any {
		st := obj(o, "status")
		var sel []string
		for k, v := range obj(obj(obj(obj(o, "spec"), "template"), "spec"), "nodeSelector") {
			sel = append(sel, k+"="+fmt.Sprint(v))
		}
		sort.Strings(sel)
		return append([]any{name(o), integer(st, "desiredNumberScheduled"), integer(st, "currentNumberScheduled"), integer(st, "numberReady"),
			integer(st, "updatedNumberScheduled"), integer(st, "numberAvailable"), orNone(strings.Join(sel, ",")), age(o, now)}, containerColumns(o)...)
	},
}
