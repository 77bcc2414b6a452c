package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/services/statefulset/internal/kinds"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// NewClaimResource describes PersistentVolumeClaims with Kubernetes' API semantics.
// The DefaultStorageClass admission runs before defaults: a claim without a class
// gets the default one (defaultClass, read from the classes' cache).
func NewClaimResource(db *store.DB, hub *watch.Hub, now func() time.Time, defaultClass func() string) *crud.Resource[*statefulsetv1.PersistentVolumeClaim] {
	return &crud.Resource[*statefulsetv1.PersistentVolumeClaim]{
		Kind: kinds.Claims, APIVersion: "v1", KindName: "PersistentVolumeClaim", Namespaced: true,
		GR: apierr.GroupResource{Resource: "persistentvolumeclaims"}, GK: apierr.GroupKind{Kind: "PersistentVolumeClaim"},
		DB: db, Hub: hub, Now: now,
		TypeMeta: func(c *statefulsetv1.PersistentVolumeClaim) (*string, *string) { return &c.ApiVersion, &c.Kind },
		Default: func(c *statefulsetv1.PersistentVolumeClaim) {
			admitStorageClass(c, defaultClass())
			defaultPVC(c)
		},
		Validate: validatePVC,
		ResetStatus: func(c *statefulsetv1.PersistentVolumeClaim) {
			c.Status = &statefulsetv1.PersistentVolumeClaimStatus{Phase: "Pending"}
		},
		CopyStatus: func(dst, src *statefulsetv1.PersistentVolumeClaim) { dst.Status = src.Status },
		SpecEqual:  func(a, b *statefulsetv1.PersistentVolumeClaim) bool { return proto.Equal(a.Spec, b.Spec) },
	}
}

// NewVolumeResource describes PersistentVolumes (cluster-scoped).
func NewVolumeResource(db *store.DB, hub *watch.Hub, now func() time.Time) *crud.Resource[*statefulsetv1.PersistentVolume] {
	return &crud.Resource[*statefulsetv1.PersistentVolume]{
		Kind: kinds.Volumes, APIVersion: "v1", KindName: "PersistentVolume",
		GR: apierr.GroupResource{Resource: "persistentvolumes"}, GK: apierr.GroupKind{Kind: "PersistentVolume"},
		DB: db, Hub: hub, Now: now,
		TypeMeta: func(v *statefulsetv1.PersistentVolume) (*string, *string) { return &v.ApiVersion, &v.Kind },
		Default:  defaultPV,
		Validate: validatePV,
		ResetStatus: func(v *statefulsetv1.PersistentVolume) {
			v.Status = &statefulsetv1.PersistentVolumeStatus{Phase: "Pending"}
		},
		CopyStatus: func(dst, src *statefulsetv1.PersistentVolume) { dst.Status = src.Status },
		SpecEqual:  func(a, b *statefulsetv1.PersistentVolume) bool { return proto.Equal(a.Spec, b.Spec) },
	}
}

// ClaimServer serves PersistentVolumeClaimService.
type ClaimServer struct {
	statefulsetv1.UnimplementedPersistentVolumeClaimServiceServer
	R *crud.Resource[*statefulsetv1.PersistentVolumeClaim]
}

func requiredClaim(c *statefulsetv1.PersistentVolumeClaim) error {
	if c == nil {
		return apierr.BadRequest("a PersistentVolumeClaim is required in the request body")
	}
	return nil
}

