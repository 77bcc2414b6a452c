package controller

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// epPod is a pod of namespace default labelled app=web, on node-1, with IP ip
// (empty: none yet), Ready or not.
type epPod struct {
	name, ip   string
	ready      bool
	labels     map[string]string
	namespace  string
	phase      string
	deleting   bool
	hostname   string
	subdomain  string
	portName   string
	portNumber int32
	portProto  string
}

func (e epPod) build() *corev1.Pod {
	labels := e.labels
	if labels == nil {
		labels = map[string]string{"app": "web"}
	}
	ns := e.namespace
	if ns == "" {
		ns = "default"
	}
	phase := e.phase
	if phase == "" {
		phase = "Running"
	}
	ready := "False"
	if e.ready {
		ready = "True"
	}
	p := &corev1.Pod{
		Metadata: &corev1.ObjectMeta{Name: e.name, Namespace: ns, Uid: "uid-" + e.name, Labels: labels},
		Spec: &corev1.PodSpec{NodeName: "node-1", Hostname: e.hostname, Subdomain: e.subdomain,
			Containers: []*corev1.Container{{Name: "c", Image: "nginx"}}},
		Status: &corev1.PodStatus{Phase: phase, PodIp: e.ip, Conditions: []*corev1.Condition{{Type: "Ready", Status: ready}}},
	}
	if e.portName != "" {
		p.Spec.Containers[0].Ports = []*corev1.ContainerPort{{Name: e.portName, ContainerPort: e.portNumber, Protocol: e.portProto}}
	}
	if e.deleting {
		p.Metadata.DeletionTimestamp = timestamppb.Now()
	}
	return p
}

func epService(mutate func(*nodev1.Service)) *nodev1.Service {
	s := &nodev1.Service{
		Metadata: &corev1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"tier": "front"}},
		Spec: &nodev1.ServiceSpec{Selector: map[string]string{"app": "web"}, ClusterIp: "10.96.5.5", Type: "ClusterIP",
			Ports: []*nodev1.ServicePort{{Name: "http", Protocol: "TCP", Port: 80, TargetPort: structpb.NewNumberValue(8080)}}},
	}
	if mutate != nil {
		mutate(s)
	}
	return s
}

func addr(ip, pod, hostname string) *nodev1.EndpointAddress {
	node := "node-1"
	return &nodev1.EndpointAddress{Ip: ip, Hostname: hostname, NodeName: &node,
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: pod, Uid: "uid-" + pod}}
}

