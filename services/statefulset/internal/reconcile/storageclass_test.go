package reconcile

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
	storagev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/storage/v1"
)

// class is a StorageClass; reclaim and mode "" are left unset (Delete, Immediate).
func class(name, reclaim, mode string) *storagev1.StorageClass {
	sc := &storagev1.StorageClass{Metadata: &corev1.ObjectMeta{Name: name, CreationTimestamp: timestamppb.New(t0)},
		Provisioner: "example.com/" + name}
	if reclaim != "" {
		sc.ReclaimPolicy = proto.String(reclaim)
	}
	if mode != "" {
		sc.VolumeBindingMode = proto.String(mode)
	}
	return sc
}

func defaultClass(name string, created time.Time) *storagev1.StorageClass {
	sc := class(name, "", "")
	sc.Metadata.Annotations = map[string]string{AnnDefaultClass: "true"}
	sc.Metadata.CreationTimestamp = timestamppb.New(created)
	return sc
}

func TestDefaultClass(t *testing.T) {
	beta := class("beta", "", "")
	beta.Metadata.Annotations = map[string]string{AnnBetaDefaultClass: "true"}
	notDefault := class("plain", "", "")
	notDefault.Metadata.Annotations = map[string]string{AnnDefaultClass: "false"}
	tests := map[string]struct {
		classes []*storagev1.StorageClass
		want    string
	}{
		"none":                               {want: ""},
		"no class is marked":                 {classes: []*storagev1.StorageClass{class("a", "", ""), notDefault}, want: ""},
		"the marked one":                     {classes: []*storagev1.StorageClass{class("a", "", ""), defaultClass("standard", t0)}, want: "standard"},
		"the beta annotation counts":         {classes: []*storagev1.StorageClass{beta}, want: "beta"},
		"two marked: the newest":             {classes: []*storagev1.StorageClass{defaultClass("old", t0), defaultClass("new", t0.Add(time.Hour))}, want: "new"},
		"two marked at once: the first name": {classes: []*storagev1.StorageClass{defaultClass("b", t0), defaultClass("a", t0)}, want: "a"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := DefaultClass(tc.classes); got != tc.want {
				t.Errorf("DefaultClass = %q, want %q", got, tc.want)
			}
		})
	}
}

func consumer(claim, node, phase string) *corev1.Pod {
	return &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: "p-" + node, Namespace: "default"},
		Spec: &corev1.PodSpec{NodeName: node, Volumes: []*corev1.Volume{{Name: "v",
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}},
		Status: &corev1.PodStatus{Phase: phase}}
}

