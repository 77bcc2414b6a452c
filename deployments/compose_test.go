package deployments

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

const (
	composeFile = "compose.yaml"
	dockerfile  = "docker/Dockerfile"
)

// composeProject is the part of the Compose file format this test reads
// (decoded leniently: Compose has many more fields).
type composeProject struct {
	Services map[string]composeService `json:"services"`
	Volumes  map[string]any            `json:"volumes"`
}

type composeService struct {
	Image       string              `json:"image"`
	Build       *composeBuild       `json:"build"`
	DependsOn   any                 `json:"depends_on"`  // list of names or map name -> condition
	Environment any                 `json:"environment"` // map or list of KEY=VALUE
	Healthcheck *composeHealthcheck `json:"healthcheck"`
	Volumes     []string            `json:"volumes"`
}

type composeBuild struct {
	Context    string            `json:"context"`
	Dockerfile string            `json:"dockerfile"`
	Args       map[string]string `json:"args"`
}

type composeHealthcheck struct {
	Test any `json:"test"`
}

func loadCompose(t *testing.T) composeProject {
	t.Helper()
	data, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	var p composeProject
	if err := yaml.Unmarshal(data, &p); err != nil {
		t.Fatalf("%s: %v", composeFile, err)
	}
	if len(p.Services) == 0 {
		t.Fatalf("%s: no services", composeFile)
	}
	return p
}

func (s composeService) dependsOn() ([]string, error) {
	switch d := s.DependsOn.(type) {
	case nil:
		return nil, nil
	case []any:
		var names []string
		for _, n := range d {
			name, ok := n.(string)
			if !ok {
				return nil, fmt.Errorf("depends_on entry %v is not a name", n)
			}
			names = append(names, name)
		}
		return names, nil
	case map[string]any:
		var names []string
		for n := range d {
			names = append(names, n)
		}
		slices.Sort(names)
		return names, nil
	default:
		return nil, fmt.Errorf("depends_on: unexpected %T", d)
	}
}

func (s composeService) env() (map[string]string, error) {
	env := map[string]string{}
	switch e := s.Environment.(type) {
	case nil:
	case map[string]any:
		for k, v := range e {
			env[k] = fmt.Sprint(v)
		}
	case []any:
		for _, kv := range e {
			str, ok := kv.(string)
			if !ok {
				return nil, fmt.Errorf("environment entry %v is not KEY=VALUE", kv)
			}
			k, v, _ := strings.Cut(str, "=")
			env[k] = v
		}
	default:
		return nil, fmt.Errorf("environment: unexpected %T", e)
	}
	return env, nil
}

