package gateway

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
)

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
func registerDaemonSet(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
	err := errors.Join(
		daemonsetv1.RegisterDaemonSetServiceHandlerClient(ctx, mux, daemonsetv1.NewDaemonSetServiceClient(conn)),
	)
	if err != nil {
		return fmt.Errorf("register daemonset backend routes: %w", err)
	}
	return nil
}

func init() { printers["DaemonSet"] = daemonSetPrinter }

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
