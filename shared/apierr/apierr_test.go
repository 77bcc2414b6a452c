package apierr

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	deployments = GroupResource{Group: "apps", Resource: "deployments"}
	pods        = GroupResource{Resource: "pods"}
	deployment  = GroupKind{Group: "apps", Kind: "Deployment"}
)

func TestEncoding(t *testing.T) {
	replicas := field.NewPath("spec", "replicas")
	tests := map[string]struct {
		err         error
		wantCode    codes.Code
		wantMsg     string
		wantReason  string
		wantGroup   string
		wantKind    string
		wantName    string
		wantCauses  []Cause
		wantHTTP    int
		wantHasInfo bool
	}{
		"not found": {
			err:      NotFound(deployments, "nginx"),
			wantCode: codes.NotFound, wantMsg: `deployments.apps "nginx" not found`,
			wantReason: "NotFound", wantGroup: "apps", wantKind: "deployments", wantName: "nginx", wantHTTP: 404,
		},
		"not found core group": {
			err:      NotFound(pods, "web-0"),
			wantCode: codes.NotFound, wantMsg: `pods "web-0" not found`,
			wantReason: "NotFound", wantKind: "pods", wantName: "web-0", wantHTTP: 404,
		},
		"already exists": {
			err:      AlreadyExists(deployments, "nginx"),
			wantCode: codes.AlreadyExists, wantMsg: `deployments.apps "nginx" already exists`,
			wantReason: "AlreadyExists", wantGroup: "apps", wantKind: "deployments", wantName: "nginx", wantHTTP: 409,
		},
		"conflict": {
			err:        Conflict(deployments, "nginx", OptimisticLockErrorMsg),
			wantCode:   codes.Aborted,
			wantMsg:    `Operation cannot be fulfilled on deployments.apps "nginx": the object has been modified; please apply your changes to the latest version and try again`,
			wantReason: "Conflict", wantGroup: "apps", wantKind: "deployments", wantName: "nginx", wantHTTP: 409,
		},
		"invalid one error": {
			err:        Invalid(deployment, "bad", field.ErrorList{field.Invalid(replicas, int64(-1), "must be greater than or equal to 0")}),
			wantCode:   codes.InvalidArgument,
			wantMsg:    `Deployment.apps "bad" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`,
			wantReason: "Invalid", wantGroup: "apps", wantKind: "Deployment", wantName: "bad", wantHTTP: 422,
			wantCauses: []Cause{{Type: "FieldValueInvalid", Message: "Invalid value: -1: must be greater than or equal to 0", Field: "spec.replicas"}},
		},
		"invalid several errors": {
			err: Invalid(deployment, "bad", field.ErrorList{
				field.Invalid(replicas, int64(-1), "must be greater than or equal to 0"),
				field.Required(field.NewPath("spec", "selector"), ""),
			}),
			wantCode:   codes.InvalidArgument,
			wantMsg:    `Deployment.apps "bad" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.selector: Required value]`,
			wantReason: "Invalid", wantGroup: "apps", wantKind: "Deployment", wantName: "bad", wantHTTP: 422,
			wantCauses: []Cause{
				{Type: "FieldValueInvalid", Message: "Invalid value: -1: must be greater than or equal to 0", Field: "spec.replicas"},
				{Type: "FieldValueRequired", Message: "Required value", Field: "spec.selector"},
			},
		},
		"invalid no errors": {
			err:      Invalid(deployment, "bad", nil),
			wantCode: codes.InvalidArgument, wantMsg: `Deployment.apps "bad" is invalid`,
			wantReason: "Invalid", wantGroup: "apps", wantKind: "Deployment", wantName: "bad", wantHTTP: 422,
		},
		"bad request": {
			err:      BadRequest(`the API version in the data (apps/v1beta1) does not match the expected API version (apps/v1)`),
			wantCode: codes.InvalidArgument, wantMsg: `the API version in the data (apps/v1beta1) does not match the expected API version (apps/v1)`,
			wantReason: "BadRequest", wantHTTP: 400,
		},
		"forbidden": {
			err:      Forbidden(deployments, "nginx", errors.New("being deleted")),
			wantCode: codes.PermissionDenied, wantMsg: `deployments.apps "nginx" is forbidden: being deleted`,
			wantReason: "Forbidden", wantGroup: "apps", wantKind: "deployments", wantName: "nginx", wantHTTP: 403,
		},
		"internal": {
			err:      Internal(errors.New("boom")),
			wantCode: codes.Internal, wantMsg: `Internal error occurred: boom`,
			wantReason: "InternalError", wantHTTP: 500,
		},
		"timeout": {
			err:      Timeout("request did not complete within 60s"),
			wantCode: codes.DeadlineExceeded, wantMsg: `Timeout: request did not complete within 60s`,
			wantReason: "Timeout", wantHTTP: 504,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s, ok := status.FromError(tc.err)
			if !ok {
				t.Fatalf("not a gRPC status: %v", tc.err)
			}
			if s.Code() != tc.wantCode {
				t.Errorf("code = %v, want %v", s.Code(), tc.wantCode)
			}
			if s.Message() != tc.wantMsg {
				t.Errorf("message = %q\nwant      %q", s.Message(), tc.wantMsg)
			}
			if Message(tc.err) != tc.wantMsg {
				t.Errorf("Message = %q", Message(tc.err))
			}
			// the raw details are exactly what the gateway expects
			var info *errdetails.ErrorInfo
			for _, d := range s.Details() {
				if d, ok := d.(*errdetails.ErrorInfo); ok {
					info = d
				}
			}
			if info == nil || info.GetDomain() != "podwarden.io" || info.GetReason() != tc.wantReason {
				t.Fatalf("ErrorInfo = %v", info)
			}
			if got := Reason(tc.err); got != tc.wantReason {
				t.Errorf("Reason = %q, want %q", got, tc.wantReason)
			}
			group, kind, nm, causes := Details(tc.err)
			if group != tc.wantGroup || kind != tc.wantKind || nm != tc.wantName {
				t.Errorf("Details = %q %q %q, want %q %q %q", group, kind, nm, tc.wantGroup, tc.wantKind, tc.wantName)
			}
			if !reflect.DeepEqual(causes, tc.wantCauses) {
				t.Errorf("causes = %#v\nwant %#v", causes, tc.wantCauses)
			}
			st := ToStatus(tc.err)
			if st.GetCode() != int32(tc.wantHTTP) || st.GetReason() != tc.wantReason || st.GetMessage() != tc.wantMsg ||
				st.GetKind() != "Status" || st.GetApiVersion() != "v1" || st.GetStatus() != "Failure" {
				t.Errorf("ToStatus = %v", st)
			}
			if len(st.GetDetails().GetCauses()) != len(tc.wantCauses) {
				t.Errorf("ToStatus causes = %v", st.GetDetails().GetCauses())
			}
		})
	}
}

