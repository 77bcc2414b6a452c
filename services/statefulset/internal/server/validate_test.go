package server

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// validSet is a StatefulSet like the tutorial's "web": a claim template
// mounted by name, with no pod volume of that name.
const validSet = `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"web","namespace":"default"},
 "spec":{"serviceName":"nginx","replicas":3,"selector":{"matchLabels":{"app":"nginx"}},
  "template":{"metadata":{"labels":{"app":"nginx"}},"spec":{"containers":[{"name":"nginx","image":"registry.k8s.io/nginx-slim:0.8",
   "volumeMounts":[{"name":"www","mountPath":"/usr/share/nginx/html"}]}]}},
  "volumeClaimTemplates":[{"metadata":{"name":"www"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}]}}`

const forbiddenMsg = "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', " +
	"'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"

const dns1123LabelMsg = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', " +
	"and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"

const dns1123SubdomainMsg = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', " +
	"and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is " +
	"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"

func decode[T proto.Message](t *testing.T, js string, into T) T {
	t.Helper()
	if err := protojson.Unmarshal([]byte(js), into); err != nil {
		t.Fatalf("unmarshal %s: %v", js, err)
	}
	return into
}

// defaultedSet is validSet after defaulting, as the server validates it.
func defaultedSet(t *testing.T) *statefulsetv1.StatefulSet {
	ss := decode(t, validSet, &statefulsetv1.StatefulSet{})
	defaultStatefulSet(ss)
	return ss
}

