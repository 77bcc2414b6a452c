package deployments

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// TestNATSConfig loads the ConfigMap's nats.conf with nats-server's own parser
// and checks it against the StatefulSet: JetStream on the data volume, one
// route per replica through the headless Service, ports as declared.
func TestNATSConfig(t *testing.T) {
	idx := newIndex(loadManifests(t))
	cm, ok := idx.configMap("nats")
	if !ok {
		t.Fatal("no ConfigMap nats")
	}
	conf, ok := cm.Data["nats.conf"]
	if !ok {
		t.Fatal("ConfigMap nats has no nats.conf")
	}
	o, ok := idx.get("StatefulSet", "nats")
	if !ok {
		t.Fatal("no StatefulSet nats")
	}
	sts := o.value.(*appsv1.StatefulSet)
	c := sts.Spec.Template.Spec.Containers[0]

	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SERVER_NAME", sts.Name+"-0") // set from the pod name in the StatefulSet
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("nats.conf: %v", err)
	}

	if opts.ServerName != sts.Name+"-0" {
		t.Errorf("server_name = %q, want it from $SERVER_NAME", opts.ServerName)
	}
	if !opts.JetStream {
		t.Error("JetStream is not enabled")
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	if claim := mounts[opts.StoreDir]; !slices.ContainsFunc(sts.Spec.VolumeClaimTemplates, func(p corev1.PersistentVolumeClaim) bool { return p.Name == claim }) {
		t.Errorf("store_dir %q is not a mounted volumeClaimTemplate (mounts %v)", opts.StoreDir, mounts)
	}
	for port, name := range map[int]string{opts.Port: "client", opts.Cluster.Port: "cluster", opts.HTTPPort: "monitor"} {
		if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == name && int(p.ContainerPort) == port }) {
			t.Errorf("%s port %d is not the container's %q port", name, port, name)
		}
	}

	var routes []string
	for _, r := range opts.Routes {
		routes = append(routes, r.Host)
	}
	var want []string
	for i := range *sts.Spec.Replicas {
		want = append(want, fmt.Sprintf("%s-%d.%s:%d", sts.Name, i, sts.Spec.ServiceName, opts.Cluster.Port))
	}
	if !slices.Equal(routes, want) {
		t.Errorf("cluster routes = %v, want one per replica %v", routes, want)
	}
}