func TestFromStore(t *testing.T) {
	existing := NotFound(pods, "x")
	tests := map[string]struct {
		err        error
		wantReason string
		wantCode   codes.Code
		wantMsg    string
	}{
		"nil": {err: nil},
		"not found wrapped": {
			err: fmt.Errorf("get deployment default/nginx: %w", ErrNotFound), wantReason: "NotFound", wantCode: codes.NotFound,
			wantMsg: `deployments.apps "nginx" not found`,
		},
		"already exists": {
			err: ErrAlreadyExists, wantReason: "AlreadyExists", wantCode: codes.AlreadyExists,
			wantMsg: `deployments.apps "nginx" already exists`,
		},
		"conflict": {
			err: fmt.Errorf("update: %w", ErrConflict), wantReason: "Conflict", wantCode: codes.Aborted,
			wantMsg: `Operation cannot be fulfilled on deployments.apps "nginx": the object has been modified; please apply your changes to the latest version and try again`,
		},
		"status passes through": {
			err: existing, wantReason: "NotFound", wantCode: codes.NotFound, wantMsg: `pods "x" not found`,
		},
		"deadline": {
			err: fmt.Errorf("query: %w", context.DeadlineExceeded), wantReason: "Timeout", wantCode: codes.DeadlineExceeded,
			wantMsg: "Timeout: query: context deadline exceeded",
		},
		"canceled": {
			err: context.Canceled, wantReason: "InternalError", wantCode: codes.Canceled, wantMsg: "context canceled",
		},
		"other": {
			err: errors.New("connection refused"), wantReason: "InternalError", wantCode: codes.Internal,
			wantMsg: "Internal error occurred: connection refused",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := FromStore(tc.err, deployments, "nginx")
			if tc.err == nil {
				if got != nil {
					t.Fatalf("FromStore(nil) = %v", got)
				}
				return
			}
			if r := Reason(got); r != tc.wantReason {
				t.Errorf("Reason = %q, want %q", r, tc.wantReason)
			}
			if c := status.Code(got); c != tc.wantCode {
				t.Errorf("code = %v, want %v", c, tc.wantCode)
			}
			if m := Message(got); m != tc.wantMsg {
				t.Errorf("message = %q, want %q", m, tc.wantMsg)
			}
		})
	}
}

func TestReasonFallback(t *testing.T) {
	tests := map[string]struct {
		err  error
		want string
	}{
		"nil":                {err: nil, want: ""},
		"plain error":        {err: errors.New("x"), want: "InternalError"},
		"bare not found":     {err: status.Error(codes.NotFound, "x"), want: "NotFound"},
		"bare aborted":       {err: status.Error(codes.Aborted, "x"), want: "Conflict"},
		"bare invalid":       {err: status.Error(codes.InvalidArgument, "x"), want: "BadRequest"},
		"bare unavailable":   {err: status.Error(codes.Unavailable, "x"), want: "ServiceUnavailable"},
		"bare unimplemented": {err: status.Error(codes.Unimplemented, "x"), want: "MethodNotAllowed"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Reason(tc.err); got != tc.want {
				t.Errorf("Reason = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPredicates(t *testing.T) {
	nf := NotFound(deployments, "a")
	if !IsNotFound(nf) || IsConflict(nf) || IsNotFound(nil) {
		t.Errorf("IsNotFound")
	}
	if !IsAlreadyExists(AlreadyExists(deployments, "a")) || !IsConflict(Conflict(deployments, "a", "x")) {
		t.Errorf("IsAlreadyExists/IsConflict")
	}
	if !IsInvalid(Invalid(deployment, "a", nil)) || !IsBadRequest(BadRequest("x")) || IsInvalid(BadRequest("x")) {
		t.Errorf("IsInvalid/IsBadRequest")
	}
}

func TestStrings(t *testing.T) {
	tests := map[string]struct {
		got, want string
	}{
		"group resource": {got: deployments.String(), want: "deployments.apps"},
		"core resource":  {got: pods.String(), want: "pods"},
		"group kind":     {got: deployment.String(), want: "Deployment.apps"},
		"core kind":      {got: GroupKind{Kind: "Pod"}.String(), want: "Pod"},
		"cause":          {got: Cause{Field: "spec.replicas", Message: "Required value"}.String(), want: "spec.replicas: Required value"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}