// checkErrs compares the rendered errors (field path and message) with want, in order.
func checkErrs(t *testing.T, got field.ErrorList, want []string) {
	t.Helper()
	gotS := make([]string, 0, len(got))
	for _, e := range got {
		gotS = append(gotS, e.Error())
	}
	if strings.Join(gotS, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n  %s\nwant:\n  %s", strings.Join(gotS, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestValidateStatefulSetCreate(t *testing.T) {
	tests := map[string]struct {
		mutate func(ss *statefulsetv1.StatefulSet)
		want   []string
	}{
		"valid: a volumeMount may name a claim template": {},
		"missing serviceName": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.ServiceName = "" },
			want:   []string{"spec.serviceName: Required value"},
		},
		"serviceName not a DNS label": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.ServiceName = "Nginx_Svc" },
			want:   []string{`spec.serviceName: Invalid value: "Nginx_Svc": ` + dns1123LabelMsg},
		},
		"name is a DNS label, not a subdomain": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Metadata.Name = "web.v1" },
			want:   []string{`metadata.name: Invalid value: "web.v1": must not contain dots`},
		},
		"namespace required": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Metadata.Namespace = "" },
			want:   []string{"metadata.namespace: Required value"},
		},
		"selector does not match template labels": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.Selector.MatchLabels = map[string]string{"app": "web"} },
			want:   []string{"spec.template.metadata.labels: Invalid value: {\"app\":\"nginx\"}: `selector` does not match template `labels`"},
		},
		"selector required (and so matches nothing)": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.Selector = nil },
			want: []string{"spec.selector: Required value",
				"spec.template.metadata.labels: Invalid value: {\"app\":\"nginx\"}: `selector` does not match template `labels`"},
		},
		"empty selector": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.Selector.MatchLabels = nil },
			want:   []string{"spec.selector: Invalid value: {}: empty selector is invalid for statefulset"},
		},
		"podManagementPolicy": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.PodManagementPolicy = "Random" },
			want:   []string{`spec.podManagementPolicy: Invalid value: "Random": must be 'OrderedReady' or 'Parallel'`},
		},
		"Parallel": {mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.PodManagementPolicy = "Parallel" }},
		"updateStrategy type": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				ss.Spec.UpdateStrategy = &statefulsetv1.StatefulSetUpdateStrategy{Type: "Recreate"}
			},
			want: []string{`spec.updateStrategy: Invalid value: {"type":"Recreate"}: must be 'RollingUpdate' or 'OnDelete'`},
		},
		"OnDelete": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				ss.Spec.UpdateStrategy = &statefulsetv1.StatefulSetUpdateStrategy{Type: "OnDelete"}
			},
		},
		"rollingUpdate with OnDelete": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.UpdateStrategy.Type = "OnDelete" },
			want: []string{`spec.updateStrategy.rollingUpdate: Invalid value: {"partition":0,"maxUnavailable":1}: ` +
				`only allowed for updateStrategy 'RollingUpdate'`},
		},
		"RollingUpdate without rollingUpdate": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.UpdateStrategy.RollingUpdate = nil },
		},
		"partition < 0": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.UpdateStrategy.RollingUpdate.Partition = proto.Int32(-1) },
			want:   []string{"spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0"},
		},
		"partition beyond replicas is fine": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.UpdateStrategy.RollingUpdate.Partition = proto.Int32(10) },
		},
		"maxUnavailable 0": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				ss.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = structpb.NewNumberValue(0)
			},
			want: []string{"spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: cannot be 0"},
		},
		"maxUnavailable 0%": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				ss.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = structpb.NewStringValue("0%")
			},
			want: []string{`spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "0%": cannot be 0`},
		},
		"maxUnavailable < 0": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				ss.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = structpb.NewNumberValue(-1)
			},
			want: []string{"spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: -1: must be greater than or equal to 0"},
		},
		"maxUnavailable > 100%": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				ss.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = structpb.NewStringValue("150%")
			},
			want: []string{`spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%`},
		},
		"maxUnavailable not a percentage": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				ss.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = structpb.NewStringValue("half")
			},
			want: []string{`spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "half": a valid percent string must be ` +
				`a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')`,
				`spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "half": cannot be 0`},
		},
		"maxUnavailable 50%": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				ss.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = structpb.NewStringValue("50%")
			},
		},
		"replicas < 0": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.Replicas = proto.Int32(-1) },
			want:   []string{"spec.replicas: Invalid value: -1: must be greater than or equal to 0"},
		},
		"replicas 0": {mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.Replicas = proto.Int32(0) }},
		"minReadySeconds < 0": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.MinReadySeconds = -5 },
			want:   []string{"spec.minReadySeconds: Invalid value: -5: must be greater than or equal to 0"},
		},
		"revisionHistoryLimit < 0": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.RevisionHistoryLimit = proto.Int32(-1) },
			want:   []string{"spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0"},
		},
		"ordinals.start < 0": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.Ordinals = &statefulsetv1.StatefulSetOrdinals{Start: -1} },
			want:   []string{"spec.ordinals.start: Invalid value: -1: must be greater than or equal to 0"},
		},
		"ordinals.start 5": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.Ordinals = &statefulsetv1.StatefulSetOrdinals{Start: 5} },
		},
		"restartPolicy": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.Template.Spec.RestartPolicy = "OnFailure" },
			want:   []string{`spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"`},
		},
		"activeDeadlineSeconds": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.Template.Spec.ActiveDeadlineSeconds = proto.Int64(30) },
			want:   []string{"spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in StatefulSet is not Supported"},
		},
		"no containers": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.Template.Spec.Containers = nil },
			want:   []string{"spec.template.spec.containers: Required value"},
		},
		"mount of neither a volume nor a claim template": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.Template.Spec.Containers[0].VolumeMounts[0].Name = "data" },
			want:   []string{`spec.template.spec.containers[0].volumeMounts[0].name: Not found: "data"`},
		},
		"whenDeleted": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted = "Keep" },
			want:   []string{`spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: "Keep": supported values: "Retain", "Delete"`},
		},
		"whenScaled": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				ss.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled = "Archive"
			},
			want: []string{`spec.persistentVolumeClaimRetentionPolicy.whenScaled: Unsupported value: "Archive": supported values: "Retain", "Delete"`},
		},
		"Delete retention": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				ss.Spec.PersistentVolumeClaimRetentionPolicy = &statefulsetv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: "Delete", WhenScaled: "Delete"}
			},
		},
		"claim template without storage request": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.VolumeClaimTemplates[0].Spec.Resources = nil },
			want:   []string{"spec.volumeClaimTemplates[0].spec.resources[storage]: Required value"},
		},
		"claim template storage 0": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				ss.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests["storage"] = structpb.NewStringValue("0")
			},
			want: []string{`spec.volumeClaimTemplates[0].spec.resources[storage]: Invalid value: "0": must be greater than zero`},
		},
		"claim template without access modes": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.VolumeClaimTemplates[0].Spec.AccessModes = nil },
			want:   []string{"spec.volumeClaimTemplates[0].spec.accessModes: Required value: at least 1 access mode is required"},
		},
		"claim template access mode": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				ss.Spec.VolumeClaimTemplates[0].Spec.AccessModes = []string{"RWO"}
			},
			want: []string{`spec.volumeClaimTemplates[0].spec.accessModes: Unsupported value: "RWO": ` +
				`supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"`},
		},
		"claim template ReadWriteOncePod": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				ss.Spec.VolumeClaimTemplates[0].Spec.AccessModes = []string{"ReadWriteOncePod"}
			},
		},
		"claim template storage class": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				ss.Spec.VolumeClaimTemplates[0].Spec.StorageClassName = proto.String("Fast_SSD")
			},
			want: []string{`spec.volumeClaimTemplates[0].spec.storageClassName: Invalid value: "Fast_SSD": ` + dns1123SubdomainMsg},
		},
		"claim template without a name (its mount is not found)": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.VolumeClaimTemplates[0].Metadata = nil },
			want: []string{"spec.volumeClaimTemplates[0].metadata.name: Required value",
				`spec.template.spec.containers[0].volumeMounts[0].name: Not found: "www"`},
		},
		"claim template name not a DNS label": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				ss.Spec.VolumeClaimTemplates[0].Metadata.Name = "www.data"
				ss.Spec.Template.Spec.Containers[0].VolumeMounts = nil
			},
			want: []string{`spec.volumeClaimTemplates[0].metadata.name: Invalid value: "www.data": must not contain dots`},
		},
		"duplicate claim template": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				ss.Spec.VolumeClaimTemplates = append(ss.Spec.VolumeClaimTemplates, proto.Clone(ss.Spec.VolumeClaimTemplates[0]).(*statefulsetv1.PersistentVolumeClaim))
			},
			want: []string{`spec.volumeClaimTemplates[1].metadata.name: Duplicate value: "www"`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ss := defaultedSet(t)
			if tc.mutate != nil {
				tc.mutate(ss)
			}
			checkErrs(t, validateStatefulSet(ss, nil, true), tc.want)
		})
	}
}