// TestComposeReferences: every name the compose file uses (depends_on, named
// volumes, peer addresses, build context, Dockerfile, SERVICE) exists, and
// every service has a health check.
func TestComposeReferences(t *testing.T) {
	p := loadCompose(t)
	for name, s := range p.Services {
		if s.Healthcheck == nil || s.Healthcheck.Test == nil {
			t.Errorf("service %s: no healthcheck", name)
		}
		deps, err := s.dependsOn()
		if err != nil {
			t.Errorf("service %s: %v", name, err)
		}
		for _, d := range deps {
			if _, ok := p.Services[d]; !ok {
				t.Errorf("service %s: depends_on %q: no such service", name, d)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if !strings.ContainsAny(src, "/.~$") {
				if _, ok := p.Volumes[src]; !ok {
					t.Errorf("service %s: volume %q is not declared under volumes", name, src)
				}
			}
		}
		env, err := s.env()
		if err != nil {
			t.Errorf("service %s: %v", name, err)
		}
		for k, v := range env {
			for _, host := range peerHosts(k, v) {
				if _, ok := p.Services[host]; !ok {
					t.Errorf("service %s: %s=%s: no service %q", name, k, v, host)
				}
			}
		}
		if s.Build != nil {
			checkComposeBuild(t, name, s)
		}
	}
}

func checkComposeBuild(t *testing.T, name string, s composeService) {
	t.Helper()
	ctx := filepath.FromSlash(s.Build.Context)
	if _, err := os.Stat(filepath.Join(ctx, "go.work")); err != nil {
		t.Errorf("service %s: build context %q is not the workspace root: %v", name, s.Build.Context, err)
	}
	df := filepath.Join(ctx, filepath.FromSlash(s.Build.Dockerfile))
	if want := filepath.Join("..", "deployments", filepath.FromSlash(dockerfile)); filepath.Clean(df) != want {
		t.Errorf("service %s: dockerfile %s, want %s", name, df, want)
	}
	svc := s.Build.Args["SERVICE"]
	pkg := filepath.Join(ctx, "services", svc)
	if svc == "gateway" {
		pkg = filepath.Join(ctx, "gateway")
	}
	if svc == "" {
		t.Errorf("service %s: build arg SERVICE is not set", name)
	} else if _, err := os.Stat(filepath.Join(pkg, "go.mod")); err != nil {
		t.Errorf("service %s: SERVICE=%s: %v", name, svc, err)
	}
	if s.Image != "podwarden/"+svc+":dev" {
		t.Errorf("service %s: image %q, want podwarden/%s:dev", name, s.Image, svc)
	}
}

// peerHosts returns the hosts a PODWARDEN_* variable points at, if it names peers.
func peerHosts(key, value string) []string {
	var hosts []string
	switch {
	case key == "PODWARDEN_NATS_URL" || key == "PODWARDEN_POSTGRES_DSN":
		for _, u := range strings.Split(value, ",") {
			_, rest, _ := strings.Cut(u, "://")
			if at := strings.LastIndex(rest, "@"); at >= 0 {
				rest = rest[at+1:]
			}
			host, _, _ := strings.Cut(rest, ":")
			hosts = append(hosts, host)
		}
	case peerAddrKey.MatchString(key) && !listenAddrKeys[key]:
		host, _, _ := strings.Cut(value, ":")
		hosts = append(hosts, host)
	}
	return hosts
}

// TestComposeMatchesKubernetes: compose builds exactly the podwarden
// Deployments of the manifests, and each gets the same PODWARDEN_*_ADDR
// settings (listen addresses and peers) in both.
func TestComposeMatchesKubernetes(t *testing.T) {
	p := loadCompose(t)
	idx := newIndex(loadManifests(t))

	var built []string
	for name, s := range p.Services {
		if s.Build != nil {
			built = append(built, name)
		}
	}
	var deployed []string
	for _, w := range idx.workloads {
		if d, ok := w.obj.value.(*appsv1.Deployment); ok {
			deployed = append(deployed, d.Name)
		}
	}
	slices.Sort(built)
	slices.Sort(deployed)
	if !slices.Equal(built, deployed) {
		t.Fatalf("compose builds %v, Kubernetes deploys %v", built, deployed)
	}

	for _, name := range deployed {
		o, _ := idx.get("Deployment", name)
		c := o.value.(*appsv1.Deployment).Spec.Template.Spec.Containers[0]
		k8sAddrs := map[string]string{}
		for _, ef := range c.EnvFrom {
			if ef.ConfigMapRef == nil {
				continue
			}
			if cm, ok := idx.configMap(ef.ConfigMapRef.Name); ok {
				for k, v := range cm.Data {
					if peerAddrKey.MatchString(k) {
						k8sAddrs[k] = v
					}
				}
			}
		}
		for _, e := range c.Env {
			if peerAddrKey.MatchString(e.Name) && e.ValueFrom == nil {
				k8sAddrs[e.Name] = e.Value
			}
		}
		env, err := p.Services[name].env()
		if err != nil {
			t.Fatal(err)
		}
		composeAddrs := map[string]string{}
		for k, v := range env {
			if peerAddrKey.MatchString(k) {
				composeAddrs[k] = v
			}
		}
		for k, v := range k8sAddrs {
			if composeAddrs[k] != v {
				t.Errorf("%s: %s is %q in Kubernetes, %q in compose", name, k, v, composeAddrs[k])
			}
		}
		for k, v := range composeAddrs {
			if _, ok := k8sAddrs[k]; !ok {
				t.Errorf("%s: %s=%s is set in compose only", name, k, v)
			}
		}
		if want := "podwarden/" + name + ":dev"; c.Image != want {
			t.Errorf("Deployment %s: image %q, want %q (the compose tag)", name, c.Image, want)
		}
	}
}

// TestDockerfile: the conventions the compose file and the manifests rely on.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.FromSlash(dockerfile))
	if err != nil {
		t.Fatal(err)
	}
	var (
		froms   int
		argSvc  bool
		lastUsr string
		entry   string
	)
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			froms++
			lastUsr, entry = "", ""
		case "ARG":
			if len(f) > 1 && strings.HasPrefix(f[1], "SERVICE") {
				argSvc = true
			}
		case "USER":
			lastUsr = f[1]
		case "ENTRYPOINT":
			entry = strings.Join(f[1:], " ")
		}
	}
	if froms < 2 {
		t.Errorf("want a multi-stage build, got %d FROM", froms)
	}
	if !argSvc {
		t.Error("no ARG SERVICE")
	}
	if u, _, _ := strings.Cut(lastUsr, ":"); u == "" || u == "root" || u == "0" {
		t.Errorf("final stage runs as %q, want a non-root USER", lastUsr)
	}
	if entry == "" {
		t.Error("final stage has no ENTRYPOINT")
	}
	// The compose healthchecks call this path.
	if !strings.Contains(string(data), "/usr/local/bin/podwarden-healthcheck") {
		t.Error("image does not install /usr/local/bin/podwarden-healthcheck")
	}
}
