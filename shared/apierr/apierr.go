// Package apierr carries Kubernetes API errors (metav1.Status) over gRPC.
//
// Encoding (the gateway decodes exactly this):
//   - the gRPC code follows the Kubernetes reason: NotFound -> NotFound,
//     AlreadyExists -> AlreadyExists, Conflict -> Aborted, Invalid and
//     BadRequest -> InvalidArgument, Forbidden -> PermissionDenied,
//     InternalError -> Internal, Timeout -> DeadlineExceeded;
//   - the gRPC message is Kubernetes' Status.message, word for word
//     (`deployments.apps "nginx" not found`);
//   - the details hold one errdetails.ErrorInfo{Reason: <StatusReason>,
//     Domain: "podwarden.io", Metadata: {"group", "kind", "name"}} (the
//     metadata only for errors about one object; "kind" is what Kubernetes puts
//     in Status.details.kind: the resource for NotFound, AlreadyExists,
//     Conflict and Forbidden, the Kind for Invalid), and for Invalid one
//     errdetails.BadRequest whose FieldViolations are the causes
//     {Field: "spec.replicas", Description: field.Error.ErrorBody(),
//     Reason: field.ErrorType ("FieldValueInvalid", ...)}.
//
// Messages are produced by k8s.io/apimachinery/pkg/api/errors itself, so they
// cannot drift from Kubernetes'.
package apierr

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	k8serrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Domain is the ErrorInfo domain of every error this package encodes.
const Domain = "podwarden.io"

// Kubernetes StatusReasons carried in ErrorInfo.Reason.
const (
	ReasonNotFound           = string(metav1.StatusReasonNotFound)           // "NotFound"
	ReasonAlreadyExists      = string(metav1.StatusReasonAlreadyExists)      // "AlreadyExists"
	ReasonConflict           = string(metav1.StatusReasonConflict)           // "Conflict"
	ReasonInvalid            = string(metav1.StatusReasonInvalid)            // "Invalid"
	ReasonBadRequest         = string(metav1.StatusReasonBadRequest)         // "BadRequest"
	ReasonForbidden          = string(metav1.StatusReasonForbidden)          // "Forbidden"
	ReasonInternalError      = string(metav1.StatusReasonInternalError)      // "InternalError"
	ReasonTimeout            = string(metav1.StatusReasonTimeout)            // "Timeout"
	ReasonServiceUnavailable = string(metav1.StatusReasonServiceUnavailable) // "ServiceUnavailable"
	ReasonMethodNotAllowed   = string(metav1.StatusReasonMethodNotAllowed)   // "MethodNotAllowed"
	ReasonUnauthorized       = string(metav1.StatusReasonUnauthorized)       // "Unauthorized"
	ReasonTooManyRequests    = string(metav1.StatusReasonTooManyRequests)    // "TooManyRequests"
)

// Metadata keys of the ErrorInfo.
const (
	MetaGroup = "group"
	MetaKind  = "kind"
	MetaName  = "name"
)

// OptimisticLockErrorMsg is Kubernetes' text for a stale resourceVersion.
const OptimisticLockErrorMsg = "the object has been modified; please apply your changes to the latest version and try again"

// Sentinel errors of the object stores (shared/store aliases them). FromStore
// maps them to Kubernetes errors.
var (
	ErrNotFound      = errors.New("object not found")
	ErrAlreadyExists = errors.New("object already exists")
	ErrConflict      = errors.New("object has been modified")
)

// GroupResource names a resource in an API group: {"apps", "deployments"}.
type GroupResource struct {
	Group    string
	Resource string
}

// String is "deployments.apps", or just "pods" for the core group.
func (gr GroupResource) String() string {
	return schema.GroupResource{Group: gr.Group, Resource: gr.Resource}.String()
}

// GroupKind names a kind in an API group: {"apps", "Deployment"}.
type GroupKind struct {
	Group string
	Kind  string
}

// String is "Deployment.apps", or just "Pod" for the core group.
func (gk GroupKind) String() string {
	return schema.GroupKind{Group: gk.Group, Kind: gk.Kind}.String()
}