func TestValidateStatefulSetUpdate(t *testing.T) {
	tests := map[string]struct {
		mutate func(ss *statefulsetv1.StatefulSet)
		want   []string
	}{
		"unchanged": {},
		"mutable fields": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				s := ss.Spec
				s.Replicas = proto.Int32(5)
				s.Ordinals = &statefulsetv1.StatefulSetOrdinals{Start: 2}
				s.Template.Spec.Containers[0].Image = "nginx:1.27"
				s.UpdateStrategy.RollingUpdate.Partition = proto.Int32(3)
				s.RevisionHistoryLimit = proto.Int32(2)
				s.PersistentVolumeClaimRetentionPolicy.WhenScaled = "Delete"
				s.MinReadySeconds = 10
				ss.Metadata.Labels = map[string]string{"tier": "web"}
			},
		},
		"strategy to OnDelete": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				ss.Spec.UpdateStrategy = &statefulsetv1.StatefulSetUpdateStrategy{Type: "OnDelete"}
			},
		},
		"a mutable field made invalid": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.Replicas = proto.Int32(-1) },
			want:   []string{"spec.replicas: Invalid value: -1: must be greater than or equal to 0"},
		},
		"selector": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				ss.Spec.Selector.MatchLabels["tier"] = "web"
				ss.Spec.Template.Metadata.Labels["tier"] = "web"
			},
			want: []string{"spec.selector: " + forbiddenMsg},
		},
		"serviceName": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.ServiceName = "nginx-headless" },
			want:   []string{"spec.serviceName: " + forbiddenMsg},
		},
		"volumeClaimTemplates": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				ss.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests["storage"] = structpb.NewStringValue("2Gi")
			},
			want: []string{"spec.volumeClaimTemplates: " + forbiddenMsg},
		},
		"volumeClaimTemplates removed": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				ss.Spec.VolumeClaimTemplates = nil
				ss.Spec.Template.Spec.Containers[0].VolumeMounts = nil
			},
			want: []string{"spec.volumeClaimTemplates: " + forbiddenMsg},
		},
		"podManagementPolicy": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Spec.PodManagementPolicy = "Parallel" },
			want:   []string{"spec.podManagementPolicy: " + forbiddenMsg},
		},
		"several at once, each named": {
			mutate: func(ss *statefulsetv1.StatefulSet) {
				ss.Spec.ServiceName = "other"
				ss.Spec.PodManagementPolicy = "Parallel"
				ss.Spec.Replicas = proto.Int32(1)
			},
			want: []string{"spec.serviceName: " + forbiddenMsg, "spec.podManagementPolicy: " + forbiddenMsg},
		},
		"the name is not checked again": {
			mutate: func(ss *statefulsetv1.StatefulSet) { ss.Metadata.Name = "legacy.name" },
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			old := defaultedSet(t)
			if name == "the name is not checked again" {
				old.Metadata.Name = "legacy.name"
			}
			next := proto.Clone(old).(*statefulsetv1.StatefulSet)
			if tc.mutate != nil {
				tc.mutate(next)
			}
			defaultStatefulSet(next)
			checkErrs(t, validateStatefulSet(next, old, false), tc.want)
		})
	}
}

