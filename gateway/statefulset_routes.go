package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"

	appsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/apps/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
	storagev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/storage/v1"
)

// statefulSetBackend serves StatefulSets, PersistentVolumeClaims,
// PersistentVolumes and StorageClasses, and stores the StatefulSets'
// ControllerRevisions.
var statefulSetBackend = backend{
	name:        BackendStatefulSet,
	conn:        func(b *Backends) *grpc.ClientConnInterface { return &b.StatefulSet },
	register:    (*gateway).registerStatefulSet,
	patchRoutes: statefulSetPatchRoutes,
	resources:   statefulSetResources,
	printers: map[string]printer{
		"StatefulSet":           statefulSetPrinter,
		"PersistentVolumeClaim": claimPrinter,
		"PersistentVolume":      volumePrinter,
		"StorageClass":          storageClassPrinter,
	},
	revisions: statefulSetRevisions,
}

var (
	statefulSetDesc  = (&statefulsetv1.StatefulSet{}).ProtoReflect().Descriptor()
	claimDesc        = (&statefulsetv1.PersistentVolumeClaim{}).ProtoReflect().Descriptor()
	volumeDesc       = (&statefulsetv1.PersistentVolume{}).ProtoReflect().Descriptor()
	storageClassDesc = (&storagev1.StorageClass{}).ProtoReflect().Descriptor()
)

// statefulSetPatchRoutes are the statefulset backend's paths that take a PATCH.
var statefulSetPatchRoutes = []patchRoute{
	{"/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}", statefulSetDesc},
	{"/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/status", statefulSetDesc},
	{"/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/scale", scaleDesc},
	{"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}", claimDesc},
	{"/api/v1/persistentvolumes/{name}", volumeDesc},
	{"/apis/storage.k8s.io/v1/storageclasses/{name}", storageClassDesc},
}

// statefulSetResources are the resources served through the statefulset backend.
var statefulSetResources = []groupResource{
	{"apps/v1", apiResource{Name: "statefulsets", SingularName: "statefulset", Namespaced: true, Kind: "StatefulSet", Verbs: objectVerbs, ShortNames: []string{"sts"}, Categories: []string{"all"}}},
	{"apps/v1", apiResource{Name: "statefulsets/status", Namespaced: true, Kind: "StatefulSet", Verbs: subresourceVerbs}},
	{"apps/v1", apiResource{Name: "statefulsets/scale", Namespaced: true, Group: "autoscaling", Version: "v1", Kind: "Scale", Verbs: subresourceVerbs}},
	{"v1", apiResource{Name: "persistentvolumeclaims", SingularName: "persistentvolumeclaim", Namespaced: true, Kind: "PersistentVolumeClaim", Verbs: objectVerbs, ShortNames: []string{"pvc"}}},
	{"v1", apiResource{Name: "persistentvolumes", SingularName: "persistentvolume", Kind: "PersistentVolume", Verbs: objectVerbs, ShortNames: []string{"pv"}}},
	{"storage.k8s.io/v1", apiResource{Name: "storageclasses", SingularName: "storageclass", Kind: "StorageClass", Verbs: objectVerbs, ShortNames: []string{"sc"}}},
}

// registerStatefulSet registers the statefulset backend's generated routes.
func (g *gateway) registerStatefulSet(ctx context.Context, conn grpc.ClientConnInterface) error {
	return errors.Join(
		statefulsetv1.RegisterStatefulSetServiceHandlerClient(ctx, g.mux, statefulsetv1.NewStatefulSetServiceClient(conn)),
		statefulsetv1.RegisterPersistentVolumeClaimServiceHandlerClient(ctx, g.mux, statefulsetv1.NewPersistentVolumeClaimServiceClient(conn)),
		statefulsetv1.RegisterPersistentVolumeServiceHandlerClient(ctx, g.mux, statefulsetv1.NewPersistentVolumeServiceClient(conn)),
		storagev1.RegisterStorageClassServiceHandlerClient(ctx, g.mux, storagev1.NewStorageClassServiceClient(conn)),
	)
}

// statefulSetRevisions reads the StatefulSets' ControllerRevisions.
func statefulSetRevisions(conn grpc.ClientConnInterface) revisionSource {
	client := statefulsetv1.NewStatefulSetServiceClient(conn)
	return revisionSource{name: BackendStatefulSet, owner: statefulSetDesc,
		list: func(ctx context.Context, ns, sel, rv, match string) ([]*appsv1.ControllerRevision, string, error) {
			resp, err := client.ListControllerRevisions(ctx, &statefulsetv1.ListControllerRevisionsRequest{Namespace: ns, LabelSelector: sel,
				ResourceVersion: rv, ResourceVersionMatch: match})
			return resp.GetItems(), resp.GetMetadata().GetResourceVersion(), err
		},
		watch: func(ctx context.Context, q watchQuery) (recvFunc[*appsv1.ControllerRevision], error) {
			stream, err := client.WatchControllerRevisions(ctx, &statefulsetv1.WatchControllerRevisionsRequest{
				Namespace: q.namespace, LabelSelector: q.labelSelector, FieldSelector: q.fieldSelector, ResourceVersion: q.resourceVersion,
				ResourceVersionMatch: q.resourceVersionMatch, AllowWatchBookmarks: q.allowWatchBookmarks, SendInitialEvents: q.sendInitialEvents,
			})
			return revisionWatch(stream, err, statefulSetDesc)
		}}
}

