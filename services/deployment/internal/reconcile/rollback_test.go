package reconcile

import (
	"maps"
	"testing"

	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// depHistoryFixture: revisions 1 (v1), 3 (v3, reused from 2) and 4 (v4,
// current), each with a change-cause.
func depHistoryFixture() (*deploymentv1.Deployment, []*deploymentv1.ReplicaSet) {
	d := depNew(depSpec{replicas: 2, image: "v4", annotations: map[string]string{
		RevisionAnnotation:          "4",
		ChangeCauseAnnotation:       "set image v4",
		LastAppliedConfigAnnotation: "{}",
		"owner":                     "web",
	}})
	r1 := depRS(d, "v1", "h1", 1, 0, 3)
	r1.Metadata.Annotations[ChangeCauseAnnotation] = "create"
	r3 := depRS(d, "v3", "h3", 3, 0, 3)
	r3.Metadata.Annotations[ChangeCauseAnnotation] = "set image v3"
	r3.Metadata.Annotations[RevisionHistoryAnnotation] = "2"
	r4 := depRS(d, "v4", "h4", 4, 2, 3)
	r4.Metadata.Annotations[ChangeCauseAnnotation] = "set image v4"
	return d, []*deploymentv1.ReplicaSet{r4, r1, r3}
}

func TestHistory(t *testing.T) {
	d, rss := depHistoryFixture()
	h := History(d, rss)
	want := []struct {
		rev   int64
		cause string
		rs    string
	}{{1, "create", "nginx-h1"}, {3, "set image v3", "nginx-h3"}, {4, "set image v4", "nginx-h4"}}
	if len(h) != len(want) {
		t.Fatalf("history %v", h)
	}
	for i, w := range want {
		if h[i].GetRevision() != w.rev || h[i].GetChangeCause() != w.cause || h[i].GetReplicaSetName() != w.rs {
			t.Fatalf("entry %d = %v, want %v", i, h[i], w)
		}
		if _, ok := h[i].GetTemplate().GetMetadata().GetLabels()[DefaultDeploymentUniqueLabelKey]; ok {
			t.Fatalf("entry %d template keeps pod-template-hash", i)
		}
	}
	if _, ok := rss[0].GetSpec().GetTemplate().GetMetadata().GetLabels()[DefaultDeploymentUniqueLabelKey]; !ok {
		t.Fatal("History modified its input")
	}
	if r, err := HistoryRevision(d, rss, 3); err != nil || r.GetTemplate().GetSpec().GetContainers()[0].GetImage() != "v3" {
		t.Fatalf("HistoryRevision(3) = %v, %v", r, err)
	}
	if _, err := HistoryRevision(d, rss, 2); err == nil || err.Error() != "unable to find the specified revision" {
		t.Fatalf("HistoryRevision(2) err %v", err)
	}
	if h := History(d, nil); len(h) != 0 {
		t.Fatalf("empty history %v", h)
	}
}

func TestPlanRollback(t *testing.T) {
	tests := map[string]struct {
		toRevision  int64
		mutate      func(d *deploymentv1.Deployment, rss []*deploymentv1.ReplicaSet) []*deploymentv1.ReplicaSet
		wantImage   string
		wantSkipped string
		wantErr     string
	}{
		"previous revision": {toRevision: 0, wantImage: "v3"},
		"explicit revision": {toRevision: 1, wantImage: "v1"},
		"current revision is skipped": {
			toRevision: 4, wantImage: "v4",
			wantSkipped: "skipped rollback (current template already matches revision 4)",
		},
		"missing revision":  {toRevision: 2, wantErr: "unable to find specified revision 2 in history"},
		"negative revision": {toRevision: -1, wantErr: "unable to find specified revision -1 in history"},
		"no history": {
			toRevision: 0,
			mutate: func(_ *deploymentv1.Deployment, rss []*deploymentv1.ReplicaSet) []*deploymentv1.ReplicaSet {
				return rss[:1]
			},
			wantErr: `no rollout history found for deployment "nginx"`,
		},
		"paused": {
			toRevision: 0,
			mutate: func(d *deploymentv1.Deployment, rss []*deploymentv1.ReplicaSet) []*deploymentv1.ReplicaSet {
				d.Spec.Paused = true
				return rss
			},
			wantErr: "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume deployment/nginx' and try again",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d, rss := depHistoryFixture()
			if tc.mutate != nil {
				rss = tc.mutate(d, rss)
			}
			rb, err := PlanRollback(d, rss, tc.toRevision)
			tmpl, tmplErr := RollbackTemplate(d, rss, tc.toRevision)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr || tmplErr == nil || tmplErr.Error() != tc.wantErr {
					t.Fatalf("err %v / %v, want %q", err, tmplErr, tc.wantErr)
				}
				return
			}
			if err != nil || tmplErr != nil {
				t.Fatalf("err %v / %v", err, tmplErr)
			}
			if got := tmpl.GetSpec().GetContainers()[0].GetImage(); got != tc.wantImage {
				t.Fatalf("template image %q, want %q", got, tc.wantImage)
			}
			if _, ok := tmpl.GetMetadata().GetLabels()[DefaultDeploymentUniqueLabelKey]; ok {
				t.Fatal("template keeps pod-template-hash")
			}
			if tc.wantSkipped != "" {
				if !rb.Skipped || rb.Message != tc.wantSkipped {
					t.Fatalf("rollback %+v", rb)
				}
				return
			}
			if rb.Skipped || rb.Message != "rolled back" {
				t.Fatalf("rollback %+v", rb)
			}
			// Deployment keeps its revision and apply annotations, takes the rest
			// from the ReplicaSet, and loses annotations the ReplicaSet lacks.
			want := map[string]string{
				RevisionAnnotation:          "4",
				LastAppliedConfigAnnotation: "{}",
				ChangeCauseAnnotation:       map[string]string{"v3": "set image v3", "v1": "create"}[tc.wantImage],
			}
			if !maps.Equal(rb.Annotations, want) {
				t.Fatalf("annotations %v, want %v", rb.Annotations, want)
			}
		})
	}
}
