package server

import (
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// specJSON renders the defaulted fields of a spec that the table compares
// (the pod template's defaults are shared/defaults' and tested there).
func specJSON(t *testing.T, s *statefulsetv1.StatefulSetSpec) string {
	t.Helper()
	s = proto.Clone(s).(*statefulsetv1.StatefulSetSpec)
	s.Selector, s.Template, s.ServiceName = nil, nil, ""
	return canonJSON(t, s)
}

// canonJSON is a message's Kubernetes JSON in canonical form.
func canonJSON(t *testing.T, m proto.Message) string {
	t.Helper()
	b, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return canon(t, b)
}

// canon re-encodes JSON compactly with sorted keys (protojson's spacing is
// not stable).
func canon(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestDefaultStatefulSet(t *testing.T) {
	const retain = `"persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Retain","whenScaled":"Retain"}`
	tests := map[string]struct {
		spec string // the spec as sent
		want string // the defaulted spec without selector, template and serviceName
	}{
		"empty": {
			spec: `{}`,
			want: `{"replicas":1,"podManagementPolicy":"OrderedReady",` +
				`"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":0,"maxUnavailable":1}},` +
				`"revisionHistoryLimit":10,` + retain + `}`,
		},
		"set values are kept": {
			spec: `{"replicas":0,"podManagementPolicy":"Parallel","revisionHistoryLimit":0,` +
				`"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":3,"maxUnavailable":"50%"}},` +
				`"persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Delete","whenScaled":"Delete"}}`,
			want: `{"replicas":0,"podManagementPolicy":"Parallel",` +
				`"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":3,"maxUnavailable":"50%"}},` +
				`"revisionHistoryLimit":0,"persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Delete","whenScaled":"Delete"}}`,
		},
		"partial rollingUpdate": {
			spec: `{"updateStrategy":{"rollingUpdate":{"partition":2}}}`,
			want: `{"replicas":1,"podManagementPolicy":"OrderedReady",` +
				`"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":2,"maxUnavailable":1}},` +
				`"revisionHistoryLimit":10,` + retain + `}`,
		},
		"RollingUpdate named without rollingUpdate stays so (as in Kubernetes)": {
			spec: `{"updateStrategy":{"type":"RollingUpdate"}}`,
			want: `{"replicas":1,"podManagementPolicy":"OrderedReady","updateStrategy":{"type":"RollingUpdate"},` +
				`"revisionHistoryLimit":10,` + retain + `}`,
		},
		"OnDelete gets no rollingUpdate": {
			spec: `{"updateStrategy":{"type":"OnDelete"}}`,
			want: `{"replicas":1,"podManagementPolicy":"OrderedReady","updateStrategy":{"type":"OnDelete"},` +
				`"revisionHistoryLimit":10,` + retain + `}`,
		},
		"half a retention policy": {
			spec: `{"persistentVolumeClaimRetentionPolicy":{"whenScaled":"Delete"}}`,
			want: `{"replicas":1,"podManagementPolicy":"OrderedReady",` +
				`"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":0,"maxUnavailable":1}},` +
				`"revisionHistoryLimit":10,"persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Retain","whenScaled":"Delete"}}`,
		},
		"claim templates as kube-apiserver shows them": {
			spec: `{"volumeClaimTemplates":[{"metadata":{"name":"www"},` +
				`"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":1073741824}}}}]}`,
			want: `{"replicas":1,"volumeClaimTemplates":[{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"www"},` +
				`"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1073741824"}},"volumeMode":"Filesystem"},` +
				`"status":{"phase":"Pending"}}],"podManagementPolicy":"OrderedReady",` +
				`"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":0,"maxUnavailable":1}},` +
				`"revisionHistoryLimit":10,` + retain + `}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ss := &statefulsetv1.StatefulSet{Spec: decode(t, tc.spec, &statefulsetv1.StatefulSetSpec{})}
			defaultStatefulSet(ss)
			if got, want := specJSON(t, ss.Spec), canon(t, []byte(tc.want)); got != want {
				t.Errorf("defaulted spec:\n  %s\nwant:\n  %s", got, want)
			}
			if ss.Spec.GetTemplate().GetSpec().GetRestartPolicy() != "Always" || ss.Spec.GetTemplate().GetSpec().GetDnsPolicy() != "ClusterFirst" {
				t.Errorf("pod template not defaulted: %v", ss.Spec.GetTemplate())
			}
			again := proto.Clone(ss).(*statefulsetv1.StatefulSet)
			defaultStatefulSet(again)
			if !proto.Equal(again, ss) {
				t.Errorf("defaulting is not idempotent")
			}
		})
	}
}

func TestDefaultStatefulSetNilSpec(t *testing.T) {
	ss := &statefulsetv1.StatefulSet{}
	defaultStatefulSet(ss)
	if ss.Spec.GetReplicas() != 1 || ss.Spec.GetTemplate().GetSpec() == nil {
		t.Fatalf("spec: %v", ss.Spec)
	}
}

func TestDefaultPVC(t *testing.T) {
	tests := map[string]struct {
		claim, want string
	}{
		"empty": {
			claim: `{}`,
			want:  `{"spec":{"volumeMode":"Filesystem"},"status":{"phase":"Pending"}}`,
		},
		"set values are kept; quantities canonical (a number stays decimal)": {
			claim: `{"spec":{"storageClassName":"fast","volumeMode":"Block","resources":{"requests":{"storage":"1024Mi"},"limits":{"storage":2147483648}}},"status":{"phase":"Bound"}}`,
			want:  `{"spec":{"resources":{"limits":{"storage":"2147483648"},"requests":{"storage":"1Gi"}},"storageClassName":"fast","volumeMode":"Block"},"status":{"phase":"Bound"}}`,
		},
		"no storage class is given one only by admission": {
			claim: `{"spec":{"accessModes":["ReadWriteOnce"]}}`,
			want:  `{"spec":{"accessModes":["ReadWriteOnce"],"volumeMode":"Filesystem"},"status":{"phase":"Pending"}}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := decode(t, tc.claim, &statefulsetv1.PersistentVolumeClaim{})
			defaultPVC(c)
			if got, want := canonJSON(t, c), canon(t, []byte(tc.want)); got != want {
				t.Errorf("defaulted claim:\n  %s\nwant:\n  %s", got, want)
			}
		})
	}
}

func TestAdmitStorageClass(t *testing.T) {
	tests := map[string]struct {
		claim     string
		noDefault bool
		want      *string
	}{
		"unset gets the default":                   {claim: `{"spec":{}}`, want: proto.String(DefaultStorageClass)},
		"no spec gets the default":                 {claim: `{}`, want: proto.String(DefaultStorageClass)},
		"a class is kept":                          {claim: `{"spec":{"storageClassName":"fast"}}`, want: proto.String("fast")},
		"an explicit empty class (no class) stays": {claim: `{"spec":{"storageClassName":""}}`, want: proto.String("")},
		"no default class: stays unset":            {claim: `{"spec":{}}`, noDefault: true},
		"the beta annotation names a class": {
			claim: `{"metadata":{"annotations":{"volume.beta.kubernetes.io/storage-class":"fast"}},"spec":{}}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := decode(t, tc.claim, &statefulsetv1.PersistentVolumeClaim{})
			def := DefaultStorageClass
			if tc.noDefault {
				def = ""
			}
			admitStorageClass(c, def)
			got := c.GetSpec().StorageClassName
			if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
				t.Errorf("storageClassName = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDefaultPV(t *testing.T) {
	tests := map[string]struct {
		volume, want string
	}{
		"hand-made volume": {
			volume: `{"spec":{"capacity":{"storage":"5120Mi"},"accessModes":["ReadWriteOnce"],"hostPath":{"path":"/mnt/data"}}}`,
			want: `{"spec":{"accessModes":["ReadWriteOnce"],"capacity":{"storage":"5Gi"},"hostPath":{"path":"/mnt/data","type":""},` +
				`"persistentVolumeReclaimPolicy":"Retain","volumeMode":"Filesystem"},"status":{"phase":"Pending"}}`,
		},
		"set values are kept": {
			volume: `{"spec":{"persistentVolumeReclaimPolicy":"Delete","volumeMode":"Block","hostPath":{"path":"/dev/sdb","type":"BlockDevice"}},"status":{"phase":"Bound"}}`,
			want: `{"spec":{"hostPath":{"path":"/dev/sdb","type":"BlockDevice"},"persistentVolumeReclaimPolicy":"Delete","volumeMode":"Block"},` +
				`"status":{"phase":"Bound"}}`,
		},
		"empty": {
			volume: `{}`,
			want:   `{"spec":{"persistentVolumeReclaimPolicy":"Retain","volumeMode":"Filesystem"},"status":{"phase":"Pending"}}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v := decode(t, tc.volume, &statefulsetv1.PersistentVolume{})
			defaultPV(v)
			if got, want := canonJSON(t, v), canon(t, []byte(tc.want)); got != want {
				t.Errorf("defaulted volume:\n  %s\nwant:\n  %s", got, want)
			}
			again := proto.Clone(v).(*statefulsetv1.PersistentVolume)
			defaultPV(again)
			if !proto.Equal(again, v) {
				t.Errorf("defaulting is not idempotent")
			}
		})
	}
}
