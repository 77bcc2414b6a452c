// Package gateway is podwarden's REST facade: Kubernetes' API paths, bodies and
// errors turned into gRPC calls on the backend services (grpc-gateway, with the
// routes of proto/http.yaml), plus what kube-apiserver has that a gRPC mapping
// cannot express.
//
// Wire format (marshal.go, numbers.go, decode_errors.go, kube_protobuf.go):
//   - JSON or YAML bodies (Content-Type application/json, application/yaml,
//     application/x-yaml); unknown fields are rejected with 400 BadRequest naming
//     their full path, as kube-apiserver's strict decoding does; Kubernetes'
//     protobuf (application/vnd.kubernetes.protobuf, what kubectl's typed
//     clients send) is converted to JSON first;
//   - answers in JSON, or YAML for Accept: application/yaml; unset fields omitted,
//     64-bit integers written as numbers, an empty list's items as [];
//   - server streams are newline-delimited messages (watch events are already
//     {"type":..., "object":...}); an error mid-stream is an ERROR event.
//
// Errors (errors.go): every failure is a Kubernetes Status with kube-apiserver's
// HTTP code. Backends give the reason in an errdetails.ErrorInfo (Reason = the
// StatusReason, Metadata group/kind/name/uid) and an Invalid's causes in an
// errdetails.BadRequest (FieldViolation Field, Description, Reason); without an
// ErrorInfo the gRPC code decides.
//
// Hand-written endpoints:
//   - PATCH (json-patch, merge-patch, strategic-merge-patch) on every object path
//     with a GET and a PUT: read, patch, write with the read resourceVersion,
//     retried on conflict (patch.go, strategic_patch.go);
//   - ?watch=true on list paths, forwarded to the watch routes; every watch gets
//     its headers at once even from a silent backend and honours timeoutSeconds
//     (watch.go); the backends' watch caches give the rest its semantics;
//   - /api/v1[/namespaces/{ns}]/events, merged from every backend's EventService;
//   - /apis/apps/v1[/namespaces/{ns}]/controllerrevisions (list, get, watch),
//     merged from the daemonset and statefulset backends;
//   - /api/v1/namespaces/{ns}/pods/{name}/log (kubectl logs), and the
//     batch/v1beta1 CronJob paths, answered 404 with the way to batch/v1;
//   - /api/v1/namespaces (list, get, create; namespaces spring into being on use);
//   - /api, /api/v1, /apis, /apis/{group}[/{version}] discovery, /version,
//     /openapi/v2 (JSON, or protobuf for kubectl), /healthz, /livez, /readyz
//     (every backend's grpc.health.v1);
//   - /openapi/v3 and /openapi/v3/apis/{group}/{version} (openapi_v3.go): per
//     served group/version, kube-apiserver's own schemas of the kinds served and
//     a path per endpoint (internal/kubeopenapi), for kubectl explain and
//     kubectl's field validation and patch building;
//   - server-side apply (PATCH application/apply-patch+yaml) and
//     metadata.managedFields on every create, update and patch (apply.go,
//     fieldmanager.go: apimachinery's field manager over the upstream schemas);
//   - fieldValidation (Warn by default, Strict, Ignore) on every write
//     (fieldvalidation.go): unknown and duplicate fields dropped with a Warning
//     header, or refused.
//
// Backends (gateway.go): each backend service is described once, by a backend
// value in its own file (deployment_routes.go, statefulset_routes.go,
// daemonset_routes.go, job_routes.go, autoscaler_routes.go, node_routes.go,
// core_routes.go):
// where its connection is in Backends, how its routes are registered (the
// generated ones and its hand-written ones), its PATCH paths, its discovery
// entries, the table printers of its kinds and, for daemonset and statefulset,
// where its ControllerRevisions are read. NewHandler serves every deployed one;
// the gateway's own routes (health, discovery, namespaces, events) are in
// NewHandler itself, the merged ControllerRevisions in controllerrevisions.go.
//
// Server-side printing (tables.go): a GET that asks for a meta.k8s.io Table
// (kubectl get) gets one, with kubectl's default columns for the kinds a
// backend prints and for events and ControllerRevisions, NAME and AGE for
// others; a watch gets one Table per event.
//
// Checked by hand against real services with kubectl 1.32/1.33: create -f,
// apply, get -o yaml, describe (with events), set image, scale, label,
// annotate, rollout status/history/undo/restart, create namespace/deployment,
// run, delete, cordon.
//
// Every request is logged (slog), size-capped (413 past Config.MaxBodyBytes) and
// protected from panics.
package gateway
