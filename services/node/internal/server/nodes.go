package server

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/services/node/internal/fleet"
	"github.com/podwarden/podwarden/services/node/internal/ipam"
	"github.com/podwarden/podwarden/services/node/internal/repo"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/naming"
	"github.com/podwarden/podwarden/shared/nodelease"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/validation"

	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// NodeServer implements NodeService.
type NodeServer struct {
	nodev1.UnimplementedNodeServiceServer
	Deps
	R *crud.Resource[*nodev1.Node]
	// Capacity of nodes created without one.
	Capacity fleet.Capacity
	// Plan gives new nodes their podCIDR and InternalIP.
	Plan ipam.Plan
}

// cidrLock serializes the choice of a new node's podCIDR.
const cidrLock = "SELECT pg_advisory_xact_lock(hashtext('podwarden-node-cidr'))"

// CreateNode registers a node: validated, then given what its kubelet would
// post (labels, podCIDR, capacity, Ready conditions, addresses, nodeInfo).
func (s *NodeServer) CreateNode(ctx context.Context, req *nodev1.CreateNodeRequest) (*nodev1.CreateNodeResponse, error) {
	n := req.GetNode()
	if n == nil || n.Metadata == nil {
		return nil, apierr.BadRequest("metadata is required")
	}
	if errs := validation.ValidateTypeMeta(n.ApiVersion, n.Kind, "v1", "Node"); len(errs) > 0 {
		return nil, apierr.BadRequest(fmt.Sprintf("the API version in the data (%s) or kind (%s) does not match the expected API version (v1) and kind (Node) of this endpoint", n.ApiVersion, n.Kind))
	}
	m := n.Metadata
	m.Namespace = ""
	if m.Name == "" && m.GenerateName != "" {
		m.Name = naming.GenerateName(m.GenerateName)
	}
	m.Uid, m.ResourceVersion, m.DeletionTimestamp, m.DeletionGracePeriodSeconds = "", "", nil, nil
	now := s.now()
	m.CreationTimestamp = timestamppb.New(now.Truncate(1e9))
	errs := validation.ValidateObjectMeta(m, false, validation.NameIsDNSSubdomain, field.NewPath("metadata"))
	errs = append(errs, validation.ValidateTaints(n.GetSpec().GetTaints(), field.NewPath("spec", "taints"))...)
	if len(errs) > 0 {
		return nil, apierr.Invalid(nodeGK, m.Name, errs)
	}
	var out *nodev1.Node
	dryRun := isDryRun(req.GetDryRun())
	err := writeTx(ctx, s.DB, nodesGR, m.Name, dryRun, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, cidrLock); err != nil {
			return err
		}
		nodes, err := repo.Nodes.List(ctx, tx, store.ListOptions{})
		if err != nil {
			return err
		}
		addrs, index, err := fleet.Free(s.Plan, nodes)
		if err != nil {
			// kube-controller-manager would leave the node without a podCIDR
			// (event CIDRNotAvailable); we refuse it and change nothing.
			return apierr.Forbidden(nodesGR, m.Name, err)
		}
		fleet.Register(n, addrs, index, s.Capacity, now)
		fleet.SyncTaints(n, now)
		out, err = repo.CreateNode(ctx, tx, now, n, []repo.Event{{Type: "Normal", Reason: "RegisteredNode", Component: repo.ComponentNodeCtl,
			Message: fmt.Sprintf("Node %s event: Registered Node %s in Controller", m.Name, m.Name)}})
		return err
	})
	if err != nil {
		return nil, err
	}
	if dryRun {
		out.Metadata.ResourceVersion = "" // never stored
	}
	return &nodev1.CreateNodeResponse{Node: out}, nil
}

// GetNode returns one node, its conditions' heartbeats at its kubelet's last
// status report (nodelease.WithHeartbeats: computed, not written; lists and
// watches alike).
func (s *NodeServer) GetNode(ctx context.Context, req *nodev1.GetNodeRequest) (*nodev1.GetNodeResponse, error) {
	n, err := s.R.Get(ctx, "", req.GetName())
	if err != nil {
		return nil, err
	}
	return &nodev1.GetNodeResponse{Node: nodelease.WithHeartbeats(n, s.now())}, nil
}