// loadStatefulSets decodes the StatefulSet documents of a manifest the way the
// gateway does: YAML to JSON, JSON to proto (unknown fields rejected).
func loadStatefulSets(t *testing.T, file string) []*statefulsetv1.StatefulSet {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []*statefulsetv1.StatefulSet
	for _, doc := range bytes.Split(raw, []byte("\n---")) {
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if !bytes.Contains(js, []byte(`"kind":"StatefulSet"`)) {
			continue
		}
		out = append(out, decode(t, string(js), &statefulsetv1.StatefulSet{}))
	}
	return out
}

// TestManifests: the reference StatefulSets are valid once defaulted (the
// server fills the namespace from the request path), defaulting is
// idempotent, and the invalid ones name their field.
func TestManifests(t *testing.T) {
	for _, f := range []string{"statefulset-web.yaml", "statefulset-partition.yaml"} {
		t.Run(f, func(t *testing.T) {
			sets := loadStatefulSets(t, filepath.Join("testdata", f))
			if len(sets) != 1 {
				t.Fatalf("%d StatefulSets", len(sets))
			}
			ss := sets[0]
			if ss.Metadata.Namespace == "" {
				ss.Metadata.Namespace = "default"
			}
			defaultStatefulSet(ss)
			checkErrs(t, validateStatefulSet(ss, nil, true), nil)
			again := proto.Clone(ss).(*statefulsetv1.StatefulSet)
			defaultStatefulSet(again)
			if !proto.Equal(again, ss) {
				t.Errorf("defaulting is not idempotent")
			}
			checkErrs(t, validateStatefulSet(again, ss, false), nil)
		})
	}
	invalid := map[string][]string{
		"statefulset-no-servicename.yaml":     {"spec.serviceName: Required value"},
		"statefulset-partition-negative.yaml": {"spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0"},
	}
	for f, want := range invalid {
		t.Run(f, func(t *testing.T) {
			sets := loadStatefulSets(t, filepath.Join("testdata", "invalid", f))
			if len(sets) != 1 {
				t.Fatalf("%d StatefulSets", len(sets))
			}
			sets[0].Metadata.Namespace = "default"
			defaultStatefulSet(sets[0])
			checkErrs(t, validateStatefulSet(sets[0], nil, true), want)
		})
	}
}