func TestEndpointsFor(t *testing.T) {
	http8080 := []*nodev1.EndpointPort{{Name: "http", Port: 8080, Protocol: "TCP"}}
	cases := map[string]struct {
		svc  *nodev1.Service
		pods []epPod
		want []*nodev1.EndpointSubset
	}{
		"ready and not ready pods, sorted by IP": {
			svc: epService(nil),
			pods: []epPod{
				{name: "b", ip: "10.244.1.10", ready: true},
				{name: "a", ip: "10.244.1.9", ready: true},
				{name: "c", ip: "10.244.2.3", ready: false},
			},
			want: []*nodev1.EndpointSubset{{
				Addresses:         []*nodev1.EndpointAddress{addr("10.244.1.9", "a", ""), addr("10.244.1.10", "b", "")},
				NotReadyAddresses: []*nodev1.EndpointAddress{addr("10.244.2.3", "c", "")},
				Ports:             http8080,
			}},
		},
		"pods that do not count": {
			svc: epService(nil),
			pods: []epPod{
				{name: "no-ip", ready: true},
				{name: "other-labels", ip: "10.244.1.2", ready: true, labels: map[string]string{"app": "db"}},
				{name: "other-namespace", ip: "10.244.1.3", ready: true, namespace: "prod"},
				{name: "succeeded", ip: "10.244.1.4", ready: false, phase: "Succeeded"},
				{name: "failed", ip: "10.244.1.5", ready: false, phase: "Failed"},
				{name: "terminating", ip: "10.244.1.6", ready: true, deleting: true},
			},
		},
		"publishNotReadyAddresses: unready and terminating pods are addresses": {
			svc: epService(func(s *nodev1.Service) { s.Spec.PublishNotReadyAddresses = true }),
			pods: []epPod{
				{name: "a", ip: "10.244.1.2", ready: false},
				{name: "b", ip: "10.244.1.3", ready: true, deleting: true},
			},
			want: []*nodev1.EndpointSubset{{
				Addresses: []*nodev1.EndpointAddress{addr("10.244.1.2", "a", ""), addr("10.244.1.3", "b", "")},
				Ports:     http8080,
			}},
		},
		"hostname only when the subdomain names the service": {
			svc: epService(func(s *nodev1.Service) { s.Spec.ClusterIp = "None" }),
			pods: []epPod{
				{name: "web-0", ip: "10.244.1.2", ready: true, hostname: "web-0", subdomain: "web"},
				{name: "web-1", ip: "10.244.1.3", ready: true, hostname: "web-1", subdomain: "other"},
				{name: "web-2", ip: "10.244.1.4", ready: true, hostname: "web-2"},
			},
			want: []*nodev1.EndpointSubset{{
				Addresses: []*nodev1.EndpointAddress{addr("10.244.1.2", "web-0", "web-0"), addr("10.244.1.3", "web-1", ""), addr("10.244.1.4", "web-2", "")},
				Ports:     http8080,
			}},
		},
		"named targetPort resolved per pod; pods without it are left out": {
			svc: epService(func(s *nodev1.Service) { s.Spec.Ports[0].TargetPort = structpb.NewStringValue("web") }),
			pods: []epPod{
				{name: "a", ip: "10.244.1.2", ready: true, portName: "web", portNumber: 8080},
				{name: "b", ip: "10.244.1.3", ready: true, portName: "web", portNumber: 9090, portProto: "TCP"},
				{name: "c", ip: "10.244.1.4", ready: true, portName: "metrics", portNumber: 9100},
				{name: "d", ip: "10.244.1.5", ready: true, portName: "web", portNumber: 7070, portProto: "UDP"},
			},
			want: []*nodev1.EndpointSubset{
				{Addresses: []*nodev1.EndpointAddress{addr("10.244.1.2", "a", "")}, Ports: http8080},
				{Addresses: []*nodev1.EndpointAddress{addr("10.244.1.3", "b", "")}, Ports: []*nodev1.EndpointPort{{Name: "http", Port: 9090, Protocol: "TCP"}}},
			},
		},
		"headless without ports: addresses without ports": {
			svc:  epService(func(s *nodev1.Service) { s.Spec.ClusterIp, s.Spec.Ports = "None", nil }),
			pods: []epPod{{name: "a", ip: "10.244.1.2", ready: true}},
			want: []*nodev1.EndpointSubset{{Addresses: []*nodev1.EndpointAddress{addr("10.244.1.2", "a", "")}}},
		},
		"without selector: no subsets": {
			svc:  epService(func(s *nodev1.Service) { s.Spec.Selector = nil }),
			pods: []epPod{{name: "a", ip: "10.244.1.2", ready: true}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var pods []*corev1.Pod
			for _, p := range tc.pods {
				pods = append(pods, p.build())
			}
			got := endpointsFor(tc.svc, pods)
			if got.GetMetadata().GetName() != "web" || got.GetMetadata().GetNamespace() != "default" || got.GetMetadata().GetLabels()["tier"] != "front" {
				t.Errorf("metadata %v", got.GetMetadata())
			}
			if _, headless := got.GetMetadata().GetLabels()[LabelHeadless]; headless != (tc.svc.Spec.ClusterIp == "None") {
				t.Errorf("headless label %v for clusterIP %q", got.GetMetadata().GetLabels(), tc.svc.Spec.ClusterIp)
			}
			want := &nodev1.Endpoints{Subsets: tc.want}
			if !proto.Equal(&nodev1.Endpoints{Subsets: got.Subsets}, want) {
				t.Errorf("subsets\n got %s\nwant %s", protojson.Format(&nodev1.Endpoints{Subsets: got.Subsets}), protojson.Format(want))
			}
		})
	}
}
