package service_test

import (
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/podwarden/podwarden/services/node/service"
	"github.com/podwarden/podwarden/shared/testenv"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// withDNS serves the cluster DNS on loopback sockets of the test's own and
// returns the UDP address (the TCP one in *tcpAddr).
func withDNS(t *testing.T, tcpAddr *string) (string, func(*service.Config)) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	*tcpAddr = l.Addr().String()
	return pc.LocalAddr().String(), func(c *service.Config) { c.DNSPacketConn, c.DNSListener = pc, l }
}

func lookupA(t *testing.T, network, addr, name string) (rcode int, ips []string) {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: time.Second}
	req := new(dns.Msg)
	req.SetQuestion(name, dns.TypeA)
	m, _, err := c.Exchange(req, addr)
	if err != nil {
		return -1, nil
	}
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			ips = append(ips, a.A.String())
		}
	}
	sort.Strings(ips)
	return m.Rcode, ips
}

func statefulPod(name, hostname string, port int32) *corev1.Pod {
	p := barePod(name)
	p.Metadata.Labels = map[string]string{"app": "nginx"}
	p.Spec.Hostname, p.Spec.Subdomain = hostname, "nginx"
	p.Spec.Containers[0].Ports = []*corev1.ContainerPort{{Name: "web", ContainerPort: port}}
	return p
}

