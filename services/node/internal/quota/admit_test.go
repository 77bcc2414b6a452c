package quota

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func rl(kv ...string) map[string]*structpb.Value {
	m := map[string]*structpb.Value{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = structpb.NewStringValue(kv[i+1])
	}
	return m
}

func container(name string, requests, limits map[string]*structpb.Value) *corev1.Container {
	return &corev1.Container{Name: name, Resources: &corev1.ResourceRequirements{Requests: requests, Limits: limits}}
}

func pod(name string, cs ...*corev1.Container) *corev1.Pod {
	return &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: name, Namespace: "ns"}, Spec: &corev1.PodSpec{Containers: cs},
		Status: &corev1.PodStatus{Phase: "Running"}}
}

func rq(name string, hard map[string]*structpb.Value, scopes ...string) *corev1.ResourceQuota {
	return &corev1.ResourceQuota{Metadata: &corev1.ObjectMeta{Name: name, Namespace: "ns"}, Spec: &corev1.ResourceQuotaSpec{Hard: hard, Scopes: scopes}}
}

func TestPodUsage(t *testing.T) {
	now := time.Unix(1000, 0)
	grace := int64(30)
	cases := map[string]struct {
		pod  *corev1.Pod
		want string
	}{
		"requests and limits": {
			pod:  pod("p", container("a", rl("cpu", "250m", "memory", "64Mi"), rl("cpu", "500m")), container("b", rl("cpu", "1"), nil)),
			want: "count/pods=1,cpu=1250m,limits.cpu=500m,memory=64Mi,pods=1,requests.cpu=1250m,requests.memory=64Mi",
		},
		"nothing stated counts the pod": {pod: pod("p", container("a", nil, nil)), want: "count/pods=1,pods=1"},
		"init container larger than the containers": {
			pod: func() *corev1.Pod {
				p := pod("p", container("a", rl("cpu", "100m"), nil))
				p.Spec.InitContainers = []*corev1.Container{container("init", rl("cpu", "2"), nil)}
				return p
			}(),
			want: "count/pods=1,cpu=2,pods=1,requests.cpu=2",
		},
		"terminal pod only counts as an object": {
			pod: func() *corev1.Pod {
				p := pod("p", container("a", rl("cpu", "1"), nil))
				p.Status.Phase = "Succeeded"
				return p
			}(),
			want: "count/pods=1",
		},
		"deleted past its grace period is not charged": {
			pod: func() *corev1.Pod {
				p := pod("p", container("a", rl("cpu", "1"), nil))
				p.Metadata.DeletionTimestamp = timestamppb.New(now.Add(-time.Minute))
				p.Metadata.DeletionGracePeriodSeconds = &grace
				return p
			}(),
			want: "count/pods=1",
		},
		"deleted within its grace period still is": {
			pod: func() *corev1.Pod {
				p := pod("p", container("a", rl("cpu", "1"), nil))
				p.Metadata.DeletionTimestamp = timestamppb.New(now.Add(-10 * time.Second))
				p.Metadata.DeletionGracePeriodSeconds = &grace
				return p
			}(),
			want: "count/pods=1,cpu=1,pods=1,requests.cpu=1",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := PodUsage(tc.pod, now).String(); got != tc.want {
				t.Fatalf("usage %s, want %s", got, tc.want)
			}
		})
	}
}

