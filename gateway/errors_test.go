package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func TestStatusFromError(t *testing.T) {
	tests := map[string]struct {
		err        error
		wantCode   int32
		wantReason string
		wantDetail *corev1.StatusDetails
	}{
		"NotFound with ErrorInfo": {
			err:        apiErr(codes.NotFound, ReasonNotFound, "apps", "deployments", "web", `deployments.apps "web" not found`),
			wantCode:   404,
			wantReason: ReasonNotFound,
			wantDetail: &corev1.StatusDetails{Name: "web", Group: "apps", Kind: "deployments"},
		},
		"AlreadyExists": {
			err:        apiErr(codes.AlreadyExists, ReasonAlreadyExists, "apps", "deployments", "web", "exists"),
			wantCode:   409,
			wantReason: ReasonAlreadyExists,
			wantDetail: &corev1.StatusDetails{Name: "web", Group: "apps", Kind: "deployments"},
		},
		"Conflict from Aborted": {
			err:        apiErr(codes.Aborted, ReasonConflict, "apps", "deployments", "web", "modified"),
			wantCode:   409,
			wantReason: ReasonConflict,
			wantDetail: &corev1.StatusDetails{Name: "web", Group: "apps", Kind: "deployments"},
		},
		"Invalid with causes": {
			err: apiErr(codes.InvalidArgument, ReasonInvalid, "apps", "Deployment", "web", "invalid",
				&errdetails.BadRequest_FieldViolation{Field: "spec.replicas", Description: "Invalid value: -1: must be greater than or equal to 0", Reason: "FieldValueInvalid"},
				&errdetails.BadRequest_FieldViolation{Field: "spec.selector", Description: "Required value", Reason: "FieldValueRequired"}),
			wantCode:   422,
			wantReason: ReasonInvalid,
			wantDetail: &corev1.StatusDetails{Name: "web", Group: "apps", Kind: "Deployment", Causes: []*corev1.StatusCause{
				{Reason: "FieldValueInvalid", Message: "Invalid value: -1: must be greater than or equal to 0", Field: "spec.replicas"},
				{Reason: "FieldValueRequired", Message: "Required value", Field: "spec.selector"},
			}},
		},
		"BadRequest reason":       {err: apiErr(codes.InvalidArgument, ReasonBadRequest, "", "", "", "bad"), wantCode: 400, wantReason: ReasonBadRequest},
		"Forbidden reason":        {err: apiErr(codes.PermissionDenied, ReasonForbidden, "", "", "", "no"), wantCode: 403, wantReason: ReasonForbidden},
		"Timeout reason":          {err: apiErr(codes.DeadlineExceeded, ReasonTimeout, "", "", "", "slow"), wantCode: 504, wantReason: ReasonTimeout},
		"InternalError reason":    {err: apiErr(codes.Internal, ReasonInternalError, "", "", "", "boom"), wantCode: 500, wantReason: ReasonInternalError},
		"unknown reason: by code": {err: apiErr(codes.NotFound, "Whatever", "", "", "", "x"), wantCode: 404, wantReason: ReasonNotFound},
		"bare NotFound":           {err: status.Error(codes.NotFound, "x"), wantCode: 404, wantReason: ReasonNotFound},
		"bare AlreadyExists":      {err: status.Error(codes.AlreadyExists, "x"), wantCode: 409, wantReason: ReasonAlreadyExists},
		"bare Aborted":            {err: status.Error(codes.Aborted, "x"), wantCode: 409, wantReason: ReasonConflict},
		"bare InvalidArgument":    {err: status.Error(codes.InvalidArgument, "x"), wantCode: 400, wantReason: ReasonBadRequest},
		"bare FailedPrecondition": {err: status.Error(codes.FailedPrecondition, "x"), wantCode: 400, wantReason: ReasonBadRequest},
		"bare Unavailable":        {err: status.Error(codes.Unavailable, "x"), wantCode: 503, wantReason: ReasonServiceUnavailable},
		"bare DeadlineExceeded":   {err: status.Error(codes.DeadlineExceeded, "x"), wantCode: 504, wantReason: ReasonTimeout},
		"bare Internal":           {err: status.Error(codes.Internal, "x"), wantCode: 500, wantReason: ReasonInternalError},
		"bare Unimplemented":      {err: status.Error(codes.Unimplemented, "x"), wantCode: 405, wantReason: ReasonMethodNotAllowed},
		"foreign ErrorInfo domain": {
			err:        mustWithDetails(status.New(codes.NotFound, "x"), &errdetails.ErrorInfo{Reason: ReasonInvalid, Domain: "googleapis.com"}),
			wantCode:   404,
			wantReason: ReasonNotFound,
		},
		"bare Unknown":   {err: status.Error(codes.Unknown, "x"), wantCode: 500, wantReason: ReasonInternalError},
		"plain Go error": {err: errors.New("x"), wantCode: 500, wantReason: ReasonInternalError},
		"gateway error":  {err: newAPIError(ReasonRequestEntityTooLarge, "x"), wantCode: 413, wantReason: ReasonRequestEntityTooLarge},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := statusFromError(tc.err)
			if s.GetCode() != tc.wantCode || s.GetReason() != tc.wantReason {
				t.Errorf("code %d reason %s, want %d %s", s.GetCode(), s.GetReason(), tc.wantCode, tc.wantReason)
			}
			if s.GetKind() != "Status" || s.GetApiVersion() != "v1" || s.GetStatus() != "Failure" || s.GetMetadata() == nil {
				t.Errorf("not a Failure Status: %v", s)
			}
			if s.GetMessage() != status.Convert(tc.err).Message() && !errors.As(tc.err, new(*apiError)) {
				t.Errorf("message %q", s.GetMessage())
			}
			if !proto.Equal(tc.wantDetail, s.GetDetails()) {
				t.Errorf("details %v, want %v", s.GetDetails(), tc.wantDetail)
			}
		})
	}
}