// ListNodes lists nodes (labelSelector; fieldSelector metadata.name, spec.unschedulable).
func (s *NodeServer) ListNodes(ctx context.Context, req *nodev1.ListNodesRequest) (*nodev1.ListNodesResponse, error) {
	res, err := s.R.List(ctx, "", crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	now := s.now()
	for i, n := range res.Items {
		res.Items[i] = nodelease.WithHeartbeats(n, now)
	}
	return &nodev1.ListNodesResponse{ApiVersion: "v1", Kind: "NodeList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdateNode replaces labels, annotations and spec (what `kubectl label` and
// `kubectl taint` send); status is the kubelet's and is kept. podCIDR and
// providerID may only go from "" to a value.
func (s *NodeServer) UpdateNode(ctx context.Context, req *nodev1.UpdateNodeRequest) (*nodev1.UpdateNodeResponse, error) {
	n := req.GetNode()
	if n == nil || n.Metadata == nil {
		return nil, apierr.BadRequest("metadata is required")
	}
	if errs := validation.ValidateTypeMeta(n.ApiVersion, n.Kind, "v1", "Node"); len(errs) > 0 {
		return nil, apierr.BadRequest(fmt.Sprintf("the API version in the data (%s) or kind (%s) does not match the expected API version (v1) and kind (Node) of this endpoint", n.ApiVersion, n.Kind))
	}
	name := req.GetName()
	if name == "" {
		name = n.Metadata.Name
	}
	if n.Metadata.Name == "" {
		n.Metadata.Name = name
	}
	if n.Metadata.Name != name {
		return nil, apierr.BadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", n.Metadata.Name, name))
	}
	var out *nodev1.Node
	dryRun := isDryRun(req.GetDryRun())
	err := writeTx(ctx, s.DB, nodesGR, name, dryRun, func(tx pgx.Tx) error {
		old, err := repo.Nodes.GetForUpdate(ctx, tx, "", name)
		if err != nil {
			return err
		}
		om, m := old.Metadata, n.Metadata
		if m.ResourceVersion != "" && m.ResourceVersion != om.ResourceVersion {
			return apierr.Conflict(nodesGR, name, apierr.OptimisticLockErrorMsg)
		}
		if m.Uid != "" && m.Uid != om.Uid {
			return apierr.Conflict(nodesGR, name, fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", m.Uid, om.Uid))
		}
		next := proto.Clone(n).(*nodev1.Node)
		nm := next.Metadata
		nm.Namespace, nm.Uid, nm.CreationTimestamp, nm.GenerateName = "", om.Uid, om.CreationTimestamp, om.GenerateName
		nm.Generation, nm.ResourceVersion = om.Generation, om.ResourceVersion
		nm.DeletionTimestamp, nm.DeletionGracePeriodSeconds = om.DeletionTimestamp, om.DeletionGracePeriodSeconds
		next.ApiVersion, next.Kind, next.Status = "v1", "Node", old.Status
		if next.Spec == nil {
			next.Spec = &nodev1.NodeSpec{}
		}
		var errs field.ErrorList
		errs = append(errs, validation.ValidateObjectMetaUpdate(nm, om, field.NewPath("metadata"))...)
		errs = append(errs, validation.ValidateTaints(next.Spec.GetTaints(), field.NewPath("spec", "taints"))...)
		errs = append(errs, fromEmptyOnly(&next.Spec.PodCidr, old.GetSpec().GetPodCidr(), "podCIDR")...)
		errs = append(errs, fromEmptyOnly(&next.Spec.ProviderId, old.GetSpec().GetProviderId(), "providerID")...)
		if len(next.Spec.PodCidrs) == 0 {
			next.Spec.PodCidrs = old.GetSpec().GetPodCidrs()
		}
		if len(errs) > 0 {
			return apierr.Invalid(nodeGK, name, errs)
		}
		fleet.SyncTaints(next, s.now())
		if dryRun {
			out = next // the resourceVersion stays the stored one
			return nil
		}
		if proto.Equal(next, old) {
			out = old
			return nil
		}
		out, err = repo.UpdateNode(ctx, tx, s.now(), next, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &nodev1.UpdateNodeResponse{Node: out}, nil
}

// fromEmptyOnly: an empty new value keeps the old one; a set one may not change.
func fromEmptyOnly(v *string, old, fieldName string) field.ErrorList {
	switch {
	case *v == "":
		*v = old
	case old != "" && *v != old:
		return field.ErrorList{field.Forbidden(field.NewPath("spec", fieldName),
			fmt.Sprintf("node updates may not change %s except from \"\" to valid", fieldName))}
	}
	return nil
}

// DeleteNode deletes the node and, like the pod garbage collector, its pods
// (DELETED events go to their owners, which replace them).
func (s *NodeServer) DeleteNode(ctx context.Context, req *nodev1.DeleteNodeRequest) (*nodev1.DeleteNodeResponse, error) {
	name := req.GetName()
	var out *nodev1.Node
	err := inTx(ctx, s.DB, nodesGR, name, func(tx pgx.Tx) error {
		n, err := repo.Nodes.GetForUpdate(ctx, tx, "", name)
		if err != nil {
			return err
		}
		if err := preconditions(req.GetOptions(), nodesGR, n.Metadata); err != nil {
			return err
		}
		if isDryRun(req.GetOptions().GetDryRun()) {
			out = n
			return nil
		}
		out, err = repo.DeleteNode(ctx, tx, s.now(), name, n.Metadata.Uid)
		return err
	})
	if err != nil {
		return nil, err
	}
	out.ApiVersion, out.Kind = "v1", "Node"
	return &nodev1.DeleteNodeResponse{Node: out}, nil
}

// WatchNodes streams node changes.
func (s *NodeServer) WatchNodes(req *nodev1.WatchNodesRequest, stream nodev1.NodeService_WatchNodesServer) error {
	return s.R.ServeWatch(stream, "", req,
		func(typ string, n *nodev1.Node) error {
			return stream.Send(&nodev1.WatchNodesResponse{Type: typ, Object: nodelease.WithHeartbeats(n, s.now())})
		})
}

// SetNodeReady is fault injection: ready=false stops the node's kubelet (every
// condition Unknown, NodeStatusUnknown, unreachable taints; its pods turn
// Ready=False and stop progressing); ready=true brings it back.
func (s *NodeServer) SetNodeReady(ctx context.Context, req *nodev1.SetNodeReadyRequest) (*nodev1.SetNodeReadyResponse, error) {
	name := req.GetName()
	var out *nodev1.Node
	err := inTx(ctx, s.DB, nodesGR, name, func(tx pgx.Tx) error {
		n, err := repo.Nodes.GetForUpdate(ctx, tx, "", name)
		if err != nil {
			return err
		}
		now := s.now()
		if !fleet.SetReady(n, req.GetReady(), now) {
			out = n
			return nil
		}
		ev := repo.Event{Type: "Normal", Reason: fleet.ReasonNodeNotReady, Component: repo.ComponentNodeCtl,
			Message: fmt.Sprintf("Node %s status is now: NodeNotReady", name)}
		if req.GetReady() {
			ev = repo.Event{Type: "Normal", Reason: fleet.ReasonNodeReady, Component: repo.ComponentKubelet,
				Message: fmt.Sprintf("Node %s status is now: NodeReady", name)}
		}
		out, err = repo.UpdateNode(ctx, tx, now, n, []repo.Event{ev})
		return err
	})
	if err != nil {
		return nil, err
	}
	out.ApiVersion, out.Kind = "v1", "Node"
	return &nodev1.SetNodeReadyResponse{Node: out}, nil
}