// CreatePersistentVolumeClaim stores a claim; the binder binds it.
func (s *ClaimServer) CreatePersistentVolumeClaim(ctx context.Context, req *statefulsetv1.CreatePersistentVolumeClaimRequest) (*statefulsetv1.CreatePersistentVolumeClaimResponse, error) {
	if err := requiredClaim(req.GetPersistentVolumeClaim()); err != nil {
		return nil, err
	}
	out, err := s.R.Create(ctx, req.GetNamespace(), req.GetPersistentVolumeClaim(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.CreatePersistentVolumeClaimResponse{PersistentVolumeClaim: out}, nil
}

// GetPersistentVolumeClaim returns one claim.
func (s *ClaimServer) GetPersistentVolumeClaim(ctx context.Context, req *statefulsetv1.GetPersistentVolumeClaimRequest) (*statefulsetv1.GetPersistentVolumeClaimResponse, error) {
	out, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.GetPersistentVolumeClaimResponse{PersistentVolumeClaim: out}, nil
}

// ListPersistentVolumeClaims lists claims.
func (s *ClaimServer) ListPersistentVolumeClaims(ctx context.Context, req *statefulsetv1.ListPersistentVolumeClaimsRequest) (*statefulsetv1.ListPersistentVolumeClaimsResponse, error) {
	res, err := s.R.List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.ListPersistentVolumeClaimsResponse{ApiVersion: "v1", Kind: "PersistentVolumeClaimList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdatePersistentVolumeClaim replaces a claim (only requests may grow once bound).
func (s *ClaimServer) UpdatePersistentVolumeClaim(ctx context.Context, req *statefulsetv1.UpdatePersistentVolumeClaimRequest) (*statefulsetv1.UpdatePersistentVolumeClaimResponse, error) {
	if err := requiredClaim(req.GetPersistentVolumeClaim()); err != nil {
		return nil, err
	}
	out, err := s.R.Update(ctx, req.GetNamespace(), req.GetName(), req.GetPersistentVolumeClaim(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.UpdatePersistentVolumeClaimResponse{PersistentVolumeClaim: out}, nil
}

// DeletePersistentVolumeClaim deletes a claim; the binder reclaims its volume.
func (s *ClaimServer) DeletePersistentVolumeClaim(ctx context.Context, req *statefulsetv1.DeletePersistentVolumeClaimRequest) (*statefulsetv1.DeletePersistentVolumeClaimResponse, error) {
	_, out, err := s.R.Delete(ctx, req.GetNamespace(), req.GetName(), req.GetPropagationPolicy(), req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.DeletePersistentVolumeClaimResponse{PersistentVolumeClaim: out}, nil
}

// WatchPersistentVolumeClaims streams changes.
func (s *ClaimServer) WatchPersistentVolumeClaims(req *statefulsetv1.WatchPersistentVolumeClaimsRequest, stream statefulsetv1.PersistentVolumeClaimService_WatchPersistentVolumeClaimsServer) error {
	return s.R.ServeWatch(stream, req.GetNamespace(), req,
		func(typ string, obj *statefulsetv1.PersistentVolumeClaim) error {
			return stream.Send(&statefulsetv1.WatchPersistentVolumeClaimsResponse{Type: typ, Object: obj})
		})
}

// VolumeServer serves PersistentVolumeService.
type VolumeServer struct {
	statefulsetv1.UnimplementedPersistentVolumeServiceServer
	R *crud.Resource[*statefulsetv1.PersistentVolume]
}

func requiredVolume(v *statefulsetv1.PersistentVolume) error {
	if v == nil {
		return apierr.BadRequest("a PersistentVolume is required in the request body")
	}
	return nil
}

// CreatePersistentVolume stores a volume made by hand (static provisioning).
func (s *VolumeServer) CreatePersistentVolume(ctx context.Context, req *statefulsetv1.CreatePersistentVolumeRequest) (*statefulsetv1.CreatePersistentVolumeResponse, error) {
	if err := requiredVolume(req.GetPersistentVolume()); err != nil {
		return nil, err
	}
	out, err := s.R.Create(ctx, "", req.GetPersistentVolume(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.CreatePersistentVolumeResponse{PersistentVolume: out}, nil
}

// GetPersistentVolume returns one volume.
func (s *VolumeServer) GetPersistentVolume(ctx context.Context, req *statefulsetv1.GetPersistentVolumeRequest) (*statefulsetv1.GetPersistentVolumeResponse, error) {
	out, err := s.R.Get(ctx, "", req.GetName())
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.GetPersistentVolumeResponse{PersistentVolume: out}, nil
}

// ListPersistentVolumes lists volumes.
func (s *VolumeServer) ListPersistentVolumes(ctx context.Context, req *statefulsetv1.ListPersistentVolumesRequest) (*statefulsetv1.ListPersistentVolumesResponse, error) {
	res, err := s.R.List(ctx, "", crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.ListPersistentVolumesResponse{ApiVersion: "v1", Kind: "PersistentVolumeList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdatePersistentVolume replaces a volume.
func (s *VolumeServer) UpdatePersistentVolume(ctx context.Context, req *statefulsetv1.UpdatePersistentVolumeRequest) (*statefulsetv1.UpdatePersistentVolumeResponse, error) {
	if err := requiredVolume(req.GetPersistentVolume()); err != nil {
		return nil, err
	}
	out, err := s.R.Update(ctx, "", req.GetName(), req.GetPersistentVolume(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.UpdatePersistentVolumeResponse{PersistentVolume: out}, nil
}

// DeletePersistentVolume deletes a volume.
func (s *VolumeServer) DeletePersistentVolume(ctx context.Context, req *statefulsetv1.DeletePersistentVolumeRequest) (*statefulsetv1.DeletePersistentVolumeResponse, error) {
	_, out, err := s.R.Delete(ctx, "", req.GetName(), req.GetPropagationPolicy(), req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.DeletePersistentVolumeResponse{PersistentVolume: out}, nil
}

// WatchPersistentVolumes streams changes.
func (s *VolumeServer) WatchPersistentVolumes(req *statefulsetv1.WatchPersistentVolumesRequest, stream statefulsetv1.PersistentVolumeService_WatchPersistentVolumesServer) error {
	return s.R.ServeWatch(stream, "", req,
		func(typ string, obj *statefulsetv1.PersistentVolume) error {
			return stream.Send(&statefulsetv1.WatchPersistentVolumesResponse{Type: typ, Object: obj})
		})
}
