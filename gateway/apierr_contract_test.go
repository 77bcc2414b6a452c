package gateway

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/shared/apierr"
)

// The backends encode errors with shared/apierr; the gateway must answer the
// Status Kubernetes would, which is what apierr.ToStatus computes on its side.
func TestDecodesSharedAPIErrors(t *testing.T) {
	deployments := apierr.GroupResource{Group: "apps", Resource: "deployments"}
	tests := map[string]struct {
		err        error
		wantCode   int32
		wantReason string
	}{
		"NotFound":      {err: apierr.NotFound(deployments, "web"), wantCode: 404, wantReason: ReasonNotFound},
		"AlreadyExists": {err: apierr.AlreadyExists(deployments, "web"), wantCode: 409, wantReason: ReasonAlreadyExists},
		"Conflict":      {err: apierr.Conflict(deployments, "web", apierr.OptimisticLockErrorMsg), wantCode: 409, wantReason: ReasonConflict},
		"Invalid": {
			err: apierr.Invalid(apierr.GroupKind{Group: "apps", Kind: "Deployment"}, "web", field.ErrorList{
				field.Invalid(field.NewPath("spec", "replicas"), -1, "must be greater than or equal to 0"),
				field.Required(field.NewPath("spec", "selector"), ""),
			}),
			wantCode:   422,
			wantReason: ReasonInvalid,
		},
		"BadRequest":    {err: apierr.BadRequest("bad selector"), wantCode: 400, wantReason: ReasonBadRequest},
		"Forbidden":     {err: apierr.Forbidden(deployments, "web", errors.New("no")), wantCode: 403, wantReason: ReasonForbidden},
		"InternalError": {err: apierr.Internal(errors.New("boom")), wantCode: 500, wantReason: ReasonInternalError},
		"Timeout":       {err: apierr.Timeout("too slow"), wantCode: 504, wantReason: ReasonTimeout},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := statusFromError(tc.err)
			if got.GetCode() != tc.wantCode || got.GetReason() != tc.wantReason {
				t.Errorf("code %d reason %s, want %d %s", got.GetCode(), got.GetReason(), tc.wantCode, tc.wantReason)
			}
			if want := apierr.ToStatus(tc.err); !proto.Equal(got, want) {
				t.Errorf("gateway Status\n  %v\ndiffers from apierr.ToStatus\n  %v", got, want)
			}
		})
	}
}
