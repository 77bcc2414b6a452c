package reconcile

import (
	"testing"

	"google.golang.org/protobuf/proto"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

func TestRolloutStatus(t *testing.T) {
	tests := map[string]struct {
		generation, observed      int64
		replicas                  *int32
		updated, total, available int32
		progressingReason         string
		annotationRevision        string
		revision                  int64
		wantMsg                   string
		wantDone                  bool
		wantErr                   string
	}{
		"spec not observed": {
			generation: 2, observed: 1, replicas: proto.Int32(3),
			wantMsg: "Waiting for deployment spec update to be observed...\n",
		},
		"new replicas being updated": {
			generation: 1, observed: 1, replicas: proto.Int32(3), updated: 1, total: 3,
			wantMsg: "Waiting for deployment \"nginx\" rollout to finish: 1 out of 3 new replicas have been updated...\n",
		},
		"old replicas pending termination": {
			generation: 1, observed: 1, replicas: proto.Int32(3), updated: 3, total: 4, available: 3,
			wantMsg: "Waiting for deployment \"nginx\" rollout to finish: 1 old replicas are pending termination...\n",
		},
		"updated replicas not yet available": {
			generation: 1, observed: 1, replicas: proto.Int32(3), updated: 3, total: 3, available: 2,
			wantMsg: "Waiting for deployment \"nginx\" rollout to finish: 2 of 3 updated replicas are available...\n",
		},
		"done": {
			generation: 1, observed: 1, replicas: proto.Int32(3), updated: 3, total: 3, available: 3,
			wantMsg: "deployment \"nginx\" successfully rolled out\n", wantDone: true,
		},
		"progress deadline exceeded": {
			generation: 1, observed: 1, replicas: proto.Int32(3), updated: 1, total: 4, available: 3,
			progressingReason: TimedOutReason,
			wantErr:           "deployment \"nginx\" exceeded its progress deadline",
		},
		"revision matches": {
			generation: 1, observed: 1, replicas: proto.Int32(1), updated: 1, total: 1, available: 1,
			annotationRevision: "4", revision: 4,
			wantMsg: "deployment \"nginx\" successfully rolled out\n", wantDone: true,
		},
		"revision differs": {
			generation: 1, observed: 1, replicas: proto.Int32(1),
			annotationRevision: "4", revision: 3,
			wantErr: "desired revision (3) is different from the running revision (4)",
		},
		"revision unparseable": {
			generation: 1, observed: 1, annotationRevision: "x", revision: 3,
			wantErr: "cannot get the revision of deployment \"nginx\": strconv.ParseInt: parsing \"x\": invalid syntax",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := &deploymentv1.Deployment{
				Metadata: &corev1.ObjectMeta{Name: "nginx", Generation: tc.generation},
				Spec:     &deploymentv1.DeploymentSpec{Replicas: tc.replicas},
				Status: &deploymentv1.DeploymentStatus{
					ObservedGeneration: tc.observed,
					Replicas:           tc.total,
					UpdatedReplicas:    tc.updated,
					AvailableReplicas:  tc.available,
				},
			}
			if tc.progressingReason != "" {
				d.Status.Conditions = []*corev1.Condition{{Type: DeploymentProgressing, Status: ConditionFalse, Reason: tc.progressingReason}}
			}
			if tc.annotationRevision != "" {
				d.Metadata.Annotations = map[string]string{RevisionAnnotation: tc.annotationRevision}
			}
			msg, done, err := RolloutStatus(d, tc.revision)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || msg != tc.wantMsg || done != tc.wantDone {
				t.Fatalf("got %q %v %v, want %q %v", msg, done, err, tc.wantMsg, tc.wantDone)
			}
		})
	}
}
