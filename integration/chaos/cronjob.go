package chaos

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// cronJob: a CronJob that runs every minute, its step (its creation, or nothing: the
// schedule's next minute itself) timed so that the fault lands around a minute
// boundary, when the controller starts that minute's Job. The pod watch checks that
// no minute runs twice (a Job name, which carries the minute, never comes back with
// another UID); convergence is that minute's Job, and every Job started since,
// complete with one success each.
type cronJob struct {
	*env
	name string
	uid  types.UID
	del  deletion
	// minute is the first schedule time after the step started (Align).
	minute time.Time
	// lead is how long before the minute the step starts.
	lead time.Duration
}

func newCronJob(e *env) *cronJob {
	return &cronJob{env: e, name: "tick", lead: time.Duration(1500+e.r.IntN(1500)) * time.Millisecond}
}

func (c *cronJob) Kind() string { return "cronjob" }
func (c *cronJob) Name() string { return c.name }
func (c *cronJob) Steps() []string {
	return append([]string{"minute"}, deleteSteps...)
}

func (c *cronJob) get(ctx context.Context) (metav1.Object, error) {
	return c.cs.BatchV1().CronJobs(c.ns).Get(ctx, c.name, metav1.GetOptions{})
}

func (c *cronJob) Create(ctx context.Context) error {
	obj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: c.name, Namespace: c.ns},
		Spec: batchv1.CronJobSpec{
			Schedule: "* * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				BackoffLimit: ptr.To[int32](6),
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": c.name}},
					Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
						Containers: []corev1.Container{{Name: "tick", Image: "busybox", Command: []string{"sh", "-c", "sleep 1; date"}}}},
				},
			}},
		},
	}
	uid, err := create(ctx, "cronjob "+c.name, func(ctx context.Context) (metav1.Object, error) {
		return c.cs.BatchV1().CronJobs(c.ns).Create(ctx, obj, metav1.CreateOptions{})
	}, c.get)
	c.uid = uid
	return err
}

func (c *cronJob) Prepare(context.Context, string) error { return nil }

// Align waits until lead before the next minute (the one after that when it is
// closer than 1 s): the step starts then, and its fault lands around the minute.
func (c *cronJob) Align(ctx context.Context, step string) error {
	now := time.Now()
	next := now.Truncate(time.Minute).Add(time.Minute)
	if next.Sub(now) < c.lead+time.Second {
		next = next.Add(time.Minute)
	}
	c.minute = next
	select {
	case <-time.After(time.Until(next.Add(-c.lead))):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *cronJob) Do(ctx context.Context, step string) error {
	switch step {
	case "create":
		return c.Create(ctx)
	case "minute":
		return nil // the schedule is the step
	}
	c.del = deletion{policy: policyOf(step), deleted: true}
	return remove(ctx, "cronjob "+c.name, c.del.policy, func(ctx context.Context, opts metav1.DeleteOptions) error {
		return c.cs.BatchV1().CronJobs(c.ns).Delete(ctx, c.name, opts)
	})
}

func (c *cronJob) jobs(ctx context.Context) ([]batchv1.Job, error) {
	list, err := c.cs.BatchV1().Jobs(c.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

func (c *cronJob) Converged(ctx context.Context) (string, error) {
	if c.del.deleted {
		return deleteConverged(ctx, c.del, c.uid, c.get, func(ctx context.Context) ([]metav1.Object, error) {
			jobs, err := c.jobs(ctx)
			if err != nil {
				return nil, err
			}
			var out []metav1.Object
			for i := range jobs {
				out = append(out, &jobs[i])
			}
			if c.del.policy != metav1.DeletePropagationOrphan {
				pods, err := podObjects(ctx, c.env, c.name)
				if err != nil {
					return nil, err
				}
				out = append(out, pods...)
			}
			return out, nil
		})
	}
	cj, err := c.cs.BatchV1().CronJobs(c.ns).Get(ctx, c.name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	jobs, err := c.jobs(ctx)
	if err != nil {
		return "", err
	}
	pods, err := podsOf(ctx, c.env, c.name)
	if err != nil {
		return "", err
	}
	podsByJob := map[types.UID][]*corev1.Pod{}
	for i := range pods {
		podsByJob[controllerUID(&pods[i])] = append(podsByJob[controllerUID(&pods[i])], &pods[i])
	}
	sawMinute := false
	for i := range jobs {
		j := &jobs[i]
		if controllerUID(j) != cj.UID {
			return "job " + j.Name + " not owned by the CronJob", nil
		}
		at, err := time.Parse(time.RFC3339, j.Annotations[batchv1.CronJobScheduledTimestampAnnotation])
		if err != nil {
			return fmt.Sprintf("job %s: scheduled timestamp %q: %v", j.Name, j.Annotations[batchv1.CronJobScheduledTimestampAnnotation], err), nil
		}
		if want := fmt.Sprintf("%s-%d", c.name, at.Unix()/60); j.Name != want {
			return fmt.Sprintf("job %s runs the minute %s (name %s)", j.Name, at.Format(time.RFC3339), want), nil
		}
		if at.Equal(c.minute) {
			sawMinute = true
		}
		if !condition(j, batchv1.JobComplete) || j.Status.Succeeded != 1 || j.Status.Active != 0 {
			return fmt.Sprintf("job %s (minute %s): succeeded %d, active %d, Complete %v", j.Name, at.Format("15:04"), j.Status.Succeeded, j.Status.Active, condition(j, batchv1.JobComplete)), nil
		}
		succeeded := 0
		for _, p := range podsByJob[j.UID] {
			if p.Status.Phase == corev1.PodSucceeded {
				succeeded++
			}
		}
		if succeeded != 1 {
			return fmt.Sprintf("job %s has %d succeeded pods for one completion", j.Name, succeeded), nil
		}
	}
	if c.minute.IsZero() {
		return "", nil // before the step: whatever ran so far is complete
	}
	if !sawMinute {
		return fmt.Sprintf("no job for the minute %s (%d jobs)", c.minute.Format(time.RFC3339), len(jobs)), nil
	}
	if last := cj.Status.LastScheduleTime; last == nil || last.Time.Before(c.minute) {
		return fmt.Sprintf("lastScheduleTime %v, before the minute %s", last, c.minute.Format(time.RFC3339)), nil
	}
	if len(cj.Status.Active) != 0 {
		return fmt.Sprintf("%d active jobs in the CronJob's status", len(cj.Status.Active)), nil
	}
	return "", nil
}

func (c *cronJob) Alive() []object {
	if c.del.deleted || c.uid == "" {
		return nil
	}
	return []object{{kind: "CronJob", namespace: c.ns, name: c.name, uid: c.uid, get: c.get}}
}

func (c *cronJob) Cleanup(ctx context.Context) {
	policy := metav1.DeletePropagationBackground
	_ = notFoundOK(c.cs.BatchV1().CronJobs(c.ns).Delete(ctx, c.name, metav1.DeleteOptions{PropagationPolicy: &policy}))
	if c.del.policy == metav1.DeletePropagationOrphan {
		if jobs, err := c.jobs(ctx); err == nil {
			for _, j := range jobs {
				_ = c.cs.BatchV1().Jobs(c.ns).Delete(ctx, j.Name, metav1.DeleteOptions{PropagationPolicy: &policy})
			}
		}
	}
}