// Cause is one cause of a failure (metav1.StatusCause): Type is the
// field.ErrorType ("FieldValueInvalid"), Message the error body
// ("Invalid value: -1: must be greater than or equal to 0"), Field the path.
type Cause struct {
	Type    string
	Message string
	Field   string
}

// NotFound is Kubernetes' NewNotFound: `deployments.apps "nginx" not found`.
func NotFound(gr GroupResource, name string) error {
	return encode(k8serrors.NewNotFound(schemaGR(gr), name).ErrStatus)
}

// AlreadyExists is Kubernetes' NewAlreadyExists: `deployments.apps "nginx" already exists`.
func AlreadyExists(gr GroupResource, name string) error {
	return encode(k8serrors.NewAlreadyExists(schemaGR(gr), name).ErrStatus)
}

// Conflict is Kubernetes' NewConflict:
// `Operation cannot be fulfilled on deployments.apps "nginx": <msg>`.
// Use OptimisticLockErrorMsg for a stale resourceVersion.
func Conflict(gr GroupResource, name, msg string) error {
	return encode(k8serrors.NewConflict(schemaGR(gr), name, errors.New(msg)).ErrStatus)
}

// Invalid is Kubernetes' NewInvalid:
// `Deployment.apps "bad" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`,
// several errors as `... is invalid: [a, b]`.
func Invalid(gk GroupKind, name string, errs field.ErrorList) error {
	return encode(k8serrors.NewInvalid(schema.GroupKind{Group: gk.Group, Kind: gk.Kind}, name, errs).ErrStatus)
}

// BadRequest is Kubernetes' NewBadRequest: the message as given.
func BadRequest(msg string) error {
	return encode(k8serrors.NewBadRequest(msg).ErrStatus)
}

// Forbidden is Kubernetes' NewForbidden: `deployments.apps "nginx" is forbidden: <err>`.
func Forbidden(gr GroupResource, name string, err error) error {
	return encode(k8serrors.NewForbidden(schemaGR(gr), name, err).ErrStatus)
}

// NamespaceTerminating is kube-apiserver's NamespaceLifecycle refusal of a create in
// a namespace being deleted: `pods "x" is forbidden: unable to create new content in
// namespace team because it is being terminated`, with the NamespaceTerminating cause
// on metadata.namespace.
func NamespaceTerminating(gr GroupResource, name, namespace string) error {
	st := k8serrors.NewForbidden(schemaGR(gr), name, fmt.Errorf("unable to create new content in namespace %s because it is being terminated", namespace)).ErrStatus
	st.Details.Causes = append(st.Details.Causes, metav1.StatusCause{
		Type: "NamespaceTerminating", Message: fmt.Sprintf("namespace %s is being terminated", namespace), Field: "metadata.namespace",
	})
	return encode(st)
}

// TooManyRequests is Kubernetes' NewTooManyRequests (429) with its causes: what an
// eviction the disruption budget forbids answers ("Cannot evict pod as it would
// violate the pod's disruption budget.", cause DisruptionBudget).
func TooManyRequests(msg string, retryAfterSeconds int, causes ...Cause) error {
	st := k8serrors.NewTooManyRequests(msg, retryAfterSeconds).ErrStatus
	for _, c := range causes {
		st.Details.Causes = append(st.Details.Causes, metav1.StatusCause{Type: metav1.CauseType(c.Type), Message: c.Message, Field: c.Field})
	}
	return encode(st)
}

// Internal is Kubernetes' NewInternalError: `Internal error occurred: <err>`.
func Internal(err error) error {
	st := k8serrors.NewInternalError(err).ErrStatus
	st.Details = nil // the cause repeats the message; not encoded
	return encode(st)
}

// Timeout is Kubernetes' NewTimeoutError: `Timeout: <msg>`.
func Timeout(msg string) error {
	st := k8serrors.NewTimeoutError(msg, 0).ErrStatus
	st.Details = nil
	return encode(st)
}

