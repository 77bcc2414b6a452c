package gateway

import (
	"fmt"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/podwarden/podwarden/shared/nodelease"

	coordinationv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/coordination/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// The node Leases in kube-node-lease (`kubectl describe node` shows the
// holder and renew time of the node's), computed from the nodes by
// nodelease.Lease: the simulated kubelets renew them every 10 s without a
// write. Reads only (get and list); watches and writes in kube-node-lease reach
// the core service's Leases, which these shadow.

const nodeLeasePath = "/apis/coordination.k8s.io/v1/namespaces/" + nodelease.Namespace + "/leases"

// registerNodeLeases registers the node Lease reads over the node backend.
// Registered after the core backend's Lease routes, they take precedence there.
func (g *gateway) registerNodeLeases(conn grpc.ClientConnInterface) error {
	nodes := nodev1.NewNodeServiceClient(conn)
	get := func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		resp, err := nodes.GetNode(r.Context(), &nodev1.GetNodeRequest{Name: params["name"]})
		if status.Code(err) == codes.NotFound {
			g.writeError(w, r, notFoundError("coordination.k8s.io", "leases", params["name"]))
			return
		}
		if err != nil {
			g.writeError(w, r, err)
			return
		}
		g.writeMessage(w, r, http.StatusOK, nodelease.Lease(resp.GetNode(), time.Now()))
	}
	list := func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		q := r.URL.Query()
		sel, none, err := nodeLeaseSelector(q.Get("fieldSelector"))
		if err != nil {
			g.writeError(w, r, newAPIError(ReasonBadRequest, err.Error()))
			return
		}
		if none {
			sel = "metadata.name=" // no node has it: the list is empty, with its resourceVersion
		}
		resp, err := nodes.ListNodes(r.Context(), &nodev1.ListNodesRequest{LabelSelector: q.Get("labelSelector"), FieldSelector: sel})
		if err != nil {
			g.writeError(w, r, err)
			return
		}
		now := time.Now()
		out := &coordinationv1.ListLeasesResponse{ApiVersion: "coordination.k8s.io/v1", Kind: "LeaseList", Metadata: resp.GetMetadata()}
		for _, n := range resp.GetItems() {
			out.Items = append(out.Items, nodelease.Lease(n, now))
		}
		g.writeMessage(w, r, http.StatusOK, out)
	}
	if err := g.mux.HandlePath(http.MethodGet, nodeLeasePath, list); err != nil {
		return fmt.Errorf("register node lease list: %w", err)
	}
	if err := g.mux.HandlePath(http.MethodGet, nodeLeasePath+"/{name}", get); err != nil {
		return fmt.Errorf("register node lease get: %w", err)
	}
	return nil
}

// nodeLeaseSelector turns a node Lease list's field selector into the nodes' one.
// A Lease takes metadata.name and metadata.namespace (kube-apiserver's default field
// label conversion); metadata.namespace is decided here (every node Lease is in
// kube-node-lease: none reports a requirement that rules them all out), and
// metadata.name is the node's. Any other label is refused in kube-apiserver's words.
func nodeLeaseSelector(s string) (nodes string, none bool, err error) {
	sel, err := fields.ParseSelector(s)
	if err != nil {
		return "", false, fmt.Errorf("invalid field selector: %v", err)
	}
	var keep []fields.Selector
	for _, req := range sel.Requirements() {
		switch req.Field {
		case "metadata.name":
			if req.Operator == selection.NotEquals {
				keep = append(keep, fields.OneTermNotEqualSelector(req.Field, req.Value))
			} else {
				keep = append(keep, fields.OneTermEqualSelector(req.Field, req.Value))
			}
		case "metadata.namespace":
			if (req.Value == nodelease.Namespace) == (req.Operator == selection.NotEquals) {
				none = true
			}
		default:
			return "", false, fmt.Errorf("%q is not a known field selector: only %q, %q", req.Field, "metadata.name", "metadata.namespace")
		}
	}
	return fields.AndSelectors(keep...).String(), none, nil
}
