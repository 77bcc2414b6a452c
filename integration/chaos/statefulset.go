package chaos

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// statefulSet: ordered pods with a volumeClaimTemplate ("data").
type statefulSet struct {
	*env
	name     string
	uid      types.UID
	replicas int32
	image    int
	del      deletion
}

func newStatefulSet(e *env) *statefulSet {
	return &statefulSet{env: e, name: "db", replicas: int32(2 + e.r.IntN(3)), image: 8}
}

func (s *statefulSet) Kind() string { return "statefulset" }
func (s *statefulSet) Name() string { return s.name }
func (s *statefulSet) Steps() []string {
	return append([]string{"scale", "roll"}, deleteSteps...)
}

func (s *statefulSet) get(ctx context.Context) (metav1.Object, error) {
	return s.cs.AppsV1().StatefulSets(s.ns).Get(ctx, s.name, metav1.GetOptions{})
}

func (s *statefulSet) imageName() string {
	return fmt.Sprintf("registry.k8s.io/nginx-slim:0.%d", s.image)
}

func (s *statefulSet) Create(ctx context.Context) error {
	labels := map[string]string{"app": s.name}
	obj := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: s.ns},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To(s.replicas),
			ServiceName: s.name,
			Selector:    &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: s.imageName(),
					VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
		},
	}
	uid, err := create(ctx, "statefulset "+s.name, func(ctx context.Context) (metav1.Object, error) {
		return s.cs.AppsV1().StatefulSets(s.ns).Create(ctx, obj, metav1.CreateOptions{})
	}, s.get)
	s.uid = uid
	return err
}

func (s *statefulSet) Prepare(context.Context, string) error { return nil }

func (s *statefulSet) Do(ctx context.Context, step string) error {
	switch step {
	case "create":
		return s.Create(ctx)
	case "scale", "roll":
		if step == "scale" {
			old := s.replicas
			for s.replicas == old {
				s.replicas = int32(1 + s.r.IntN(5))
			}
		} else {
			s.image++
		}
		return update(ctx, "statefulset "+s.name, func(ctx context.Context) (*appsv1.StatefulSet, error) {
			return s.cs.AppsV1().StatefulSets(s.ns).Get(ctx, s.name, metav1.GetOptions{})
		}, func(o *appsv1.StatefulSet) {
			o.Spec.Replicas = ptr.To(s.replicas)
			o.Spec.Template.Spec.Containers[0].Image = s.imageName()
		}, func(ctx context.Context, o *appsv1.StatefulSet) error {
			_, err := s.cs.AppsV1().StatefulSets(s.ns).Update(ctx, o, metav1.UpdateOptions{})
			return err
		})
	default:
		s.del = deletion{policy: policyOf(step), deleted: true}
		return remove(ctx, "statefulset "+s.name, s.del.policy, func(ctx context.Context, opts metav1.DeleteOptions) error {
			return s.cs.AppsV1().StatefulSets(s.ns).Delete(ctx, s.name, opts)
		})
	}
}

func (s *statefulSet) Converged(ctx context.Context) (string, error) {
	if s.del.deleted {
		return deleteConverged(ctx, s.del, s.uid, s.get, func(ctx context.Context) ([]metav1.Object, error) {
			return podObjects(ctx, s.env, s.name)
		})
	}
	sts, err := s.cs.AppsV1().StatefulSets(s.ns).Get(ctx, s.name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	st, want := sts.Status, *sts.Spec.Replicas
	if want != s.replicas || sts.Spec.Template.Spec.Containers[0].Image != s.imageName() {
		return fmt.Sprintf("spec is replicas %d image %s, the harness set %d %s", want, sts.Spec.Template.Spec.Containers[0].Image, s.replicas, s.imageName()), nil
	}
	if st.ObservedGeneration < sts.Generation || st.Replicas != want || st.ReadyReplicas != want || st.UpdatedReplicas != want ||
		st.UpdateRevision == "" || st.CurrentRevision != st.UpdateRevision {
		return fmt.Sprintf("status replicas %d ready %d updated %d current %s update %s (observed %d of %d)",
			st.Replicas, st.ReadyReplicas, st.UpdatedReplicas, st.CurrentRevision, st.UpdateRevision, st.ObservedGeneration, sts.Generation), nil
	}
	pods, err := podsOf(ctx, s.env, s.name)
	if err != nil {
		return "", err
	}
	byName := map[string]*corev1.Pod{}
	for i := range pods {
		byName[pods[i].Name] = &pods[i]
	}
	if len(pods) != int(want) {
		return fmt.Sprintf("%d pods, want %d", len(pods), want), nil
	}
	for i := range int(want) {
		name := fmt.Sprintf("%s-%d", s.name, i)
		p := byName[name]
		switch {
		case p == nil:
			return "no pod " + name, nil
		case controllerUID(p) != sts.UID:
			return "pod " + name + " not owned by the StatefulSet", nil
		case !live(p) || !podReady(p):
			return "pod " + name + " not ready", nil
		case p.Labels[appsv1.StatefulSetRevisionLabel] != st.UpdateRevision:
			return fmt.Sprintf("pod %s at revision %s, not %s", name, p.Labels[appsv1.StatefulSetRevisionLabel], st.UpdateRevision), nil
		}
		claim := fmt.Sprintf("data-%s", name)
		if _, err := s.cs.CoreV1().PersistentVolumeClaims(s.ns).Get(ctx, claim, metav1.GetOptions{}); err != nil {
			return fmt.Sprintf("claim %s: %v", claim, err), nil
		}
	}
	return "", nil
}

func (s *statefulSet) Alive() []object {
	if s.del.deleted || s.uid == "" {
		return nil
	}
	return []object{{kind: "StatefulSet", namespace: s.ns, name: s.name, uid: s.uid, get: s.get}}
}

func (s *statefulSet) Cleanup(ctx context.Context) {
	_ = notFoundOK(s.cs.AppsV1().StatefulSets(s.ns).Delete(ctx, s.name, metav1.DeleteOptions{}))
	if s.del.policy == metav1.DeletePropagationOrphan {
		deletePods(ctx, s.env, s.name)
	}
}