// statefulSetPrinter is kubectl's StatefulSet columns.
var statefulSetPrinter = printer{
	columns: []column{col("Name", "string", 0), col("Ready", "string", 0), col("Age", "string", 0),
		col("Containers", "string", 1), col("Images", "string", 1)},
	cells: func(o map[string]any, now time.Time) []any {
		replicas := 1
		if _, ok := obj(o, "spec")["replicas"]; ok {
			replicas = integer(obj(o, "spec"), "replicas")
		}
		ready := fmt.Sprintf("%d/%d", integer(obj(o, "status"), "readyReplicas"), replicas)
		return append([]any{name(o), ready, age(o, now)}, containerColumns(o)[:2]...)
	},
}

// accessModes is kubectl's short form of access modes (RWO,ROX,RWX,RWOP).
func accessModes(m map[string]any) string {
	short := map[string]string{"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
	var out []string
	l, _ := m["accessModes"].([]any)
	for _, x := range l {
		s, _ := x.(string)
		if v, ok := short[s]; ok {
			s = v
		}
		out = append(out, s)
	}
	return strings.Join(out, ",")
}

func quantity(m map[string]any, k string) string {
	if v, ok := m[k]; ok {
		return fmt.Sprint(v)
	}
	return ""
}

func volumeMode(spec map[string]any) string {
	if m := str2(spec, "volumeMode"); m != "" {
		return m
	}
	return "Filesystem"
}

// claimPrinter is kubectl's PersistentVolumeClaim columns.
var claimPrinter = printer{
	columns: []column{col("Name", "string", 0), col("Status", "string", 0), col("Volume", "string", 0), col("Capacity", "string", 0),
		col("Access Modes", "string", 0), col("StorageClass", "string", 0), col("VolumeAttributesClass", "string", 0), col("Age", "string", 0),
		col("VolumeMode", "string", 1)},
	cells: func(o map[string]any, now time.Time) []any {
		spec, st := obj(o, "spec"), obj(o, "status")
		return []any{name(o), str2(st, "phase"), str2(spec, "volumeName"), quantity(obj(st, "capacity"), "storage"), accessModes(st),
			str2(spec, "storageClassName"), orUnset(str2(spec, "volumeAttributesClassName")), age(o, now), volumeMode(spec)}
	},
}

func orUnset(s string) string {
	if s == "" {
		return "<unset>"
	}
	return s
}

// volumePrinter is kubectl's PersistentVolume columns.
var volumePrinter = printer{
	columns: []column{col("Name", "string", 0), col("Capacity", "string", 0), col("Access Modes", "string", 0), col("Reclaim Policy", "string", 0),
		col("Status", "string", 0), col("Claim", "string", 0), col("StorageClass", "string", 0), col("VolumeAttributesClass", "string", 0),
		col("Reason", "string", 0), col("Age", "string", 0), col("VolumeMode", "string", 1)},
	cells: func(o map[string]any, now time.Time) []any {
		spec, st := obj(o, "spec"), obj(o, "status")
		claim := ""
		if ref := obj(spec, "claimRef"); ref != nil {
			claim = str2(ref, "namespace") + "/" + str2(ref, "name")
		}
		return []any{name(o), quantity(obj(spec, "capacity"), "storage"), accessModes(spec), str2(spec, "persistentVolumeReclaimPolicy"),
			str2(st, "phase"), claim, str2(spec, "storageClassName"), orUnset(str2(spec, "volumeAttributesClassName")), str2(st, "reason"),
			age(o, now), volumeMode(spec)}
	},
}

// storageClassPrinter is kubectl's StorageClass columns; the default class's name
// reads "NAME (default)", as kube-apiserver prints it.
var storageClassPrinter = printer{
	columns: []column{col("Name", "string", 0), col("Provisioner", "string", 0), col("ReclaimPolicy", "string", 0),
		col("VolumeBindingMode", "string", 0), col("AllowVolumeExpansion", "string", 0), col("Age", "string", 0)},
	cells: func(o map[string]any, now time.Time) []any {
		n := name(o)
		ann := obj(obj(o, "metadata"), "annotations")
		if str2(ann, "storageclass.kubernetes.io/is-default-class") == "true" || str2(ann, "storageclass.beta.kubernetes.io/is-default-class") == "true" {
			n += " (default)"
		}
		reclaim, mode := str2(o, "reclaimPolicy"), str2(o, "volumeBindingMode")
		if reclaim == "" {
			reclaim = "Delete"
		}
		if mode == "" {
			mode = "Immediate"
		}
		expansion := "false"
		if b, ok := o["allowVolumeExpansion"].(bool); ok && b {
			expansion = "true"
		}
		return []any{n, str2(o, "provisioner"), reclaim, mode, expansion, age(o, now)}
	},
}