func TestConsumerNode(t *testing.T) {
	tests := map[string]struct {
		pods []*corev1.Pod
		want string
	}{
		"no pod":                        {want: ""},
		"a pod not scheduled yet":       {pods: []*corev1.Pod{consumer("data", "", "Pending")}, want: ""},
		"a scheduled pod mounting it":   {pods: []*corev1.Pod{consumer("data", "node-2", "Pending")}, want: "node-2"},
		"a pod mounting another claim":  {pods: []*corev1.Pod{consumer("other", "node-1", "Running")}, want: ""},
		"a finished pod does not count": {pods: []*corev1.Pod{consumer("data", "node-1", "Succeeded")}, want: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ConsumerNode(claim("fast", "1Gi"), tc.pods); got != tc.want {
				t.Errorf("ConsumerNode = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestBindClasses: what the claim's class decides (the PV controller's provisionClaim
// and the WaitForFirstConsumer binding mode).
func TestBindClasses(t *testing.T) {
	unset := claim("", "1Gi")
	unset.Spec.StorageClassName = nil
	selected := claim("wait", "1Gi")
	selected.Metadata.Annotations = map[string]string{AnnSelectedNode: "node-1"}
	standard := defaultClass("standard", t0)
	tests := map[string]struct {
		claim    *statefulsetv1.PersistentVolumeClaim
		classes  []*storagev1.StorageClass
		consumer string
		volumes  []*statefulsetv1.PersistentVolume

		wantClass   string // the claim's class when written ("" = not written)
		wantVolume  string // the volume bound ("" = none)
		wantReclaim string // the provisioned volume's reclaim policy
		wantNode    string // the selected-node annotation
		wantEvent   string // reason of the (only or first) event
	}{
		"no class: the default one is given first":                 {claim: unset, classes: []*storagev1.StorageClass{standard}, wantClass: "standard"},
		"no class and no default: waits for a volume made by hand": {claim: unset, wantEvent: "FailedBinding"},
		"a class that does not exist: ProvisioningFailed": {claim: claim("x", "1Gi"), classes: []*storagev1.StorageClass{standard},
			wantEvent: "ProvisioningFailed"},
		"a class that exists: provisioned with its reclaim policy": {claim: claim("keep", "1Gi"),
			classes: []*storagev1.StorageClass{class("keep", "Retain", "")}, wantClass: "keep", wantVolume: "pvc-claim-uid", wantReclaim: "Retain", wantEvent: "ProvisioningSucceeded"},
		"reclaim policy unset: Delete": {claim: claim("fast", "1Gi"), classes: []*storagev1.StorageClass{class("fast", "", "")},
			wantClass: "fast", wantVolume: "pvc-claim-uid", wantReclaim: "Delete", wantEvent: "ProvisioningSucceeded"},
		"WaitForFirstConsumer, no pod scheduled: waits": {claim: claim("wait", "1Gi"),
			classes: []*storagev1.StorageClass{class("wait", "", BindingWaitForFirstConsumer)}, wantEvent: "WaitForFirstConsumer"},
		"WaitForFirstConsumer, a free volume but no pod: waits too": {claim: claim("wait", "1Gi"),
			classes: []*storagev1.StorageClass{class("wait", "", BindingWaitForFirstConsumer)},
			volumes: []*statefulsetv1.PersistentVolume{volume("free", "wait", "5Gi", "ReadWriteOnce")}, wantEvent: "WaitForFirstConsumer"},
		"WaitForFirstConsumer, the pod scheduled: provisioned on its node": {claim: claim("wait", "1Gi"), consumer: "node-2",
			classes: []*storagev1.StorageClass{class("wait", "", BindingWaitForFirstConsumer)}, wantClass: "wait", wantVolume: "pvc-claim-uid",
			wantReclaim: "Delete", wantNode: "node-2", wantEvent: "ProvisioningSucceeded"},
		"WaitForFirstConsumer, a node already selected": {claim: selected,
			classes: []*storagev1.StorageClass{class("wait", "", BindingWaitForFirstConsumer)}, wantClass: "wait", wantVolume: "pvc-claim-uid",
			wantReclaim: "Delete", wantNode: "node-1", wantEvent: "ProvisioningSucceeded"},
		"Immediate: bound without a pod": {claim: claim("now", "1Gi"), classes: []*storagev1.StorageClass{class("now", "", BindingImmediate)},
			wantClass: "now", wantVolume: "pvc-claim-uid", wantReclaim: "Delete", wantEvent: "ProvisioningSucceeded"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b, ok := Bind(tc.claim, tc.volumes, Claim{Classes: tc.classes, ConsumerNode: tc.consumer}, t0)
			if !ok {
				t.Fatal("nothing to do")
			}
			gotClass, gotVolume, gotNode := "", "", ""
			if b.Claim != nil {
				gotClass, gotVolume = b.Claim.GetSpec().GetStorageClassName(), b.Claim.GetSpec().GetVolumeName()
				gotNode = b.Claim.GetMetadata().GetAnnotations()[AnnSelectedNode]
			}
			if gotClass != tc.wantClass || gotVolume != tc.wantVolume || gotNode != tc.wantNode {
				t.Errorf("claim class %q volume %q node %q, want %q %q %q", gotClass, gotVolume, gotNode, tc.wantClass, tc.wantVolume, tc.wantNode)
			}
			if tc.wantReclaim != "" && b.CreateVolume.GetSpec().GetPersistentVolumeReclaimPolicy() != tc.wantReclaim {
				t.Errorf("provisioned %v, want reclaim policy %s", b.CreateVolume, tc.wantReclaim)
			}
			if b.CreateVolume != nil && b.CreateVolume.GetMetadata().GetAnnotations()[AnnProvisionedBy] != "example.com/"+tc.wantClass {
				t.Errorf("provisioned-by %v", b.CreateVolume.GetMetadata().GetAnnotations())
			}
			gotEvent := ""
			if len(b.Events) > 0 {
				gotEvent = b.Events[0].Reason
			}
			if gotEvent != tc.wantEvent {
				t.Errorf("event %v, want %s", b.Events, tc.wantEvent)
			}
		})
	}
	// The message Kubernetes writes for a missing class.
	b, _ := Bind(claim("x", "1Gi"), nil, Claim{}, t0)
	if want := `storageclass.storage.k8s.io "x" not found`; len(b.Events) != 1 || b.Events[0].Message != want || b.Events[0].Type != "Warning" {
		t.Errorf("events %v, want Warning %s", b.Events, want)
	}
}

// TestClaimWaitsForConsumer: the binder looks for a claim's consumer (the pods of its
// namespace) only when its class binds at the first consumer.
func TestClaimWaitsForConsumer(t *testing.T) {
	unset := claim("", "1Gi")
	unset.Spec.StorageClassName = nil
	classes := []*storagev1.StorageClass{class("wait", "", BindingWaitForFirstConsumer), class("now", "", BindingImmediate), defaultClass("standard", t0)}
	for _, tc := range []struct {
		claim *statefulsetv1.PersistentVolumeClaim
		want  bool
	}{
		{claim("wait", "1Gi"), true},
		{claim("now", "1Gi"), false},
		{claim("standard", "1Gi"), false},
		{claim("missing", "1Gi"), false},
		{unset, false},
	} {
		if got := ClaimWaitsForConsumer(tc.claim, classes); got != tc.want {
			t.Errorf("ClaimWaitsForConsumer(class %q) = %v, want %v", tc.claim.GetSpec().GetStorageClassName(), got, tc.want)
		}
	}
}