func TestAdmitPod(t *testing.T) {
	now := time.Unix(1000, 0)
	small := pod("new", container("c", rl("cpu", "500m"), rl("cpu", "1")))
	cases := map[string]struct {
		quotas  []*corev1.ResourceQuota
		stored  []*corev1.Pod
		pod     *corev1.Pod
		wantErr string
		// wantUsed is the first quota's usage after an admitted pod.
		wantUsed string
	}{
		"fits": {
			quotas: []*corev1.ResourceQuota{rq("q", rl("pods", "2", "requests.cpu", "1"))},
			stored: []*corev1.Pod{pod("old", container("c", rl("cpu", "250m"), rl("cpu", "250m")))},
			pod:    small, wantUsed: "pods=2,requests.cpu=750m",
		},
		"the last slot is taken": {
			quotas:  []*corev1.ResourceQuota{rq("pods-only", rl("pods", "1"))},
			stored:  []*corev1.Pod{pod("old", container("c", nil, nil))},
			pod:     small,
			wantErr: "exceeded quota: pods-only, requested: pods=1, used: pods=1, limited: pods=1",
		},
		"only the exceeded resources are named": {
			quotas:  []*corev1.ResourceQuota{rq("compute", rl("pods", "5", "requests.cpu", "1", "limits.cpu", "1"))},
			stored:  []*corev1.Pod{pod("old", container("c", rl("cpu", "250m"), rl("cpu", "500m")))},
			pod:     small,
			wantErr: "exceeded quota: compute, requested: limits.cpu=1, used: limits.cpu=500m, limited: limits.cpu=1",
		},
		"compute quota wants every container to state it": {
			quotas:  []*corev1.ResourceQuota{rq("compute", rl("limits.cpu", "4", "requests.memory", "1Gi"))},
			pod:     pod("new", container("b", rl("cpu", "1"), nil), container("a", nil, rl("cpu", "1"))),
			wantErr: "failed quota: compute: must specify limits.cpu for: b; requests.memory for: a,b",
		},
		"count/pods counts terminal pods too": {
			quotas:  []*corev1.ResourceQuota{rq("objects", rl("count/pods", "1"))},
			stored:  []*corev1.Pod{func() *corev1.Pod { p := pod("done", container("c", nil, nil)); p.Status.Phase = "Failed"; return p }()},
			pod:     small,
			wantErr: "exceeded quota: objects, requested: count/pods=1, used: count/pods=1, limited: count/pods=1",
		},
		"a BestEffort-scoped quota ignores a pod with resources": {
			quotas: []*corev1.ResourceQuota{rq("be", rl("pods", "0"), ScopeBestEffort)},
			pod:    small, wantUsed: "pods=0",
		},
		"a quota on other kinds does not limit pods": {
			quotas: []*corev1.ResourceQuota{rq("cm", rl("configmaps", "0"))},
			pod:    small, wantUsed: "",
		},
		"the second quota refuses": {
			quotas:  []*corev1.ResourceQuota{rq("a", rl("pods", "10")), rq("b", rl("requests.cpu", "100m"))},
			pod:     small,
			wantErr: "exceeded quota: b, requested: requests.cpu=500m, used: requests.cpu=0, limited: requests.cpu=100m",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			n := NewNamespace(nil, tc.quotas, tc.stored, nil, now)
			before := n.Quotas[0].Used.String()
			err := n.Admit(tc.pod)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err %v, want %s", err, tc.wantErr)
				}
				if after := n.Quotas[0].Used.String(); after != before {
					t.Fatalf("a refusal charged the quota: %s -> %s", before, after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := n.Quotas[0].Used.String(); got != tc.wantUsed {
				t.Fatalf("used %s, want %s", got, tc.wantUsed)
			}
		})
	}
}

// TestAdmitPodRacesTheLastSlot: two pods admitted one after the other against
// the same namespace state (as the quota row lock makes them) take one slot each.
func TestAdmitPodRacesTheLastSlot(t *testing.T) {
	n := NewNamespace(nil, []*corev1.ResourceQuota{rq("q", rl("pods", "1"))}, nil, nil, time.Unix(0, 0))
	if err := n.Admit(pod("a", container("c", nil, nil))); err != nil {
		t.Fatal(err)
	}
	if err := n.Admit(pod("b", container("c", nil, nil))); err == nil {
		t.Fatal("the second pod took the slot the first one took")
	}
	st := n.Statuses()
	if len(st) != 1 || st[0].GetStatus().GetUsed()["pods"].GetStringValue() != "1" || st[0].GetStatus().GetHard()["pods"].GetStringValue() != "1" {
		t.Fatalf("statuses %v", st)
	}
	if len(n.Statuses()) != 0 {
		t.Fatal("an unchanged status is written again")
	}
}

func TestValidateResourceQuotaSpec(t *testing.T) {
	cases := map[string]struct {
		spec *corev1.ResourceQuotaSpec
		want string
	}{
		"negative":      {spec: &corev1.ResourceQuotaSpec{Hard: rl("pods", "-1")}, want: `spec.hard[pods]: Invalid value: "-1": must be greater than or equal to 0`},
		"not a count":   {spec: &corev1.ResourceQuotaSpec{Hard: rl("secrets", "1500m")}, want: `spec.hard[secrets]: Invalid value: "1500m": must be an integer`},
		"unknown name":  {spec: &corev1.ResourceQuotaSpec{Hard: rl("widgets", "1")}, want: `spec.hard[widgets]: Invalid value: "widgets": must be a standard resource for quota`},
		"bad scope":     {spec: &corev1.ResourceQuotaSpec{Hard: rl("pods", "1"), Scopes: []string{"Sometimes"}}, want: `spec.scopes[0]: Invalid value: "Sometimes": unsupported scope`},
		"count of kind": {spec: &corev1.ResourceQuotaSpec{Hard: rl("count/deployments.apps", "3", "requests.storage", "10Gi")}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			errs := ValidateResourceQuotaSpec(tc.spec)
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Fatalf("errors %v", errs)
			case tc.want != "" && (len(errs) != 1 || errs[0].Error() != tc.want):
				t.Fatalf("errors %v, want %s", errs, tc.want)
			}
		})
	}
}
