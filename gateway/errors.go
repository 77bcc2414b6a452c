package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// ErrorDomain is the errdetails.ErrorInfo domain of podwarden's API errors.
const ErrorDomain = "podwarden.io"

// Kubernetes' metav1.StatusReason values the gateway reads and writes.
const (
	ReasonNotFound              = "NotFound"
	ReasonAlreadyExists         = "AlreadyExists"
	ReasonConflict              = "Conflict"
	ReasonInvalid               = "Invalid"
	ReasonBadRequest            = "BadRequest"
	ReasonForbidden             = "Forbidden"
	ReasonUnauthorized          = "Unauthorized"
	ReasonTimeout               = "Timeout"
	ReasonServerTimeout         = "ServerTimeout"
	ReasonInternalError         = "InternalError"
	ReasonGone                  = "Gone"
	ReasonExpired               = "Expired"
	ReasonMethodNotAllowed      = "MethodNotAllowed"
	ReasonNotAcceptable         = "NotAcceptable"
	ReasonUnsupportedMediaType  = "UnsupportedMediaType"
	ReasonRequestEntityTooLarge = "RequestEntityTooLarge"
	ReasonTooManyRequests       = "TooManyRequests"
	ReasonServiceUnavailable    = "ServiceUnavailable"
)

// reasonCodes is the HTTP code kube-apiserver answers for each StatusReason
// (k8s.io/apimachinery/pkg/api/errors).
var reasonCodes = map[string]int{
	ReasonNotFound:              http.StatusNotFound,
	ReasonAlreadyExists:         http.StatusConflict,
	ReasonConflict:              http.StatusConflict,
	ReasonInvalid:               http.StatusUnprocessableEntity,
	ReasonBadRequest:            http.StatusBadRequest,
	ReasonForbidden:             http.StatusForbidden,
	ReasonUnauthorized:          http.StatusUnauthorized,
	ReasonTimeout:               http.StatusGatewayTimeout,
	ReasonServerTimeout:         http.StatusInternalServerError,
	ReasonInternalError:         http.StatusInternalServerError,
	ReasonGone:                  http.StatusGone,
	ReasonExpired:               http.StatusGone,
	ReasonMethodNotAllowed:      http.StatusMethodNotAllowed,
	ReasonNotAcceptable:         http.StatusNotAcceptable,
	ReasonUnsupportedMediaType:  http.StatusUnsupportedMediaType,
	ReasonRequestEntityTooLarge: http.StatusRequestEntityTooLarge,
	ReasonTooManyRequests:       http.StatusTooManyRequests,
	ReasonServiceUnavailable:    http.StatusServiceUnavailable,
}

// codeReason maps a gRPC code that came without an ErrorInfo to a reason and an
// HTTP code.
func codeReason(c codes.Code) (string, int) {
	switch c {
	case codes.NotFound:
		return ReasonNotFound, http.StatusNotFound
	case codes.AlreadyExists:
		return ReasonAlreadyExists, http.StatusConflict
	case codes.Aborted:
		return ReasonConflict, http.StatusConflict
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return ReasonBadRequest, http.StatusBadRequest
	case codes.PermissionDenied:
		return ReasonForbidden, http.StatusForbidden
	case codes.Unauthenticated:
		return ReasonUnauthorized, http.StatusUnauthorized
	case codes.ResourceExhausted:
		return ReasonTooManyRequests, http.StatusTooManyRequests
	case codes.Unavailable:
		return ReasonServiceUnavailable, http.StatusServiceUnavailable
	case codes.DeadlineExceeded:
		return ReasonTimeout, http.StatusGatewayTimeout
	case codes.Unimplemented: // a backend without that method
		return ReasonMethodNotAllowed, http.StatusMethodNotAllowed
	default:
		return ReasonInternalError, http.StatusInternalServerError
	}
}

// apiError is an error the gateway answers itself, already in Status form.
type apiError struct {
	status *corev1.Status
}

func (e *apiError) Error() string { return e.status.GetMessage() }

// newAPIError builds a Failure Status for reason (its HTTP code from reasonCodes).
func newAPIError(reason, message string) *apiError {
	code, ok := reasonCodes[reason]
	if !ok {
		code = http.StatusInternalServerError
	}
	return &apiError{status: failureStatus(code, reason, message)}
}