func TestServicesEndpointsAndDNS(t *testing.T) {
	var tcpAddr string
	udpAddr, dnsCfg := withDNS(t, &tcpAddr)
	e := newEnv(t, dnsCfg)
	svcs := nodev1.NewServiceServiceClient(e.conn)
	epc := nodev1.NewEndpointsServiceClient(e.conn)

	// The cluster's own Services exist from the start.
	k, err := svcs.GetService(e.ctx(), &nodev1.GetServiceRequest{Namespace: "default", Name: "kubernetes"})
	if err != nil || k.Service.Spec.ClusterIp != "10.96.0.1" {
		t.Fatalf("default/kubernetes: %v %v", k, err)
	}
	kep, err := epc.GetEndpoints(e.ctx(), &nodev1.GetEndpointsRequest{Namespace: "default", Name: "kubernetes"})
	if err != nil || kep.Endpoints.Subsets[0].Addresses[0].Ip != "172.18.0.2" || kep.Endpoints.Subsets[0].Ports[0].Port != 6443 {
		t.Fatalf("kubernetes endpoints: %v %v", kep, err)
	}
	if d, err := svcs.GetService(e.ctx(), &nodev1.GetServiceRequest{Namespace: "kube-system", Name: "kube-dns"}); err != nil || d.Service.Spec.ClusterIp != "10.96.0.10" {
		t.Fatalf("kube-system/kube-dns: %v %v", d, err)
	}

	// The headless Service of the StatefulSet tutorial, defaulted like Kubernetes.
	headless := &nodev1.Service{ApiVersion: "v1", Kind: "Service",
		Metadata: &corev1.ObjectMeta{Name: "nginx", Labels: map[string]string{"app": "nginx"}},
		Spec: &nodev1.ServiceSpec{ClusterIp: "None", Selector: map[string]string{"app": "nginx"},
			Ports: []*nodev1.ServicePort{{Name: "web", Port: 80}}}}
	hs, err := svcs.CreateService(e.ctx(), &nodev1.CreateServiceRequest{Namespace: "default", Service: headless})
	if err != nil {
		t.Fatal(err)
	}
	sp := hs.Service.Spec
	if sp.Type != "ClusterIP" || sp.SessionAffinity != "None" || sp.Ports[0].Protocol != "TCP" || sp.Ports[0].TargetPort.GetNumberValue() != 80 ||
		fmt.Sprint(sp.ClusterIps) != "[None]" || fmt.Sprint(sp.IpFamilies) != "[IPv4]" || sp.GetIpFamilyPolicy() != "SingleStack" ||
		sp.GetInternalTrafficPolicy() != "Cluster" || hs.Service.Status.GetLoadBalancer() == nil {
		t.Fatalf("headless service defaults: %v", hs.Service)
	}

	// Three pods as the StatefulSet makes them; web-2 is made unready.
	for i := range 3 {
		name := fmt.Sprintf("web-%d", i)
		if _, err := e.pods.CreatePod(e.ctx(), &nodev1.CreatePodRequest{Namespace: "default", Pod: statefulPod(name, name, 80)}); err != nil {
			t.Fatal(err)
		}
	}
	ips := map[string]string{}
	for i := range 3 {
		name := fmt.Sprintf("web-%d", i)
		ips[name] = e.waitPod(name, name+" ready", podRunningReady).Status.PodIp
	}
	if _, err := e.pods.InjectPodFault(e.ctx(), &nodev1.InjectPodFaultRequest{Namespace: "default", Name: "web-2", Fault: "unready"}); err != nil {
		t.Fatal(err)
	}
	ready := []string{ips["web-0"], ips["web-1"]}
	sort.Strings(ready)
	testenv.Eventually(t, 10*time.Second, "endpoints: web-0 and web-1 ready, web-2 not", func() bool {
		ep, err := epc.GetEndpoints(e.ctx(), &nodev1.GetEndpointsRequest{Namespace: "default", Name: "nginx"})
		if err != nil || len(ep.Endpoints.Subsets) != 1 {
			return false
		}
		ss := ep.Endpoints.Subsets[0]
		var got []string
		for _, a := range ss.Addresses {
			got = append(got, a.Ip)
			if a.Hostname != a.TargetRef.GetName() || a.GetNodeName() == "" || a.TargetRef.GetKind() != "Pod" || a.TargetRef.GetUid() == "" {
				return false
			}
		}
		sort.Strings(got)
		return fmt.Sprint(got) == fmt.Sprint(ready) && len(ss.NotReadyAddresses) == 1 && ss.NotReadyAddresses[0].Ip == ips["web-2"] &&
			len(ss.Ports) == 1 && ss.Ports[0].Port == 80 && ss.Ports[0].Name == "web"
	})
	for _, network := range []string{"udp", "tcp"} {
		addr := udpAddr
		if network == "tcp" {
			addr = tcpAddr
		}
		testenv.Eventually(t, 5*time.Second, network+": the headless name answers the ready pods", func() bool {
			rc, got := lookupA(t, network, addr, "nginx.default.svc.cluster.local.")
			return rc == dns.RcodeSuccess && fmt.Sprint(got) == fmt.Sprint(ready)
		})
		testenv.Eventually(t, 5*time.Second, network+": web-0's own name", func() bool {
			rc, got := lookupA(t, network, addr, "web-0.nginx.default.svc.cluster.local.")
			return rc == dns.RcodeSuccess && fmt.Sprint(got) == "["+ips["web-0"]+"]"
		})
	}

	// Deleting a pod takes it out of the Endpoints and the DNS.
	if _, err := e.pods.DeletePod(e.ctx(), &nodev1.DeletePodRequest{Namespace: "default", Name: "web-1", GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "the DNS forgets web-1", func() bool {
		rc, got := lookupA(t, "udp", udpAddr, "nginx.default.svc.cluster.local.")
		rc1, _ := lookupA(t, "udp", udpAddr, "web-1.nginx.default.svc.cluster.local.")
		return rc == dns.RcodeSuccess && fmt.Sprint(got) == "["+ips["web-0"]+"]" && rc1 == dns.RcodeNameError
	})

	// A ClusterIP Service, asking for a free address, answers with it; the
	// same address again is refused naming the field.
	web := &nodev1.Service{ApiVersion: "v1", Kind: "Service", Metadata: &corev1.ObjectMeta{Name: "web"},
		Spec: &nodev1.ServiceSpec{ClusterIp: "10.96.100.100", Selector: map[string]string{"app": "nginx"},
			Ports: []*nodev1.ServicePort{{Name: "http", Port: 8080, TargetPort: structpb.NewStringValue("web")}}}}
	if _, err := svcs.CreateService(e.ctx(), &nodev1.CreateServiceRequest{Namespace: "default", Service: web}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "web answers its ClusterIP", func() bool {
		rc, got := lookupA(t, "tcp", tcpAddr, "web.default.svc.cluster.local.")
		return rc == dns.RcodeSuccess && fmt.Sprint(got) == "[10.96.100.100]"
	})
	testenv.Eventually(t, 5*time.Second, "web's endpoints resolve the named targetPort", func() bool {
		ep, err := epc.GetEndpoints(e.ctx(), &nodev1.GetEndpointsRequest{Namespace: "default", Name: "web"})
		return err == nil && len(ep.Endpoints.Subsets) == 1 && ep.Endpoints.Subsets[0].Ports[0].Port == 80
	})
	web.Metadata.Name = "web2"
	_, err = svcs.CreateService(e.ctx(), &nodev1.CreateServiceRequest{Namespace: "default", Service: web})
	wantInvalid(t, err, `spec.clusterIPs: Invalid value: ["10.96.100.100"]: failed to allocate IP 10.96.100.100: provided IP is already allocated`)

	// The ClusterIP is immutable.
	got, err := svcs.GetService(e.ctx(), &nodev1.GetServiceRequest{Namespace: "default", Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	changed := got.Service
	changed.Spec.ClusterIp, changed.Spec.ClusterIps = "10.96.100.101", nil
	_, err = svcs.UpdateService(e.ctx(), &nodev1.UpdateServiceRequest{Namespace: "default", Name: "web", Service: changed})
	wantInvalid(t, err, `spec.clusterIP: Invalid value: "10.96.100.101": field is immutable`)
	// An update that leaves the ClusterIP out keeps it.
	changed.Spec.ClusterIp, changed.Metadata.Labels = "", map[string]string{"tier": "front"}
	upd, err := svcs.UpdateService(e.ctx(), &nodev1.UpdateServiceRequest{Namespace: "default", Name: "web", Service: changed})
	if err != nil || upd.Service.Spec.ClusterIp != "10.96.100.100" || upd.Service.Metadata.Labels["tier"] != "front" {
		t.Fatalf("update without clusterIP: %v %v", upd, err)
	}

	// Deleting the Service frees its address and deletes its Endpoints.
	if _, err := svcs.DeleteService(e.ctx(), &nodev1.DeleteServiceRequest{Namespace: "default", Name: "web"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svcs.CreateService(e.ctx(), &nodev1.CreateServiceRequest{Namespace: "default", Service: web}); err != nil {
		t.Fatalf("the freed address is not reusable: %v", err)
	}
	testenv.Eventually(t, 5*time.Second, "web's endpoints deleted, web gone from the DNS", func() bool {
		_, err := epc.GetEndpoints(e.ctx(), &nodev1.GetEndpointsRequest{Namespace: "default", Name: "web"})
		rc, _ := lookupA(t, "udp", udpAddr, "web.default.svc.cluster.local.")
		return status.Code(err) == codes.NotFound && rc == dns.RcodeNameError
	})

	// NodePort Services get a node port of the range.
	np := &nodev1.Service{ApiVersion: "v1", Kind: "Service", Metadata: &corev1.ObjectMeta{Name: "np"},
		Spec: &nodev1.ServiceSpec{Type: "NodePort", Selector: map[string]string{"app": "nginx"}, Ports: []*nodev1.ServicePort{{Port: 80}}}}
	npOut, err := svcs.CreateService(e.ctx(), &nodev1.CreateServiceRequest{Namespace: "default", Service: np})
	if err != nil {
		t.Fatal(err)
	}
	if p := npOut.Service.Spec.Ports[0].NodePort; p < 30000 || p > 32767 || npOut.Service.Spec.ExternalTrafficPolicy != "Cluster" ||
		!strings.HasPrefix(npOut.Service.Spec.ClusterIp, "10.") {
		t.Fatalf("node port service: %v", npOut.Service.Spec)
	}
	np.Metadata.Name = "np2"
	np.Spec.Ports[0].NodePort = npOut.Service.Spec.Ports[0].NodePort
	_, err = svcs.CreateService(e.ctx(), &nodev1.CreateServiceRequest{Namespace: "default", Service: np})
	wantInvalid(t, err, fmt.Sprintf("spec.ports[0].nodePort: Invalid value: %d: provided port is already allocated", np.Spec.Ports[0].NodePort))
}

func wantInvalid(t *testing.T, err error, msg string) {
	t.Helper()
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), msg) {
		t.Fatalf("got %v, want InvalidArgument with %q", err, msg)
	}
}

func TestServiceValidation(t *testing.T) {
	e := newEnv(t, nil)
	svcs := nodev1.NewServiceServiceClient(e.conn)
	cases := map[string]struct {
		spec *nodev1.ServiceSpec
		want string
	}{
		"no ports":        {spec: &nodev1.ServiceSpec{Selector: map[string]string{"a": "b"}}, want: "spec.ports: Required value"},
		"port range":      {spec: &nodev1.ServiceSpec{Ports: []*nodev1.ServicePort{{Port: 70000}}}, want: "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"},
		"duplicate names": {spec: &nodev1.ServiceSpec{Ports: []*nodev1.ServicePort{{Name: "a", Port: 80}, {Name: "a", Port: 81}}}, want: `spec.ports[1].name: Duplicate value: "a"`},
		"unnamed ports":   {spec: &nodev1.ServiceSpec{Ports: []*nodev1.ServicePort{{Name: "a", Port: 80}, {Port: 81}}}, want: "spec.ports[1].name: Required value"},
		"bad type":        {spec: &nodev1.ServiceSpec{Type: "Magic", Ports: []*nodev1.ServicePort{{Port: 80}}}, want: `spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`},
		"bad protocol":    {spec: &nodev1.ServiceSpec{Ports: []*nodev1.ServicePort{{Port: 80, Protocol: "HTTP"}}}, want: `spec.ports[0].protocol: Unsupported value: "HTTP"`},
		"bad clusterIP":   {spec: &nodev1.ServiceSpec{ClusterIp: "10.96.300.1", Ports: []*nodev1.ServicePort{{Port: 80}}}, want: `spec.clusterIPs[0]: Invalid value: "10.96.300.1": must be a valid IP address`},
		"clusterIP out of range": {spec: &nodev1.ServiceSpec{ClusterIp: "192.168.1.1", Ports: []*nodev1.ServicePort{{Port: 80}}},
			want: "failed to allocate IP 192.168.1.1: the provided IP (192.168.1.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12"},
		"nodePort on a ClusterIP":   {spec: &nodev1.ServiceSpec{Ports: []*nodev1.ServicePort{{Port: 80, NodePort: 30001}}}, want: "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"},
		"headless NodePort":         {spec: &nodev1.ServiceSpec{Type: "NodePort", ClusterIp: "None", Ports: []*nodev1.ServicePort{{Port: 80}}}, want: `spec.clusterIPs[0]: Invalid value: "None": may not be set to 'None' for NodePort services`},
		"bad targetPort name":       {spec: &nodev1.ServiceSpec{Ports: []*nodev1.ServicePort{{Port: 80, TargetPort: structpb.NewStringValue("Not_A_Name")}}}, want: `spec.ports[0].targetPort: Invalid value: "Not_A_Name"`},
		"ExternalName without name": {spec: &nodev1.ServiceSpec{Type: "ExternalName"}, want: "spec.externalName: Required value"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := svcs.CreateService(e.ctx(), &nodev1.CreateServiceRequest{Namespace: "default",
				Service: &nodev1.Service{ApiVersion: "v1", Kind: "Service", Metadata: &corev1.ObjectMeta{Name: "bad"}, Spec: tc.spec}})
			wantInvalid(t, err, tc.want)
		})
	}
	_, err := svcs.GetService(e.ctx(), &nodev1.GetServiceRequest{Namespace: "default", Name: "bad"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("a rejected service was stored: %v", err)
	}
}
