package chaos

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// job: completions with parallelism (fail false), or a Job whose every pod fails
// (fail true) until the back-off limit fails the Job.
type job struct {
	*env
	name                     string
	uid                      types.UID
	fail                     bool
	completions, parallelism int32
	backoffLimit             int32
	del                      deletion
}

func newJob(e *env, fail bool) *job {
	j := &job{env: e, name: "batch", fail: fail, completions: int32(2 + e.r.IntN(4)), parallelism: int32(1 + e.r.IntN(3)), backoffLimit: 6}
	if fail {
		j.name, j.completions, j.parallelism, j.backoffLimit = "broken", 1, 1, int32(1+e.r.IntN(2))
	}
	return j
}

func (j *job) Kind() string {
	if j.fail {
		return "failing-job"
	}
	return "job"
}
func (j *job) Name() string    { return j.name }
func (j *job) Steps() []string { return deleteSteps }

func (j *job) get(ctx context.Context) (metav1.Object, error) {
	return j.cs.BatchV1().Jobs(j.ns).Get(ctx, j.name, metav1.GetOptions{})
}

func (j *job) Create(ctx context.Context) error {
	script := "sleep 1; echo done"
	if j.fail {
		script = "sleep 1; exit 1"
	}
	obj := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: j.name, Namespace: j.ns},
		Spec: batchv1.JobSpec{
			Completions: ptr.To(j.completions), Parallelism: ptr.To(j.parallelism), BackoffLimit: ptr.To(j.backoffLimit),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": j.name}},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: "work", Image: "busybox", Command: []string{"sh", "-c", script}}}},
			},
		},
	}
	uid, err := create(ctx, "job "+j.name, func(ctx context.Context) (metav1.Object, error) {
		return j.cs.BatchV1().Jobs(j.ns).Create(ctx, obj, metav1.CreateOptions{})
	}, j.get)
	j.uid = uid
	return err
}

func (j *job) Prepare(context.Context, string) error { return nil }

func (j *job) Do(ctx context.Context, step string) error {
	if step == "create" {
		return j.Create(ctx)
	}
	j.del = deletion{policy: policyOf(step), deleted: true}
	return remove(ctx, "job "+j.name, j.del.policy, func(ctx context.Context, opts metav1.DeleteOptions) error {
		return j.cs.BatchV1().Jobs(j.ns).Delete(ctx, j.name, opts)
	})
}

func condition(o *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range o.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func (j *job) Converged(ctx context.Context) (string, error) {
	if j.del.deleted {
		return deleteConverged(ctx, j.del, j.uid, j.get, func(ctx context.Context) ([]metav1.Object, error) {
			return podObjects(ctx, j.env, j.name)
		})
	}
	o, err := j.cs.BatchV1().Jobs(j.ns).Get(ctx, j.name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	pods, err := podsOf(ctx, j.env, j.name)
	if err != nil {
		return "", err
	}
	var running, succeeded, failed int32
	for i := range pods {
		switch p := &pods[i]; {
		case controllerUID(p) != o.UID:
			return "pod " + p.Name + " not owned by the Job", nil
		case p.Status.Phase == corev1.PodSucceeded:
			succeeded++
		case p.Status.Phase == corev1.PodFailed:
			failed++
		default:
			running++
		}
	}
	st := o.Status
	if j.fail {
		// backoffLimit+1 failures fail the Job; none more.
		if !condition(o, batchv1.JobFailed) || st.Failed != j.backoffLimit+1 || ptr.Deref(st.Ready, 0) != 0 || st.Active != 0 || running != 0 {
			return fmt.Sprintf("failed %d (want %d), active %d, Failed condition %v, %d pods not finished", st.Failed, j.backoffLimit+1, st.Active, condition(o, batchv1.JobFailed), running), nil
		}
		if failed != j.backoffLimit+1 {
			return fmt.Sprintf("%d failed pods, want %d", failed, j.backoffLimit+1), nil
		}
		return "", nil
	}
	if !condition(o, batchv1.JobComplete) || st.Succeeded != j.completions || st.Active != 0 || running != 0 {
		return fmt.Sprintf("succeeded %d of %d, active %d, Complete %v, %d pods not finished", st.Succeeded, j.completions, st.Active, condition(o, batchv1.JobComplete), running), nil
	}
	if succeeded != j.completions {
		return fmt.Sprintf("%d succeeded pods for %d completions", succeeded, j.completions), nil
	}
	return "", nil
}

func (j *job) Alive() []object {
	if j.del.deleted || j.uid == "" {
		return nil
	}
	return []object{{kind: "Job", namespace: j.ns, name: j.name, uid: j.uid, get: j.get}}
}

func (j *job) Cleanup(ctx context.Context) {
	policy := metav1.DeletePropagationBackground
	_ = notFoundOK(j.cs.BatchV1().Jobs(j.ns).Delete(ctx, j.name, metav1.DeleteOptions{PropagationPolicy: &policy}))
	if j.del.policy == metav1.DeletePropagationOrphan {
		deletePods(ctx, j.env, j.name)
	}
}
