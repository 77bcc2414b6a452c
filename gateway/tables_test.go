package gateway

import (
	"fmt"
	"testing"
	"time"
)

func TestTables(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	created := now.Add(-90 * time.Second).Format(time.RFC3339)
	cases := map[string]struct {
		doc  string
		want string
	}{
		"deployment list": {
			doc:  `{"kind":"DeploymentList","metadata":{"resourceVersion":"7"},"items":[{"kind":"Deployment","metadata":{"name":"nginx","creationTimestamp":"` + created + `"},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"nginx"}},"template":{"spec":{"containers":[{"name":"c","image":"nginx:1.25"}]}}},"status":{"readyReplicas":2,"updatedReplicas":3,"availableReplicas":2}}]}`,
			want: "[nginx 2/3 3 2 90s c nginx:1.25 app=nginx]",
		},
		"crash-looping pod": {
			doc:  `{"kind":"Pod","metadata":{"name":"p","creationTimestamp":"` + created + `"},"spec":{"nodeName":"node-1","containers":[{"name":"c"}]},"status":{"phase":"Running","podIP":"10.244.1.2","containerStatuses":[{"ready":false,"restartCount":3,"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}}`,
			want: "[p 0/1 CrashLoopBackOff 3 90s 10.244.1.2 node-1 <none> <none>]",
		},
		"terminating pod": {
			doc:  `{"kind":"Pod","metadata":{"name":"p","creationTimestamp":"` + created + `","deletionTimestamp":"` + created + `"},"spec":{"containers":[{"name":"c"}]},"status":{"phase":"Running"}}`,
			want: "[p 0/1 Terminating 0 90s <none> <none> <none> <none>]",
		},
		"running pod": {
			doc:  `{"kind":"Pod","metadata":{"name":"p","creationTimestamp":"` + created + `"},"spec":{"nodeName":"node-1","containers":[{"name":"c"}]},"status":{"phase":"Running","podIP":"10.244.1.2","containerStatuses":[{"ready":true,"restartCount":0,"state":{"running":{}}}]}}`,
			want: "[p 1/1 Running 0 90s 10.244.1.2 node-1 <none> <none>]",
		},
		"terminating pod whose container stopped": {
			doc:  `{"kind":"Pod","metadata":{"name":"p","creationTimestamp":"` + created + `","deletionTimestamp":"` + created + `"},"spec":{"containers":[{"name":"c"}]},"status":{"phase":"Running","containerStatuses":[{"ready":true,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}}`,
			want: "[p 0/1 Terminating 0 90s <none> <none> <none> <none>]",
		},
		"deleted pod that succeeded": {
			doc:  `{"kind":"Pod","metadata":{"name":"p","creationTimestamp":"` + created + `","deletionTimestamp":"` + created + `"},"spec":{"containers":[{"name":"c"}]},"status":{"phase":"Succeeded","containerStatuses":[{"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}}`,
			want: "[p 0/1 Completed 0 90s <none> <none> <none> <none>]",
		},
		"container killed by a signal": {
			doc:  `{"kind":"Pod","metadata":{"name":"p","creationTimestamp":"` + created + `"},"spec":{"containers":[{"name":"c"}]},"status":{"phase":"Failed","containerStatuses":[{"state":{"terminated":{"signal":9}}}]}}`,
			want: "[p 0/1 Signal:9 0 90s <none> <none> <none> <none>]",
		},
		"cordoned control-plane node": {
			doc:  `{"kind":"Node","metadata":{"name":"cp","creationTimestamp":"` + created + `","labels":{"node-role.kubernetes.io/control-plane":""}},"spec":{"unschedulable":true},"status":{"conditions":[{"type":"Ready","status":"True"}],"nodeInfo":{"kubeletVersion":"v1.33.0"}}}`,
			want: "[cp Ready,SchedulingDisabled control-plane 90s v1.33.0 <none> <none> <unknown> <unknown> <unknown>]",
		},
		"node -o wide": {
			doc:  `{"kind":"Node","metadata":{"name":"n","creationTimestamp":"` + created + `"},"status":{"conditions":[{"type":"Ready","status":"False"}],"addresses":[{"type":"InternalIP","address":"172.18.0.3"},{"type":"ExternalIP","address":"203.0.113.7"}],"nodeInfo":{"kubeletVersion":"v1.33.0","osImage":"Debian GNU/Linux 12 (bookworm)","kernelVersion":"6.8.0","containerRuntimeVersion":"containerd://1.7.24"}}}`,
			want: "[n NotReady <none> 90s v1.33.0 172.18.0.3 203.0.113.7 Debian GNU/Linux 12 (bookworm) 6.8.0 containerd://1.7.24]",
		},
		"component status": {
			doc:  `{"kind":"ComponentStatusList","items":[{"kind":"ComponentStatus","metadata":{"name":"node"},"conditions":[{"type":"Healthy","status":"False","error":"connection refused"}]}]}`,
			want: "[node Unhealthy  connection refused]",
		},
		"namespace": {
			doc:  `{"kind":"Namespace","metadata":{"name":"default","creationTimestamp":"` + created + `"},"status":{"phase":"Active"}}`,
			want: "[default Active 90s]",
		},
		"other kind": {
			doc:  `{"kind":"PriorityClass","metadata":{"name":"default","creationTimestamp":"` + created + `"}}`,
			want: "[default 90s]",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			doc, err := decodeJSON([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			tb := toTable(doc, now)
			if tb.Kind != "Table" || tb.APIVersion != "meta.k8s.io/v1" || len(tb.Rows) != 1 {
				t.Fatalf("table %+v", tb)
			}
			if got := fmt.Sprint(tb.Rows[0].Cells); got != tc.want {
				t.Fatalf("cells %s, want %s", got, tc.want)
			}
			if len(tb.Rows[0].Cells) != len(tb.ColumnDefinitions) {
				t.Fatalf("%d cells for %d columns", len(tb.Rows[0].Cells), len(tb.ColumnDefinitions))
			}
		})
	}
	if !wantsTable([]string{"application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}) || wantsTable([]string{"application/json"}) {
		t.Fatal("wantsTable")
	}
}