// MethodNotSupported is Kubernetes' NewMethodNotSupported (405):
// `watch is not supported on resources of kind "loads.sim.podwarden.io"`.
func MethodNotSupported(gr GroupResource, action string) error {
	st := k8serrors.NewMethodNotSupported(schemaGR(gr), action).ErrStatus
	st.Details = nil
	return encode(st)
}

// Expired is Kubernetes' NewResourceExpired (410 Gone, reason Expired): a watch or list
// from a resourceVersion the server no longer has, or an expired continue token.
func Expired(msg string) error {
	return encode(k8serrors.NewResourceExpired(msg).ErrStatus)
}

// TooLargeResourceVersion is the apiserver's answer to a read at a resourceVersion it
// has not reached in time: `Timeout: Too large resource version: 12, current: 10`.
func TooLargeResourceVersion(want, current int64) error {
	st := k8serrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %d, current: %d", want, current), 1).ErrStatus
	st.Details = nil
	return encode(st)
}

// FromStore maps an error of a store call about object name of resource gr:
// ErrNotFound, ErrAlreadyExists and ErrConflict (wrapped or not) become
// NotFound, AlreadyExists and Conflict (with OptimisticLockErrorMsg); an error
// that already is a gRPC status passes through; context deadline and
// cancellation become Timeout and codes.Canceled; anything else is Internal.
// nil stays nil.
func FromStore(err error, gr GroupResource, name string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		return NotFound(gr, name)
	case errors.Is(err, ErrAlreadyExists):
		return AlreadyExists(gr, name)
	case errors.Is(err, ErrConflict):
		return Conflict(gr, name, OptimisticLockErrorMsg)
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return Timeout(err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	return Internal(err)
}

func schemaGR(gr GroupResource) schema.GroupResource {
	return schema.GroupResource{Group: gr.Group, Resource: gr.Resource}
}

// codeOf maps a Kubernetes reason to its gRPC code.
func codeOf(reason metav1.StatusReason) codes.Code {
	switch reason {
	case metav1.StatusReasonNotFound:
		return codes.NotFound
	case metav1.StatusReasonAlreadyExists:
		return codes.AlreadyExists
	case metav1.StatusReasonConflict:
		return codes.Aborted
	case metav1.StatusReasonInvalid, metav1.StatusReasonBadRequest:
		return codes.InvalidArgument
	case metav1.StatusReasonForbidden:
		return codes.PermissionDenied
	case metav1.StatusReasonTimeout:
		return codes.DeadlineExceeded
	case metav1.StatusReasonExpired:
		return codes.OutOfRange
	case metav1.StatusReasonMethodNotAllowed:
		return codes.Unimplemented
	case metav1.StatusReasonTooManyRequests:
		return codes.ResourceExhausted
	default:
		return codes.Internal
	}
}

// encode turns a Kubernetes Status into a gRPC status error.
func encode(st metav1.Status) error {
	info := &errdetails.ErrorInfo{Reason: string(st.Reason), Domain: Domain}
	var bad *errdetails.BadRequest
	if d := st.Details; d != nil {
		if d.Group != "" || d.Kind != "" || d.Name != "" {
			info.Metadata = map[string]string{MetaGroup: d.Group, MetaKind: d.Kind, MetaName: d.Name}
		}
		if len(d.Causes) > 0 {
			bad = &errdetails.BadRequest{}
			for _, c := range d.Causes {
				bad.FieldViolations = append(bad.FieldViolations, &errdetails.BadRequest_FieldViolation{
					Field:       c.Field,
					Description: c.Message,
					Reason:      string(c.Type),
				})
			}
		}
	}
	s := status.New(codeOf(st.Reason), st.Message)
	var withDetails *status.Status
	var err error
	if bad != nil {
		withDetails, err = s.WithDetails(info, bad)
	} else {
		withDetails, err = s.WithDetails(info)
	}
	if err != nil {
		return s.Err()
	}
	return withDetails.Err()
}

// String renders a cause like Kubernetes' field.Error: "<field>: <message>".
func (c Cause) String() string {
	if c.Field == "" {
		return c.Message
	}
	return fmt.Sprintf("%s: %s", c.Field, c.Message)
}
