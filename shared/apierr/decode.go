package apierr

import (
	"net/http"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// errorInfo returns the gRPC status of err and its ErrorInfo of our domain, if any.
func errorInfo(err error) (*status.Status, *errdetails.ErrorInfo, *errdetails.BadRequest) {
	s, ok := status.FromError(err)
	if !ok {
		return s, nil, nil
	}
	var info *errdetails.ErrorInfo
	var bad *errdetails.BadRequest
	for _, d := range s.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			if d.GetDomain() == Domain && info == nil {
				info = d
			}
		case *errdetails.BadRequest:
			if bad == nil {
				bad = d
			}
		}
	}
	return s, info, bad
}

// Reason returns the Kubernetes StatusReason of err: the ErrorInfo reason
// when err was built by this package, otherwise one derived from the gRPC
// code (NotFound, AlreadyExists, Aborted -> Conflict, InvalidArgument ->
// BadRequest, PermissionDenied -> Forbidden, DeadlineExceeded -> Timeout,
// Unavailable -> ServiceUnavailable, Unimplemented -> MethodNotAllowed,
// Unauthenticated -> Unauthorized, anything else -> InternalError).
// nil gives "".
func Reason(err error) string {
	if err == nil {
		return ""
	}
	s, info, _ := errorInfo(err)
	if info != nil && info.GetReason() != "" {
		return info.GetReason()
	}
	switch s.Code() {
	case codes.NotFound:
		return ReasonNotFound
	case codes.AlreadyExists:
		return ReasonAlreadyExists
	case codes.Aborted:
		return ReasonConflict
	case codes.InvalidArgument, codes.OutOfRange, codes.FailedPrecondition:
		return ReasonBadRequest
	case codes.PermissionDenied:
		return ReasonForbidden
	case codes.DeadlineExceeded:
		return ReasonTimeout
	case codes.Unavailable:
		return ReasonServiceUnavailable
	case codes.Unimplemented:
		return ReasonMethodNotAllowed
	case codes.Unauthenticated:
		return ReasonUnauthorized
	default:
		return ReasonInternalError
	}
}

// Details returns what err says about the object it concerns (Status.details:
// group, kind, name) and its causes, as encoded by this package.
func Details(err error) (group, kind, name string, causes []Cause) {
	if err == nil {
		return "", "", "", nil
	}
	_, info, bad := errorInfo(err)
	if info != nil {
		md := info.GetMetadata()
		group, kind, name = md[MetaGroup], md[MetaKind], md[MetaName]
	}
	for _, v := range bad.GetFieldViolations() {
		causes = append(causes, Cause{Type: v.GetReason(), Message: v.GetDescription(), Field: v.GetField()})
	}
	return group, kind, name, causes
}

// Message returns the Kubernetes message of err (the gRPC status message, or
// err.Error() for a plain error).
func Message(err error) string {
	if err == nil {
		return ""
	}
	if s, ok := status.FromError(err); ok {
		return s.Message()
	}
	return err.Error()
}

// HTTPCode is the HTTP status Kubernetes answers with for a reason.
func HTTPCode(reason string) int {
	switch reason {
	case ReasonNotFound:
		return http.StatusNotFound
	case ReasonAlreadyExists, ReasonConflict:
		return http.StatusConflict
	case ReasonInvalid:
		return http.StatusUnprocessableEntity
	case ReasonBadRequest:
		return http.StatusBadRequest
	case ReasonForbidden:
		return http.StatusForbidden
	case ReasonTimeout:
		return http.StatusGatewayTimeout
	case ReasonServiceUnavailable:
		return http.StatusServiceUnavailable
	case ReasonMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case ReasonUnauthorized:
		return http.StatusUnauthorized
	case ReasonTooManyRequests:
		return http.StatusTooManyRequests
	default:
		return http.StatusInternalServerError
	}
}

// ToStatus builds the Kubernetes Status body (kind Status, apiVersion v1,
// status Failure) Kubernetes would return for err. nil gives nil.
func ToStatus(err error) *corev1.Status {
	if err == nil {
		return nil
	}
	reason := Reason(err)
	st := &corev1.Status{
		Kind:       "Status",
		ApiVersion: "v1",
		Metadata:   &corev1.ListMeta{},
		Status:     "Failure",
		Message:    Message(err),
		Reason:     reason,
		Code:       int32(HTTPCode(reason)),
	}
	group, kind, name, causes := Details(err)
	if group != "" || kind != "" || name != "" || len(causes) > 0 {
		st.Details = &corev1.StatusDetails{Group: group, Kind: kind, Name: name}
		for _, c := range causes {
			st.Details.Causes = append(st.Details.Causes, &corev1.StatusCause{Reason: c.Type, Message: c.Message, Field: c.Field})
		}
	}
	return st
}

// IsNotFound reports whether err is a NotFound error.
func IsNotFound(err error) bool { return err != nil && Reason(err) == ReasonNotFound }

// IsAlreadyExists reports whether err is an AlreadyExists error.
func IsAlreadyExists(err error) bool { return err != nil && Reason(err) == ReasonAlreadyExists }

// IsConflict reports whether err is a Conflict error.
func IsConflict(err error) bool { return err != nil && Reason(err) == ReasonConflict }

// IsInvalid reports whether err is an Invalid error.
func IsInvalid(err error) bool { return err != nil && Reason(err) == ReasonInvalid }

// IsBadRequest reports whether err is a BadRequest error.
func IsBadRequest(err error) bool { return err != nil && Reason(err) == ReasonBadRequest }
