package gateway

import (
	"fmt"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
		resp, err := nodes.ListNodes(r.Context(), &nodev1.ListNodesRequest{LabelSelector: q.Get("labelSelector"), FieldSelector: q.Get("fieldSelector")})
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
