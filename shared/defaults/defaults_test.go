package defaults

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func mustTemplate(t *testing.T, js string) *corev1.PodTemplateSpec {
	t.Helper()
	out := &corev1.PodTemplateSpec{}
	if err := protojson.Unmarshal([]byte(js), out); err != nil {
		t.Fatalf("unmarshal %s: %v", js, err)
	}
	return out
}

func mustPod(t *testing.T, js string) *corev1.Pod {
	t.Helper()
	out := &corev1.Pod{}
	if err := protojson.Unmarshal([]byte(js), out); err != nil {
		t.Fatalf("unmarshal %s: %v", js, err)
	}
	return out
}

func TestDefaultPodTemplateSpec(t *testing.T) {
	tests := map[string]struct {
		in   string
		want string
	}{
		"minimal nginx": {
			in: `{"metadata":{"labels":{"app":"nginx"}},"spec":{"containers":[{"name":"nginx","image":"nginx:1.14.2","ports":[{"containerPort":80}]}]}}`,
			want: `{"metadata":{"labels":{"app":"nginx"}},"spec":{
				"containers":[{"name":"nginx","image":"nginx:1.14.2","ports":[{"containerPort":80,"protocol":"TCP"}],
					"resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],
				"restartPolicy":"Always","terminationGracePeriodSeconds":"30","dnsPolicy":"ClusterFirst","securityContext":{},"schedulerName":"default-scheduler"}}`,
		},
		"latest image, quantities, explicit values kept": {
			in: `{"spec":{"restartPolicy":"OnFailure","terminationGracePeriodSeconds":0,"dnsPolicy":"Default","schedulerName":"mine",
				"securityContext":{"runAsUser":1000},
				"initContainers":[{"name":"init","image":"busybox"}],
				"containers":[{"name":"c","image":"nginx","imagePullPolicy":"Never","terminationMessagePolicy":"FallbackToLogsOnError",
					"resources":{"limits":{"cpu":1,"memory":"100Mi"},"requests":{"cpu":0.5,"memory":"1000m"}},
					"ports":[{"containerPort":53,"protocol":"UDP"}]}]}}`,
			want: `{"spec":{"restartPolicy":"OnFailure","terminationGracePeriodSeconds":"0","dnsPolicy":"Default","schedulerName":"mine",
				"securityContext":{"runAsUser":1000},
				"initContainers":[{"name":"init","image":"busybox","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"Always"}],
				"containers":[{"name":"c","image":"nginx","imagePullPolicy":"Never","terminationMessagePolicy":"FallbackToLogsOnError","terminationMessagePath":"/dev/termination-log",
					"resources":{"limits":{"cpu":"1","memory":"100Mi"},"requests":{"cpu":"500m","memory":"1"}},
					"ports":[{"containerPort":53,"protocol":"UDP"}]}]}}`,
		},
		"probes, env fieldRef, lifecycle": {
			in: `{"spec":{"containers":[{"name":"c","image":"app@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
				"env":[{"name":"POD","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},{"name":"A","value":"b"}],
				"livenessProbe":{"httpGet":{"port":8080}},
				"readinessProbe":{"exec":{"command":["true"]},"periodSeconds":5,"failureThreshold":1},
				"lifecycle":{"preStop":{"httpGet":{"port":80,"path":"/stop"}}}}]}}`,
			want: `{"spec":{"containers":[{"name":"c","image":"app@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
				"env":[{"name":"POD","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.name"}}},{"name":"A","value":"b"}],
				"livenessProbe":{"httpGet":{"port":8080,"path":"/","scheme":"HTTP"},"timeoutSeconds":1,"periodSeconds":10,"successThreshold":1,"failureThreshold":3},
				"readinessProbe":{"exec":{"command":["true"]},"timeoutSeconds":1,"periodSeconds":5,"successThreshold":1,"failureThreshold":1},
				"lifecycle":{"preStop":{"httpGet":{"port":80,"path":"/stop","scheme":"HTTP"}}},
				"resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],
				"restartPolicy":"Always","terminationGracePeriodSeconds":"30","dnsPolicy":"ClusterFirst","securityContext":{},"schedulerName":"default-scheduler"}}`,
		},
		"volumes": {
			in: `{"spec":{"volumes":[{"name":"a"},{"name":"s","secret":{"secretName":"x"}},{"name":"cm","configMap":{"name":"x","defaultMode":256}},
				{"name":"h","hostPath":{"path":"/data"}},{"name":"p","persistentVolumeClaim":{"claimName":"www"}}],
				"containers":[{"name":"c","image":"busybox:1.36"}]}}`,
			want: `{"spec":{"volumes":[{"name":"a","emptyDir":{}},{"name":"s","secret":{"secretName":"x","defaultMode":420}},{"name":"cm","configMap":{"name":"x","defaultMode":256}},
				{"name":"h","hostPath":{"path":"/data","type":""}},{"name":"p","persistentVolumeClaim":{"claimName":"www"}}],
				"containers":[{"name":"c","image":"busybox:1.36","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],
				"restartPolicy":"Always","terminationGracePeriodSeconds":"30","dnsPolicy":"ClusterFirst","securityContext":{},"schedulerName":"default-scheduler"}}`,
		},
		"no spec": {
			in:   `{"metadata":{"name":"x"}}`,
			want: `{"metadata":{"name":"x"},"spec":{"restartPolicy":"Always","terminationGracePeriodSeconds":"30","dnsPolicy":"ClusterFirst","securityContext":{},"schedulerName":"default-scheduler"}}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := mustTemplate(t, tc.in)
			DefaultPodTemplateSpec(got)
			want := mustTemplate(t, tc.want)
			if !proto.Equal(got, want) {
				t.Errorf("defaulted:\n%s\nwant:\n%s", protojson.Format(got), protojson.Format(want))
			}
			// idempotent
			again := proto.Clone(got).(*corev1.PodTemplateSpec)
			DefaultPodTemplateSpec(again)
			if !proto.Equal(got, again) {
				t.Errorf("defaulting twice differs:\n%s\nonce:\n%s", protojson.Format(again), protojson.Format(got))
			}
		})
	}
	DefaultPodTemplateSpec(nil) // no panic
}

func TestSecurityContextRendersEmptyObject(t *testing.T) {
	tmpl := mustTemplate(t, `{"spec":{"containers":[{"name":"c","image":"x:1"}]}}`)
	DefaultPodTemplateSpec(tmpl)
	b, err := protojson.Marshal(tmpl.GetSpec().GetSecurityContext())
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "{}" {
		t.Errorf("securityContext renders %s, want {}", b)
	}
}

func TestDefaultPod(t *testing.T) {
	tests := map[string]struct {
		in   string
		want string
	}{
		"requests from limits": {
			in: `{"spec":{"containers":[{"name":"c","image":"x:1","resources":{"limits":{"cpu":1,"memory":"64Mi"},"requests":{"cpu":"250m"}}}]}}`,
			want: `{"spec":{"containers":[{"name":"c","image":"x:1","resources":{"limits":{"cpu":"1","memory":"64Mi"},"requests":{"cpu":"250m","memory":"64Mi"}},
				"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],
				"restartPolicy":"Always","terminationGracePeriodSeconds":"30","dnsPolicy":"ClusterFirst","securityContext":{},"schedulerName":"default-scheduler","enableServiceLinks":true}}`,
		},
		"host network ports": {
			in: `{"spec":{"hostNetwork":true,"enableServiceLinks":false,"containers":[{"name":"c","image":"x:1","ports":[{"containerPort":8080},{"containerPort":9090,"hostPort":9091}]}]}}`,
			want: `{"spec":{"hostNetwork":true,"enableServiceLinks":false,"containers":[{"name":"c","image":"x:1","ports":[{"containerPort":8080,"hostPort":8080,"protocol":"TCP"},{"containerPort":9090,"hostPort":9091,"protocol":"TCP"}],
				"resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],
				"restartPolicy":"Always","terminationGracePeriodSeconds":"30","dnsPolicy":"ClusterFirst","securityContext":{},"schedulerName":"default-scheduler"}}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := mustPod(t, tc.in)
			DefaultPod(got)
			want := mustPod(t, tc.want)
			if !proto.Equal(got, want) {
				t.Errorf("defaulted:\n%s\nwant:\n%s", protojson.Format(got), protojson.Format(want))
			}
			again := proto.Clone(got).(*corev1.Pod)
			DefaultPod(again)
			if !proto.Equal(got, again) {
				t.Errorf("defaulting twice differs")
			}
		})
	}
}

func TestDefaultTypeMeta(t *testing.T) {
	tests := map[string]struct {
		apiVersion, kind         string
		wantAPIVersion, wantKind string
	}{
		"empty filled":     {apiVersion: "", kind: "", wantAPIVersion: "apps/v1", wantKind: "Deployment"},
		"set kept":         {apiVersion: "apps/v1beta1", kind: "ReplicaSet", wantAPIVersion: "apps/v1beta1", wantKind: "ReplicaSet"},
		"only kind filled": {apiVersion: "apps/v1", kind: "", wantAPIVersion: "apps/v1", wantKind: "Deployment"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			av, k := tc.apiVersion, tc.kind
			DefaultTypeMeta(&av, &k, "apps/v1", "Deployment")
			if av != tc.wantAPIVersion || k != tc.wantKind {
				t.Errorf("got %q %q, want %q %q", av, k, tc.wantAPIVersion, tc.wantKind)
			}
		})
	}
	DefaultTypeMeta(nil, nil, "v1", "Pod") // no panic
}