const validClaim = `{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"www-web-0","namespace":"default"},
 "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}},"storageClassName":"standard"}}`

func defaultedClaim(t *testing.T) *statefulsetv1.PersistentVolumeClaim {
	c := decode(t, validClaim, &statefulsetv1.PersistentVolumeClaim{})
	admitStorageClass(c, DefaultStorageClass)
	defaultPVC(c)
	return c
}

func TestValidatePVCCreate(t *testing.T) {
	tests := map[string]struct {
		mutate func(c *statefulsetv1.PersistentVolumeClaim)
		want   []string
	}{
		"valid": {},
		"name is a DNS subdomain": {
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) { c.Metadata.Name = "data.web-0" },
		},
		"bad name": {
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) { c.Metadata.Name = "Data_0" },
			want:   []string{`metadata.name: Invalid value: "Data_0": ` + dns1123SubdomainMsg},
		},
		"no access modes": {
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) { c.Spec.AccessModes = nil },
			want:   []string{"spec.accessModes: Required value: at least 1 access mode is required"},
		},
		"ReadWriteOncePod with another mode": {
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) {
				c.Spec.AccessModes = []string{"ReadWriteOncePod", "ReadWriteOnce"}
			},
			want: []string{"spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes"},
		},
		"no storage request": {
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) { delete(c.Spec.Resources.Requests, "storage") },
			want:   []string{"spec.resources[storage]: Required value"},
		},
		"negative storage request": {
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) {
				c.Spec.Resources.Requests["storage"] = structpb.NewStringValue("-1Gi")
			},
			want: []string{`spec.resources[storage]: Invalid value: "-1Gi": must be greater than zero`},
		},
		"unparsable storage request": {
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) {
				c.Spec.Resources.Requests["storage"] = structpb.NewStringValue("a lot")
			},
			want: []string{`spec.resources[storage]: Invalid value: "a lot": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`},
		},
		"empty storage class means no class": {
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) { c.Spec.StorageClassName = proto.String("") },
		},
		"volumeMode": {
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) { c.Spec.VolumeMode = proto.String("Raw") },
			want:   []string{`spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem"`},
		},
		"selector": {
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) {
				c.Spec.Selector = decode(t, `{"matchExpressions":[{"key":"tier","operator":"In"}]}`, &corev1.LabelSelector{})
			},
			want: []string{"spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"},
		},
		"dataSource": {
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) {
				c.Spec.DataSource = decode(t, `{"kind":"VolumeSnapshot","name":"snap"}`, &structpb.Struct{})
			},
			want: []string{`spec.dataSource: Invalid value: "VolumeSnapshot": must be 'PersistentVolumeClaim' when referencing the default apiGroup`},
		},
		"volumeAttributesClassName": {
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) { c.Spec.VolumeAttributesClassName = proto.String("Gold!") },
			want:   []string{`spec.volumeAttributesClassName: Invalid value: "Gold!": ` + dns1123SubdomainMsg},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := defaultedClaim(t)
			if tc.mutate != nil {
				tc.mutate(c)
			}
			checkErrs(t, validatePVC(c, nil, true), tc.want)
		})
	}
}

