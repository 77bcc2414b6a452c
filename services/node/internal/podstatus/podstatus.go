// Package podstatus is the node service's vocabulary of a pod's status, shared
// by the API (admission, deletion), the scheduler pass and the simulated
// kubelet: the kubelet's condition order and SetCondition, the QoS class, the
// graceful-deletion fields and the events recorded about a pod. Kubernetes'
// own phases, condition types and predicates are in shared/podutil. Pure
// functions.
package podstatus

// Event types (core/v1 EventTypeNormal, EventTypeWarning).
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)

// Event is a Kubernetes event to record about a pod (by the kubelet, the
// scheduler, the taint manager or the node controller).
type Event struct {
	Type      string // Normal or Warning
	Reason    string
	Message   string
	FieldPath string // spec.containers{name}, when about one container
	Component string // kubelet (default), default-scheduler, taint-eviction-controller, node-controller
}
