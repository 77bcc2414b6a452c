package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	k8scorev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
)

// kubeProtobuf encodes obj the way kubectl's typed clients do.
func kubeProtobuf(t *testing.T, obj k8sruntime.Object) string {
	t.Helper()
	scheme := k8sruntime.NewScheme()
	_ = k8scorev1.AddToScheme(scheme)
	_ = appsv1.AddToScheme(scheme)
	_ = batchv1.AddToScheme(scheme)
	s := protobuf.NewSerializer(scheme, scheme)
	var buf bytes.Buffer
	if err := s.Encode(obj, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestKubernetesProtobufBodies(t *testing.T) {
	e := newEnv(t)
	replicas := int32(2)
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: k8scorev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       k8scorev1.PodSpec{Containers: []k8scorev1.Container{{Name: "web", Image: "nginx"}}},
			},
		},
	}
	// What `kubectl create deployment web --image=nginx --replicas=2` sends.
	r := e.do(http.MethodPost, "/apis/apps/v1/namespaces/default/deployments", kubeProtobuf(t, dep),
		"Content-Type: application/vnd.kubernetes.protobuf", "Accept: application/vnd.kubernetes.protobuf, */*")
	r.wantCode(t, http.StatusCreated)
	if ct := r.header.Get("Content-Type"); ct != mimeKubeProtobuf {
		t.Fatalf("answered %q, want protobuf, the client's first choice", ct)
	}
	created, _, err := kubeDecoder.Decode(r.body, nil, nil)
	if err != nil {
		t.Fatalf("decode the answer: %v", err)
	}
	asJSON, _ := json.Marshal(created)
	var obj map[string]any
	_ = json.Unmarshal(asJSON, &obj)
	if get(obj, "spec", "replicas") == nil || get(obj, "spec", "template", "spec", "containers", 0, "image") != "nginx" {
		t.Errorf("created %s", r.body)
	}

	// `kubectl run web --image=nginx`
	pod := &k8scorev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: k8scorev1.PodSpec{Containers: []k8scorev1.Container{{Name: "web", Image: "nginx"}}}}
	e.do(http.MethodPost, "/api/v1/namespaces/default/pods", kubeProtobuf(t, pod), "Content-Type: application/vnd.kubernetes.protobuf").
		wantCode(t, http.StatusCreated)

	e.do(http.MethodPost, "/api/v1/namespaces/default/pods", "not protobuf", "Content-Type: application/vnd.kubernetes.protobuf").
		wantStatus(t, http.StatusUnsupportedMediaType, ReasonUnsupportedMediaType)
}

func TestOpenAPIAsProtobuf(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodGet, "/openapi/v2", "", "Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf, application/json")
	r.wantCode(t, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	var doc openapiv2.Document
	if err := proto.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("not a protobuf OpenAPI document: %v", err)
	}
	if doc.GetSwagger() != "2.0" || len(doc.GetPaths().GetPath()) == 0 {
		t.Errorf("document: swagger %q, %d paths", doc.GetSwagger(), len(doc.GetPaths().GetPath()))
	}
}

// TestKubernetesProtobufKinds: every kind clients send as protobuf decodes, Jobs and
// CronJobs included (`kubectl create job` sends protobuf; client-go's typed clients do).
func TestKubernetesProtobufKinds(t *testing.T) {
	for _, obj := range []k8sruntime.Object{
		&batchv1.Job{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}, ObjectMeta: metav1.ObjectMeta{Name: "hello"}},
		&batchv1.CronJob{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"}, ObjectMeta: metav1.ObjectMeta{Name: "hello"}},
		&appsv1.StatefulSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"}, ObjectMeta: metav1.ObjectMeta{Name: "web"}},
	} {
		got, _, err := kubeDecoder.Decode([]byte(kubeProtobuf(t, obj)), nil, nil)
		if err != nil {
			t.Errorf("%T: %v", obj, err)
			continue
		}
		if m, ok := got.(metav1.Object); !ok || m.GetName() == "" {
			t.Errorf("%T decoded as %v", obj, got)
		}
	}
}
