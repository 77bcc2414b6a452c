package service

import (
	"context"
	"strconv"

	"google.golang.org/grpc"

	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
	"github.com/podwarden/podwarden/shared/grpcserver"
)

// nodeLister lists nodes through the node service's gRPC API.
type nodeLister struct{ client nodev1.NodeServiceClient }

// maxRecvMsgSize lets a list of thousands of nodes through.
const maxRecvMsgSize = 256 << 20

func dialNodes(addr string, sec grpcserver.Security) (*nodeLister, func() error, error) {
	opts, err := sec.DialOptions()
	if err != nil {
		return nil, nil, err
	}
	conn, err := grpc.NewClient(addr, append(opts, grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvMsgSize)))...)
	if err != nil {
		return nil, nil, err
	}
	return &nodeLister{client: nodev1.NewNodeServiceClient(conn)}, conn.Close, nil
}

func (l *nodeLister) ListNodes(ctx context.Context) ([]*nodev1.Node, int64, error) {
	resp, err := l.client.ListNodes(ctx, &nodev1.ListNodesRequest{})
	if err != nil {
		return nil, 0, err
	}
	rv, _ := strconv.ParseInt(resp.GetMetadata().GetResourceVersion(), 10, 64)
	return resp.GetItems(), rv, nil
}
