package crud_test

import (
	"slices"
	"testing"

	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
)

// TestConvertFieldSelector: each kind takes kube-apiserver's field labels (its
// registered conversion, or metadata.name and metadata.namespace), rewrites pods'
// legacy spec.host, and answers any other label with kube-apiserver's 400 text.
func TestConvertFieldSelector(t *testing.T) {
	pods := apierr.GroupResource{Resource: "pods"}
	cases := map[string]struct {
		gr       apierr.GroupResource
		selector string
		want     string // the converted selector (in any order)
		err      string // the 400's message
	}{
		"pod node":        {gr: pods, selector: "spec.nodeName=node-1", want: "spec.nodeName=node-1"},
		"pod legacy host": {gr: pods, selector: "spec.host=node-1", want: "spec.nodeName=node-1"},
		"pod every label": {gr: pods,
			selector: "metadata.name=a,metadata.namespace=b,spec.restartPolicy=Always,spec.schedulerName=s,spec.serviceAccountName=sa,spec.hostNetwork=false,status.phase=Running,status.podIP=1.2.3.4,status.podIPs=1.2.3.4,status.nominatedNodeName=n",
			want:     "metadata.name=a,metadata.namespace=b,spec.restartPolicy=Always,spec.schedulerName=s,spec.serviceAccountName=sa,spec.hostNetwork=false,status.phase=Running,status.podIP=1.2.3.4,status.podIPs=1.2.3.4,status.nominatedNodeName=n"},
		"pod unknown":          {gr: pods, selector: "status.phase=Running,spec.nodename=x", err: "field label not supported: spec.nodename"},
		"pod not equal":        {gr: pods, selector: "status.phase!=Running", want: "status.phase!=Running"},
		"event involved kind":  {gr: apierr.GroupResource{Resource: "events"}, selector: "involvedObject.kind=Pod,reason=Started,source=kubelet,type=Normal,reportingComponent=x", want: "involvedObject.kind=Pod,reason=Started,source=kubelet,type=Normal,reportingComponent=x"},
		"event unknown":        {gr: apierr.GroupResource{Resource: "events"}, selector: "message=x", err: "field label not supported: message"},
		"secret type":          {gr: apierr.GroupResource{Resource: "secrets"}, selector: "type=Opaque", want: "type=Opaque"},
		"namespace phase":      {gr: apierr.GroupResource{Resource: "namespaces"}, selector: "status.phase=Active", want: "status.phase=Active"},
		"namespace has no ns":  {gr: apierr.GroupResource{Resource: "namespaces"}, selector: "metadata.namespace=x", err: "field label not supported: metadata.namespace"},
		"node unschedulable":   {gr: apierr.GroupResource{Resource: "nodes"}, selector: "spec.unschedulable=true,metadata.name=n", want: "spec.unschedulable=true,metadata.name=n"},
		"node has no ns":       {gr: apierr.GroupResource{Resource: "nodes"}, selector: "metadata.namespace=x", err: "field label not supported: metadata.namespace"},
		"service type":         {gr: apierr.GroupResource{Resource: "services"}, selector: "spec.type=ClusterIP,spec.clusterIP=10.96.0.1", want: "spec.type=ClusterIP,spec.clusterIP=10.96.0.1"},
		"rc replicas":          {gr: apierr.GroupResource{Resource: "replicationcontrollers"}, selector: "status.replicas=3", want: "status.replicas=3"},
		"job successful":       {gr: apierr.GroupResource{Group: "batch", Resource: "jobs"}, selector: "status.successful=1", want: "status.successful=1"},
		"job unknown":          {gr: apierr.GroupResource{Group: "batch", Resource: "jobs"}, selector: "status.failed=1", err: `field label "status.failed" not supported for batchv1.Job`},
		"replicaset (apps/v1)": {gr: apierr.GroupResource{Group: "apps", Resource: "replicasets"}, selector: "status.replicas=1", err: `"status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"`},
		"deployment name":      {gr: apierr.GroupResource{Group: "apps", Resource: "deployments"}, selector: "metadata.name=web,metadata.namespace=default", want: "metadata.name=web,metadata.namespace=default"},
		"configmap unknown":    {gr: apierr.GroupResource{Resource: "configmaps"}, selector: "data.x=y", err: `"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"`},
		"empty selects all":    {gr: pods, selector: "", want: ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			sel, err := fields.ParseSelector(c.selector)
			if err != nil {
				t.Fatal(err)
			}
			got, err := crud.ConvertFieldSelector(c.gr, sel)
			if c.err != "" {
				if !apierr.IsBadRequest(err) || status.Convert(err).Message() != c.err {
					t.Fatalf("error %v, want a 400 %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, _ := fields.ParseSelector(c.want) // sorted as the converted one
			if got.String() != want.String() {
				t.Errorf("converted %q, want %q", got.String(), want.String())
			}
		})
	}
}

// TestFieldLabelsOf: the labels each kind takes, metadata first.
func TestFieldLabelsOf(t *testing.T) {
	got := crud.FieldLabelsOf(apierr.GroupResource{Resource: "namespaces"})
	if want := []string{"metadata.name", "status.phase"}; !slices.Equal(got, want) {
		t.Errorf("namespaces: %v, want %v", got, want)
	}
	got = crud.FieldLabelsOf(apierr.GroupResource{Group: "coordination.k8s.io", Resource: "leases"})
	if want := []string{"metadata.name", "metadata.namespace"}; !slices.Equal(got, want) {
		t.Errorf("leases: %v, want %v", got, want)
	}
}
