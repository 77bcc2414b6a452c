package validation

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

var metaPath = field.NewPath("metadata")

func boolp(b bool) *bool { return &b }

func TestValidateObjectMeta(t *testing.T) {
	tests := map[string]struct {
		meta             *corev1.ObjectMeta
		requireNamespace bool
		nameFn           NameFunc
		want             []string
	}{
		"valid": {
			meta:             &corev1.ObjectMeta{Name: "nginx", Namespace: "default", Labels: map[string]string{"app": "nginx"}, Annotations: map[string]string{"Example.com/Note": "x"}},
			requireNamespace: true, nameFn: NameIsDNSSubdomain,
		},
		"subdomain allows dots": {
			meta: &corev1.ObjectMeta{Name: "web.example"}, nameFn: NameIsDNSSubdomain,
		},
		"label rule rejects dots": {
			meta: &corev1.ObjectMeta{Name: "web.example"}, nameFn: NameIsDNSLabel,
			want: []string{`metadata.name: Invalid value: "web.example": must not contain dots`},
		},
		"name or generateName required": {
			meta: &corev1.ObjectMeta{}, nameFn: NameIsDNSSubdomain,
			want: []string{"metadata.name: Required value: name or generateName is required"},
		},
		"nil meta": {
			meta: nil, requireNamespace: true, nameFn: NameIsDNSSubdomain,
			want: []string{"metadata.name: Required value: name or generateName is required", "metadata.namespace: Required value"},
		},
		"generateName only": {
			meta: &corev1.ObjectMeta{GenerateName: "nginx-"}, nameFn: NameIsDNSSubdomain,
		},
		"bad generateName": {
			meta: &corev1.ObjectMeta{GenerateName: "Nginx-"}, nameFn: NameIsDNSSubdomain,
			want: []string{`metadata.generateName: Invalid value: "Nginx-": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		},
		"bad name": {
			meta: &corev1.ObjectMeta{Name: "Bad_Name"}, nameFn: NameIsDNSSubdomain,
			want: []string{`metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		},
		"namespace required": {
			meta: &corev1.ObjectMeta{Name: "a"}, requireNamespace: true, nameFn: NameIsDNSSubdomain,
			want: []string{"metadata.namespace: Required value"},
		},
		"namespace forbidden on cluster-scoped": {
			meta: &corev1.ObjectMeta{Name: "node-1", Namespace: "default"}, nameFn: NameIsDNSSubdomain,
			want: []string{"metadata.namespace: Forbidden: not allowed on this type"},
		},
		"bad namespace": {
			meta: &corev1.ObjectMeta{Name: "a", Namespace: "Default"}, requireNamespace: true, nameFn: NameIsDNSSubdomain,
			want: []string{`metadata.namespace: Invalid value: "Default": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`},
		},
		"negative generation, labels and annotations sorted": {
			meta: &corev1.ObjectMeta{Name: "a", Generation: -1,
				Labels:      map[string]string{"z": "ok", "b/c/d": "x", "a": strings.Repeat("v", 64)},
				Annotations: map[string]string{"bad key": "x"}},
			nameFn: NameIsDNSSubdomain,
			want: []string{
				"metadata.generation: Invalid value: -1: must be greater than or equal to 0",
				`metadata.labels: Invalid value: "` + strings.Repeat("v", 64) + `": must be no more than 63 bytes`,
				`metadata.labels: Invalid value: "b/c/d": a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
				`metadata.annotations: Invalid value: "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
			},
		},
		"owner references and finalizers": {
			meta: &corev1.ObjectMeta{Name: "a",
				OwnerReferences: []*corev1.OwnerReference{
					{ApiVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", Uid: "1", Controller: boolp(true)},
					{ApiVersion: "apps/v1", Kind: "Deployment", Name: "d", Uid: "2", Controller: boolp(true)},
					{Kind: "X"},
				},
				Finalizers: []string{"foregroundDeletion", "bad finalizer"}},
			nameFn: NameIsDNSSubdomain,
			want: []string{
				`metadata.ownerReferences: Invalid value: [{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"1","controller":true},{"apiVersion":"apps/v1","kind":"Deployment","name":"d","uid":"2","controller":true},{"apiVersion":"","kind":"X","name":"","uid":""}]: Only one reference can have Controller set to true. Found "true" in references for ReplicaSet/rs and Deployment/d`,
				"metadata.ownerReferences[2].apiVersion: Required value: must not be empty",
				"metadata.ownerReferences[2].name: Required value: must not be empty",
				"metadata.ownerReferences[2].uid: Required value: must not be empty",
				`metadata.finalizers: Invalid value: "bad finalizer": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			checkErrs(t, ValidateObjectMeta(tc.meta, tc.requireNamespace, tc.nameFn, metaPath), tc.want)
		})
	}
}

func TestValidateObjectMetaUpdate(t *testing.T) {
	created := timestamppb.New(timestamppb.Now().AsTime().Truncate(1e9))
	old := &corev1.ObjectMeta{Name: "a", Namespace: "default", Uid: "u1", ResourceVersion: "5", Generation: 3, CreationTimestamp: created}
	tests := map[string]struct {
		mutate func(m *corev1.ObjectMeta)
		want   []string
	}{
		"unchanged": {mutate: func(*corev1.ObjectMeta) {}},
		"labels may change": {mutate: func(m *corev1.ObjectMeta) {
			m.Labels = map[string]string{"a": "b"}
		}},
		"no resourceVersion": {
			mutate: func(m *corev1.ObjectMeta) { m.ResourceVersion = "" },
			want:   []string{`metadata.resourceVersion: Invalid value: "": must be specified for an update`},
		},
		"generation decremented": {
			mutate: func(m *corev1.ObjectMeta) { m.Generation = 2 },
			want:   []string{"metadata.generation: Invalid value: 2: must not be decremented"},
		},
		"immutable identity": {
			mutate: func(m *corev1.ObjectMeta) {
				m.Name, m.Namespace, m.Uid = "b", "other", "u2"
				m.CreationTimestamp = nil
			},
			want: []string{
				`metadata.name: Invalid value: "b": field is immutable`,
				`metadata.namespace: Invalid value: "other": field is immutable`,
				`metadata.uid: Invalid value: "u2": field is immutable`,
				"metadata.creationTimestamp: Invalid value: null: field is immutable",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			n := &corev1.ObjectMeta{Name: old.Name, Namespace: old.Namespace, Uid: old.Uid, ResourceVersion: old.ResourceVersion,
				Generation: old.Generation, CreationTimestamp: old.CreationTimestamp}
			tc.mutate(n)
			checkErrs(t, ValidateObjectMetaUpdate(n, old, metaPath), tc.want)
		})
	}
}

func TestValidateTypeMeta(t *testing.T) {
	tests := map[string]struct {
		apiVersion, kind string
		want             []string
	}{
		"empty accepted": {},
		"matching":       {apiVersion: "apps/v1", kind: "Deployment"},
		"wrong version": {apiVersion: "apps/v1beta1", kind: "Deployment",
			want: []string{`apiVersion: Invalid value: "apps/v1beta1": the API version in the data (apps/v1beta1) does not match the expected API version (apps/v1)`}},
		"wrong kind": {apiVersion: "apps/v1", kind: "ReplicaSet",
			want: []string{`kind: Invalid value: "ReplicaSet": the kind in the data (ReplicaSet) does not match the expected kind (Deployment)`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			checkErrs(t, ValidateTypeMeta(tc.apiVersion, tc.kind, "apps/v1", "Deployment"), tc.want)
		})
	}
}

func TestValidateImmutable(t *testing.T) {
	p := field.NewPath("spec", "selector")
	tests := map[string]struct {
		newVal, oldVal any
		want           []string
	}{
		"equal strings": {newVal: "a", oldVal: "a"},
		"strings":       {newVal: "b", oldVal: "a", want: []string{`spec.selector: Invalid value: "b": field is immutable`}},
		"equal maps":    {newVal: map[string]string{"a": "1"}, oldVal: map[string]string{"a": "1"}},
		"equal protos": {
			newVal: &corev1.LabelSelector{MatchLabels: map[string]string{"app": "x", "b": "c"}},
			oldVal: &corev1.LabelSelector{MatchLabels: map[string]string{"b": "c", "app": "x"}},
		},
		"protos differ": {
			newVal: &corev1.LabelSelector{MatchLabels: map[string]string{"app": "y"}},
			oldVal: &corev1.LabelSelector{MatchLabels: map[string]string{"app": "x"}},
			want:   []string{`spec.selector: Invalid value: {"matchLabels":{"app":"y"}}: field is immutable`},
		},
		"proto vs nil": {
			newVal: &corev1.LabelSelector{}, oldVal: (*corev1.LabelSelector)(nil),
			want: []string{`spec.selector: Invalid value: {}: field is immutable`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			checkErrs(t, ValidateImmutable(tc.newVal, tc.oldVal, p), tc.want)
		})
	}
}

func TestValidateNonnegative(t *testing.T) {
	p := field.NewPath("spec", "replicas")
	tests := map[string]struct {
		v    int64
		want []string
	}{
		"zero":     {v: 0},
		"positive": {v: 3},
		"negative": {v: -1, want: []string{"spec.replicas: Invalid value: -1: must be greater than or equal to 0"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			checkErrs(t, ValidateNonnegative(tc.v, p), tc.want)
		})
	}
}

func TestValidateAnnotationsSize(t *testing.T) {
	big := map[string]string{"a": strings.Repeat("x", 256*1024)}
	checkErrs(t, ValidateAnnotations(big, metaPath.Child("annotations")),
		[]string{"metadata.annotations: Too long: may not be more than 262144 bytes"})
}