func failureStatus(code int, reason, message string) *corev1.Status {
	return &corev1.Status{
		Kind:       "Status",
		ApiVersion: "v1",
		Metadata:   &corev1.ListMeta{},
		Status:     "Failure",
		Message:    message,
		Reason:     reason,
		Code:       int32(code),
	}
}

// statusFromError converts any error met while serving a request to the Status
// the client gets.
func statusFromError(err error) *corev1.Status {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status
	}
	var he *runtime.HTTPStatusError
	if errors.As(err, &he) {
		switch he.HTTPStatus {
		case http.StatusNotFound:
			return failureStatus(http.StatusNotFound, ReasonNotFound, "the server could not find the requested resource")
		case http.StatusMethodNotAllowed:
			return failureStatus(http.StatusMethodNotAllowed, ReasonMethodNotAllowed, "the server does not allow this method on the requested resource")
		}
		reason, _ := codeReason(status.Code(he.Err))
		return failureStatus(he.HTTPStatus, reason, status.Convert(he.Err).Message())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return failureStatus(http.StatusGatewayTimeout, ReasonTimeout, err.Error())
	}
	return statusFromGRPC(status.Convert(err))
}

// statusFromGRPC reads a backend's error, as shared/apierr encodes it: the
// reason and the object it is about from an errdetails.ErrorInfo of domain
// podwarden.io (Reason = Kubernetes StatusReason, Metadata group, kind, name,
// uid), the causes of an Invalid from an errdetails.BadRequest (one
// FieldViolation per cause: Field, Description = message, Reason = cause type).
// Without such an ErrorInfo (or with an unknown reason) the gRPC code decides.
func statusFromGRPC(st *status.Status) *corev1.Status {
	var (
		info *errdetails.ErrorInfo
		br   *errdetails.BadRequest
	)
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			if info == nil && d.GetDomain() == ErrorDomain {
				info = d
			}
		case *errdetails.BadRequest:
			if br == nil {
				br = d
			}
		}
	}
	reason, code := codeReason(st.Code())
	if info != nil {
		if c, ok := reasonCodes[info.GetReason()]; ok {
			reason, code = info.GetReason(), c
		}
	}
	s := failureStatus(code, reason, st.Message())
	var details corev1.StatusDetails
	if md := info.GetMetadata(); md != nil {
		details.Name = md["name"]
		details.Group = md["group"]
		details.Kind = md["kind"]
		details.Uid = md["uid"]
	}
	for _, v := range br.GetFieldViolations() {
		details.Causes = append(details.Causes, &corev1.StatusCause{
			Reason:  v.GetReason(),
			Message: v.GetDescription(),
			Field:   v.GetField(),
		})
	}
	if details.Name != "" || details.Group != "" || details.Kind != "" || details.Uid != "" || len(details.Causes) > 0 {
		s.Details = &details
	}
	return s
}

// errorHandler is grpc-gateway's error hook: every error becomes a Kubernetes
// Status body with kube-apiserver's HTTP code.
func (g *gateway) errorHandler(ctx context.Context, _ *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	g.writeStatus(w, r, m, statusFromError(err))
}

// routingErrorHandler answers unknown paths (404) and methods (405).
func (g *gateway) routingErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, code int) {
	g.errorHandler(ctx, mux, m, w, r, &runtime.HTTPStatusError{HTTPStatus: code, Err: status.Error(codes.NotFound, http.StatusText(code))})
}

// writeError answers a request handled by hand with err as a Status.
func (g *gateway) writeError(w http.ResponseWriter, r *http.Request, err error) {
	g.writeStatus(w, r, g.outbound(r), statusFromError(err))
}

func (g *gateway) writeStatus(w http.ResponseWriter, r *http.Request, m runtime.Marshaler, s *corev1.Status) {
	noteFailure(r.Context(), s)
	body, err := m.Marshal(s)
	if err != nil {
		m = g.json
		body = []byte(fmt.Sprintf(`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":%q,"reason":"InternalError","code":500}`, err.Error()))
		s.Code = http.StatusInternalServerError
	}
	w.Header().Del("Transfer-Encoding")
	w.Header().Set("Content-Type", m.ContentType(s))
	w.WriteHeader(int(s.GetCode()))
	_, _ = w.Write(body)
}