func TestValidatePVCUpdate(t *testing.T) {
	const immutable = "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
	storage := func(c *statefulsetv1.PersistentVolumeClaim, q string) {
		c.Spec.Resources.Requests["storage"] = structpb.NewStringValue(q)
	}
	bound := func(c *statefulsetv1.PersistentVolumeClaim, capacity string) {
		c.Spec.VolumeName = "pv-1"
		c.Status = &statefulsetv1.PersistentVolumeClaimStatus{Phase: "Bound", Capacity: map[string]*structpb.Value{"storage": structpb.NewStringValue(capacity)}}
	}
	tests := map[string]struct {
		old    func(c *statefulsetv1.PersistentVolumeClaim)
		mutate func(c *statefulsetv1.PersistentVolumeClaim)
		want   []string
	}{
		"unchanged": {},
		"labels":    {mutate: func(c *statefulsetv1.PersistentVolumeClaim) { c.Metadata.Labels = map[string]string{"a": "b"} }},
		"bound claim grows": {
			old:    func(c *statefulsetv1.PersistentVolumeClaim) { bound(c, "1Gi") },
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) { storage(c, "2Gi") },
		},
		"pending claim grows": {
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) { storage(c, "2Gi") },
			want:   []string{immutable},
		},
		"bound claim shrinks below its capacity": {
			old: func(c *statefulsetv1.PersistentVolumeClaim) { bound(c, "2Gi"); storage(c, "2Gi") },
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) {
				storage(c, "1Gi")
			},
			want: []string{"spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"},
		},
		"bound claim backs off a failed expansion": {
			old:    func(c *statefulsetv1.PersistentVolumeClaim) { bound(c, "1Gi"); storage(c, "10Gi") },
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) { storage(c, "2Gi") },
		},
		"access modes": {
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) { c.Spec.AccessModes = []string{"ReadWriteMany"} },
			want:   []string{immutable},
		},
		"storage class changed": {
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) { c.Spec.StorageClassName = proto.String("fast") },
			want:   []string{immutable},
		},
		"storage class set where none was": {
			old:    func(c *statefulsetv1.PersistentVolumeClaim) { c.Spec.StorageClassName = nil },
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) { c.Spec.StorageClassName = proto.String("fast") },
		},
		"storage class moved from the beta annotation": {
			old: func(c *statefulsetv1.PersistentVolumeClaim) {
				c.Spec.StorageClassName = nil
				c.Metadata.Annotations = map[string]string{betaStorageClassAnnotation: "fast"}
			},
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) {
				c.Spec.StorageClassName = proto.String("fast")
				c.Metadata.Annotations = nil
			},
		},
		"beta annotation changed": {
			old: func(c *statefulsetv1.PersistentVolumeClaim) {
				c.Metadata.Annotations = map[string]string{betaStorageClassAnnotation: "fast"}
			},
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) {
				c.Metadata.Annotations = map[string]string{betaStorageClassAnnotation: "slow"}
			},
			want: []string{`metadata.annotations.volume.beta.kubernetes.io/storage-class: Invalid value: "slow": field is immutable`},
		},
		"volumeName set once": {
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) { c.Spec.VolumeName = "pv-1" },
		},
		"volumeName changed": {
			old:    func(c *statefulsetv1.PersistentVolumeClaim) { c.Spec.VolumeName = "pv-1" },
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) { c.Spec.VolumeName = "pv-2" },
			want:   []string{immutable},
		},
		"volumeMode": {
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) { c.Spec.VolumeMode = proto.String("Block") },
			want:   []string{immutable, `spec.volumeMode: Invalid value: "Block": field is immutable`},
		},
		"volumeAttributesClassName changed": {
			old: func(c *statefulsetv1.PersistentVolumeClaim) { c.Spec.VolumeAttributesClassName = proto.String("gold") },
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) {
				c.Spec.VolumeAttributesClassName = proto.String("silver")
			},
		},
		"volumeAttributesClassName unset": {
			old:    func(c *statefulsetv1.PersistentVolumeClaim) { c.Spec.VolumeAttributesClassName = proto.String("gold") },
			mutate: func(c *statefulsetv1.PersistentVolumeClaim) { c.Spec.VolumeAttributesClassName = nil },
			want:   []string{"spec.volumeAttributesClassName: Forbidden: update from non-nil value to nil is forbidden"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			old := defaultedClaim(t)
			if tc.old != nil {
				tc.old(old)
			}
			next := proto.Clone(old).(*statefulsetv1.PersistentVolumeClaim)
			if tc.mutate != nil {
				tc.mutate(next)
			}
			defaultPVC(next)
			checkErrs(t, validatePVC(next, old, false), tc.want)
		})
	}
}

const validVolume = `{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"pv-1"},
 "spec":{"capacity":{"storage":"5Gi"},"accessModes":["ReadWriteOnce"],"hostPath":{"path":"/mnt/data"}}}`