func TestErrorsOverHTTP(t *testing.T) {
	e := newEnv(t)
	e.createNginx()

	t.Run("not found", func(t *testing.T) {
		s := e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/deployments/nope", "").wantStatus(t, http.StatusNotFound, ReasonNotFound)
		if s["message"] != `deployments.apps "nope" not found` {
			t.Errorf("message %v", s["message"])
		}
		if get(s, "details", "name") != "nope" || get(s, "details", "group") != "apps" || get(s, "details", "kind") != "deployments" {
			t.Errorf("details %v", s["details"])
		}
	})
	t.Run("already exists", func(t *testing.T) {
		e.do(http.MethodPost, "/apis/apps/v1/namespaces/default/deployments", nginxYAML, "Content-Type: application/yaml").
			wantStatus(t, http.StatusConflict, ReasonAlreadyExists)
	})
	t.Run("invalid with causes", func(t *testing.T) {
		body := strings.Replace(strings.Replace(nginxYAML, "replicas: 3", "replicas: -1", 1), "name: nginx\n  labels", "name: bad\n  labels", 1)
		s := e.do(http.MethodPost, "/apis/apps/v1/namespaces/default/deployments", body, "Content-Type: application/yaml").
			wantStatus(t, http.StatusUnprocessableEntity, ReasonInvalid)
		if s["message"] != `Deployment.apps "bad" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0` {
			t.Errorf("message %v", s["message"])
		}
		cause, _ := get(s, "details", "causes", 0).(map[string]any)
		if cause["field"] != "spec.replicas" || cause["reason"] != "FieldValueInvalid" ||
			cause["message"] != "Invalid value: -1: must be greater than or equal to 0" {
			t.Errorf("cause %v", cause)
		}
	})
	t.Run("stale resourceVersion", func(t *testing.T) {
		obj := e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/deployments/nginx", "").object(t)
		obj["metadata"].(map[string]any)["resourceVersion"] = "0"
		e.do(http.MethodPut, "/apis/apps/v1/namespaces/default/deployments/nginx", mustJSON(t, obj), "Content-Type: application/json").
			wantStatus(t, http.StatusConflict, ReasonConflict)
	})
	t.Run("unknown path", func(t *testing.T) {
		e.do(http.MethodGet, "/apis/batch/v1/namespaces/default/jobs", "").wantStatus(t, http.StatusNotFound, ReasonNotFound)
	})
	t.Run("unsupported method", func(t *testing.T) {
		e.do(http.MethodPost, "/apis/apps/v1/namespaces/default/deployments/nginx", "{}", "Content-Type: application/json").
			wantStatus(t, http.StatusMethodNotAllowed, ReasonMethodNotAllowed)
	})
	t.Run("error as YAML", func(t *testing.T) {
		r := e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/deployments/nope", "", "Accept: application/yaml")
		r.wantCode(t, http.StatusNotFound)
		if !strings.Contains(string(r.body), "reason: NotFound") || r.header.Get("Content-Type") != mimeYAML {
			t.Errorf("YAML Status: %s %s", r.header.Get("Content-Type"), r.body)
		}
	})
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t, func(c *envConfig) { c.cfg.MaxBodyBytes = 1024 })
	big := `{"metadata":{"name":"x","annotations":{"a":"` + strings.Repeat("x", 2048) + `"}}}`
	s := e.do(http.MethodPost, "/apis/apps/v1/namespaces/default/deployments", big, "Content-Type: application/json").
		wantStatus(t, http.StatusRequestEntityTooLarge, ReasonRequestEntityTooLarge)
	if s["message"] != "Request entity too large: limit is 1024" {
		t.Errorf("message %v", s["message"])
	}
	// A body within the limit passes.
	e.do(http.MethodPost, "/apis/apps/v1/namespaces/default/deployments", `{"metadata":{"name":"small"}}`, "Content-Type: application/json").
		wantCode(t, http.StatusCreated)
	if n := e.deploy.count(); n != 1 {
		t.Errorf("the large body reached the backend: %d objects", n)
	}
}

func mustWithDetails(st *status.Status, d ...protoadapt.MessageV1) error {
	s, err := st.WithDetails(d...)
	if err != nil {
		panic(err)
	}
	return s.Err()
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
