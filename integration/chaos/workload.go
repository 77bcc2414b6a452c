package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// A workload is one object the trial drives through one step while a fault hits.
type workload interface {
	// Kind names the workload ("deployment", "statefulset", "job", "failing-job",
	// "cronjob", "hpa", "daemonset").
	Kind() string
	Name() string
	// Steps are the steps possible after the object exists (create is always possible).
	Steps() []string
	Create(ctx context.Context) error
	// Prepare does, before the fault, what a step needs first (undo needs a roll).
	Prepare(ctx context.Context, step string) error
	// Do performs the step under test.
	Do(ctx context.Context, step string) error
	// Converged is "" when the workload matches its spec (or, after a delete, is gone as
	// its propagation policy says), else what is still missing.
	Converged(ctx context.Context) (string, error)
	// Alive lists the objects created and not deleted (acknowledged creates).
	Alive() []object
	// Cleanup deletes what is left of the workload (not waited for).
	Cleanup(ctx context.Context)
}

// aligner is a workload whose step is bound to the clock: Align waits, before the
// step and its fault start, for the instant the step needs (a CronJob's minute).
type aligner interface {
	Align(ctx context.Context, step string) error
}

// object is a created object the harness expects to exist.
type object struct {
	kind, namespace, name string
	uid                   types.UID
	get                   func(ctx context.Context) (metav1.Object, error)
}

// env is what every workload needs.
type env struct {
	cs kubernetes.Interface
	ns string
	r  *rand.Rand
	m  *monitor
}

var deleteSteps = []string{"delete-background", "delete-foreground", "delete-orphan"}

func policyOf(step string) metav1.DeletionPropagation {
	switch step {
	case "delete-foreground":
		return metav1.DeletePropagationForeground
	case "delete-orphan":
		return metav1.DeletePropagationOrphan
	}
	return metav1.DeletePropagationBackground
}

func selector(name string) metav1.ListOptions {
	return metav1.ListOptions{LabelSelector: "app=" + name}
}

func podsOf(ctx context.Context, e *env, name string) ([]corev1.Pod, error) {
	list, err := e.cs.CoreV1().Pods(e.ns).List(ctx, selector(name))
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// controllerUID is the UID of an object's controller owner ("" when none).
func controllerUID(obj metav1.Object) types.UID {
	if ref := metav1.GetControllerOf(obj); ref != nil {
		return ref.UID
	}
	return ""
}

// refersTo reports whether any owner reference of obj names uid.
func refersTo(obj metav1.Object, uid types.UID) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.UID == uid {
			return true
		}
	}
	return false
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// live: neither terminating nor finished (what Kubernetes' surge guarantee counts).
func live(p *corev1.Pod) bool {
	return p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// deletion tracks a delete step.
type deletion struct {
	policy  metav1.DeletionPropagation
	deleted bool
}

// deleteConverged: the object is gone; with Background/Foreground its dependents are
// gone too, with Orphan none of them still names it as owner.
func deleteConverged(ctx context.Context, d deletion, uid types.UID, get func(ctx context.Context) (metav1.Object, error), dependents func(ctx context.Context) ([]metav1.Object, error)) (string, error) {
	g, err := gone(ctx, uid, get)
	if err != nil {
		return "", err
	}
	if !g {
		return "object not deleted yet", nil
	}
	deps, err := dependents(ctx)
	if err != nil {
		return "", err
	}
	var left []string
	for _, o := range deps {
		if d.policy != metav1.DeletePropagationOrphan || refersTo(o, uid) {
			left = append(left, o.GetName())
		}
	}
	if len(left) > 0 {
		slices.Sort(left)
		return fmt.Sprintf("%d dependents left after %s delete: %s", len(left), d.policy, strings.Join(left, ",")), nil
	}
	return "", nil
}

// podObjects lists a workload's pods as objects.
func podObjects(ctx context.Context, e *env, name string) ([]metav1.Object, error) {
	pods, err := podsOf(ctx, e, name)
	if err != nil {
		return nil, err
	}
	out := make([]metav1.Object, len(pods))
	for i := range pods {
		out[i] = &pods[i]
	}
	return out, nil
}

// deletePods deletes a workload's pods (orphans after an Orphan delete).
func deletePods(ctx context.Context, e *env, name string) {
	pods, err := podsOf(ctx, e, name)
	if err != nil {
		return
	}
	for _, p := range pods {
		_ = e.cs.CoreV1().Pods(e.ns).Delete(ctx, p.Name, metav1.DeleteOptions{})
	}
}

func notFoundOK(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