func defaultedVolume(t *testing.T) *statefulsetv1.PersistentVolume {
	v := decode(t, validVolume, &statefulsetv1.PersistentVolume{})
	defaultPV(v)
	return v
}

func TestValidatePVCreate(t *testing.T) {
	affinity := `{"required":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"In","values":["node-1"]}]}]}}`
	tests := map[string]struct {
		mutate func(v *statefulsetv1.PersistentVolume)
		want   []string
	}{
		"valid": {},
		"bad name": {
			mutate: func(v *statefulsetv1.PersistentVolume) { v.Metadata.Name = "PV_1" },
			want:   []string{`metadata.name: Invalid value: "PV_1": ` + dns1123SubdomainMsg},
		},
		"cluster-scoped": {
			mutate: func(v *statefulsetv1.PersistentVolume) { v.Metadata.Namespace = "default" },
			want:   []string{"metadata.namespace: Forbidden: not allowed on this type"},
		},
		"no volume source": {
			mutate: func(v *statefulsetv1.PersistentVolume) { v.Spec.HostPath = nil },
			want:   []string{"spec: Required value: must specify a volume type"},
		},
		"two volume sources": {
			mutate: func(v *statefulsetv1.PersistentVolume) {
				v.Spec.Nfs = decode(t, `{"server":"nfs.local","path":"/exports"}`, &structpb.Struct{})
			},
			want: []string{"spec.nfs: Forbidden: may not specify more than 1 volume type"},
		},
		"no capacity": {
			mutate: func(v *statefulsetv1.PersistentVolume) { v.Spec.Capacity = nil },
			want:   []string{"spec.capacity: Required value", `spec.capacity: Unsupported value: null: supported values: "storage"`},
		},
		"capacity other than storage": {
			mutate: func(v *statefulsetv1.PersistentVolume) {
				v.Spec.Capacity = map[string]*structpb.Value{"cpu": structpb.NewStringValue("1")}
			},
			want: []string{`spec.capacity: Unsupported value: {"cpu":"1"}: supported values: "storage"`},
		},
		"zero capacity": {
			mutate: func(v *statefulsetv1.PersistentVolume) { v.Spec.Capacity["storage"] = structpb.NewStringValue("0") },
			want:   []string{`spec.capacity[storage]: Invalid value: "0": must be greater than zero`},
		},
		"negative capacity": {
			mutate: func(v *statefulsetv1.PersistentVolume) { v.Spec.Capacity["storage"] = structpb.NewStringValue("-1") },
			want: []string{"spec.capacity[storage]: Invalid value: -1: must be a valid resource quantity",
				`spec.capacity[storage]: Invalid value: "-1": must be greater than zero`},
		},
		"no access modes": {
			mutate: func(v *statefulsetv1.PersistentVolume) { v.Spec.AccessModes = nil },
			want:   []string{"spec.accessModes: Required value"},
		},
		"reclaim policy": {
			mutate: func(v *statefulsetv1.PersistentVolume) { v.Spec.PersistentVolumeReclaimPolicy = "Keep" },
			want:   []string{`spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"`},
		},
		"Recycle of /": {
			mutate: func(v *statefulsetv1.PersistentVolume) {
				v.Spec.PersistentVolumeReclaimPolicy = "Recycle"
				v.Spec.HostPath.Fields["path"] = structpb.NewStringValue("/")
			},
			want: []string{"spec.persistentVolumeReclaimPolicy: Forbidden: may not be 'recycle' for a hostPath mount of '/'"},
		},
		"hostPath without path": {
			mutate: func(v *statefulsetv1.PersistentVolume) { delete(v.Spec.HostPath.Fields, "path") },
			want:   []string{"spec.hostPath.path: Required value"},
		},
		"hostPath with ..": {
			mutate: func(v *statefulsetv1.PersistentVolume) {
				v.Spec.HostPath.Fields["path"] = structpb.NewStringValue("/mnt/../etc")
			},
			want: []string{`spec.hostPath.path: Invalid value: "/mnt/../etc": must not contain '..'`},
		},
		"hostPath type": {
			mutate: func(v *statefulsetv1.PersistentVolume) {
				v.Spec.HostPath.Fields["type"] = structpb.NewStringValue("Folder")
			},
			want: []string{`spec.hostPath.type: Unsupported value: "Folder": supported values: "", "BlockDevice", "CharDevice", ` +
				`"Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"`},
		},
		"nfs with a relative path": {
			mutate: func(v *statefulsetv1.PersistentVolume) {
				v.Spec.HostPath = nil
				v.Spec.Nfs = decode(t, `{"path":"exports"}`, &structpb.Struct{})
			},
			want: []string{"spec.nfs.server: Required value", `spec.nfs.path: Invalid value: "exports": must be an absolute path`},
		},
		"local without node affinity": {
			mutate: func(v *statefulsetv1.PersistentVolume) {
				v.Spec.HostPath = nil
				v.Spec.Local = decode(t, `{"path":"/mnt/disks/ssd1"}`, &structpb.Struct{})
			},
			want: []string{"spec.nodeAffinity: Required value: Local volume requires node affinity"},
		},
		"local with node affinity": {
			mutate: func(v *statefulsetv1.PersistentVolume) {
				v.Spec.HostPath = nil
				v.Spec.Local = decode(t, `{"path":"/mnt/disks/ssd1"}`, &structpb.Struct{})
				v.Spec.NodeAffinity = decode(t, affinity, &structpb.Struct{})
			},
		},
		"node affinity without required terms": {
			mutate: func(v *statefulsetv1.PersistentVolume) { v.Spec.NodeAffinity = &structpb.Struct{} },
			want:   []string{"spec.nodeAffinity.required: Required value: must specify required node constraints"},
		},
		"csi": {
			mutate: func(v *statefulsetv1.PersistentVolume) {
				v.Spec.HostPath = nil
				v.Spec.Csi = decode(t, `{"driver":"hostpath.csi.k8s.io"}`, &structpb.Struct{})
			},
			want: []string{"spec.csi.volumeHandle: Required value"},
		},
		"storage class": {
			mutate: func(v *statefulsetv1.PersistentVolume) { v.Spec.StorageClassName = "Fast_SSD" },
			want:   []string{`spec.storageClassName: Invalid value: "Fast_SSD": ` + dns1123SubdomainMsg},
		},
		"volumeMode": {
			mutate: func(v *statefulsetv1.PersistentVolume) { v.Spec.VolumeMode = proto.String("Raw") },
			want:   []string{`spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem"`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v := defaultedVolume(t)
			if tc.mutate != nil {
				tc.mutate(v)
			}
			checkErrs(t, validatePV(v, nil, true), tc.want)
		})
	}
}

func TestValidatePVUpdate(t *testing.T) {
	tests := map[string]struct {
		mutate func(v *statefulsetv1.PersistentVolume)
		want   []string
	}{
		"unchanged": {},
		"capacity, reclaim policy, claimRef": {
			mutate: func(v *statefulsetv1.PersistentVolume) {
				v.Spec.Capacity["storage"] = structpb.NewStringValue("10Gi")
				v.Spec.PersistentVolumeReclaimPolicy = "Delete"
				v.Spec.ClaimRef = decode(t, `{"namespace":"default","name":"www-web-0"}`, &corev1.ObjectReference{})
			},
		},
		"source": {
			mutate: func(v *statefulsetv1.PersistentVolume) {
				v.Spec.HostPath.Fields["path"] = structpb.NewStringValue("/mnt/other")
			},
			want: []string{"spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation"},
		},
		"volumeMode": {
			mutate: func(v *statefulsetv1.PersistentVolume) { v.Spec.VolumeMode = proto.String("Block") },
			want:   []string{`spec.volumeMode: Invalid value: "Block": field is immutable`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			old := defaultedVolume(t)
			next := proto.Clone(old).(*statefulsetv1.PersistentVolume)
			if tc.mutate != nil {
				tc.mutate(next)
			}
			defaultPV(next)
			checkErrs(t, validatePV(next, old, false), tc.want)
		})
	}
}
