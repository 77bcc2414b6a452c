package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/shared/apierr"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func TestNamespaceCreate(t *testing.T) {
	tests := map[string]struct {
		method, path string
		want         bool
	}{
		"create in a namespace":        {method: http.MethodPost, path: "/apis/apps/v1/namespaces/team/deployments", want: true},
		"core create":                  {method: http.MethodPost, path: "/api/v1/namespaces/team/configmaps", want: true},
		"create a namespace":           {method: http.MethodPost, path: "/api/v1/namespaces"},
		"subresource (eviction)":       {method: http.MethodPost, path: "/api/v1/namespaces/team/pods/web/eviction"},
		"update":                       {method: http.MethodPut, path: "/api/v1/namespaces/team/configmaps/a"},
		"delete":                       {method: http.MethodDelete, path: "/api/v1/namespaces/team/configmaps/a"},
		"cluster-scoped create":        {method: http.MethodPost, path: "/api/v1/nodes"},
		"non-resource":                 {method: http.MethodPost, path: "/healthz"},
		"namespace status subresource": {method: http.MethodPut, path: "/api/v1/namespaces/team/status"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, _ := http.NewRequest(tc.method, tc.path, nil)
			if got := namespaceCreate(parseRequestInfo(r)); got != tc.want {
				t.Fatalf("namespaceCreate(%s %s) = %v, want %v", tc.method, tc.path, got, tc.want)
			}
		})
	}
}

func TestAdmitInNamespace(t *testing.T) {
	info := requestInfo{isResourceRequest: true, verb: "create", group: "apps", resource: "deployments", namespace: "team"}
	active := &corev1.Namespace{Metadata: &corev1.ObjectMeta{Name: "team"}, Status: &corev1.NamespaceStatus{Phase: "Active"}}
	terminating := &corev1.Namespace{Metadata: &corev1.ObjectMeta{Name: "team", DeletionTimestamp: timestamppb.Now()}, Status: &corev1.NamespaceStatus{Phase: "Terminating"}}
	tests := map[string]struct {
		objName string
		ns      *corev1.Namespace
		getErr  error
		reason  string
		message string
	}{
		"active":              {ns: active},
		"missing":             {getErr: apierr.NotFound(apierr.GroupResource{Resource: "namespaces"}, "team"), reason: apierr.ReasonNotFound, message: `namespaces "team" not found`},
		"terminating":         {objName: "web", ns: terminating, reason: "Forbidden", message: `deployments.apps "web" is forbidden: unable to create new content in namespace team because it is being terminated`},
		"terminating no name": {ns: terminating, reason: "Forbidden", message: `deployments.apps is forbidden: unable to create new content in namespace team because it is being terminated`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := admitInNamespace(info, tc.objName, tc.ns, tc.getErr)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if apierr.Reason(err) != tc.reason || apierr.Message(err) != tc.message {
				t.Fatalf("got %s %q; want %s %q", apierr.Reason(err), apierr.Message(err), tc.reason, tc.message)
			}
		})
	}
}

// fakeNamespaces serves GetNamespace from a map.
type fakeNamespaces struct {
	corev1.UnimplementedNamespaceServiceServer
	mu   sync.Mutex
	objs map[string]*corev1.Namespace
}

func (f *fakeNamespaces) GetNamespace(_ context.Context, req *corev1.GetNamespaceRequest) (*corev1.GetNamespaceResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ns, ok := f.objs[req.GetName()]
	if !ok {
		return nil, apierr.NotFound(apierr.GroupResource{Resource: "namespaces"}, req.GetName())
	}
	return &corev1.GetNamespaceResponse{Namespace: ns}, nil
}

func TestAdmitServiceAccount(t *testing.T) {
	info := requestInfo{isResourceRequest: true, verb: "create", resource: "pods", namespace: "team"}
	tests := map[string]struct {
		body    createBody
		getErr  error
		sa      string
		message string
	}{
		"default exists": {sa: "default"},
		"default missing": {sa: "default", getErr: apierr.NotFound(apierr.GroupResource{Resource: "serviceaccounts"}, "default"),
			message: `pods "web" is forbidden: error looking up service account team/default: serviceaccount "default" not found`},
		"named missing": {sa: "bot", getErr: apierr.NotFound(apierr.GroupResource{Resource: "serviceaccounts"}, "bot"),
			message: `pods "web" is forbidden: error looking up service account team/bot: serviceaccount "bot" not found`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := admitServiceAccount(info, "web", tc.sa, tc.getErr)
			if tc.message == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if apierr.Reason(err) != "Forbidden" || apierr.Message(err) != tc.message {
				t.Fatalf("got %s %q, want %q", apierr.Reason(err), apierr.Message(err), tc.message)
			}
		})
	}
	var b createBody
	if podServiceAccount(b) != "default" {
		t.Error("no name: default")
	}
	b.Spec.ServiceAccount = "old"
	if podServiceAccount(b) != "old" {
		t.Error("deprecated field")
	}
	b.Spec.ServiceAccountName = "bot"
	if podServiceAccount(b) != "bot" {
		t.Error("name first")
	}
}

// fakeServiceAccounts serves GetServiceAccount from a set of namespace/name.
type fakeServiceAccounts struct {
	corev1.UnimplementedServiceAccountServiceServer
	names map[string]bool
}

func (f *fakeServiceAccounts) GetServiceAccount(_ context.Context, req *corev1.GetServiceAccountRequest) (*corev1.GetServiceAccountResponse, error) {
	if !f.names[req.GetNamespace()+"/"+req.GetName()] {
		return nil, apierr.NotFound(apierr.GroupResource{Resource: "serviceaccounts"}, req.GetName())
	}
	return &corev1.GetServiceAccountResponse{ServiceAccount: &corev1.ServiceAccount{Metadata: &corev1.ObjectMeta{Name: req.GetName(), Namespace: req.GetNamespace()}}}, nil
}

// TestNamespaceLifecycle: creates through the gateway are admitted in an Active
// namespace only, the backend never sees the others.
func TestNamespaceLifecycle(t *testing.T) {
	fake := &fakeNamespaces{objs: map[string]*corev1.Namespace{
		"default": {Metadata: &corev1.ObjectMeta{Name: "default"}, Status: &corev1.NamespaceStatus{Phase: "Active"}},
		"old":     {Metadata: &corev1.ObjectMeta{Name: "old", DeletionTimestamp: timestamppb.Now()}, Status: &corev1.NamespaceStatus{Phase: "Terminating"}},
	}}
	e := newEnv(t, func(ec *envConfig) {
		ec.core = func(s *grpc.Server) {
			corev1.RegisterNamespaceServiceServer(s, fake)
			corev1.RegisterServiceAccountServiceServer(s, &fakeServiceAccounts{names: map[string]bool{"default/default": true}})
		}
	})
	e.do(http.MethodPost, "/apis/apps/v1/namespaces/default/deployments", nginxYAML, "Content-Type: application/yaml").wantCode(t, http.StatusCreated)
	st := e.do(http.MethodPost, "/apis/apps/v1/namespaces/nowhere/deployments", nginxYAML, "Content-Type: application/yaml").
		wantStatus(t, http.StatusNotFound, ReasonNotFound)
	if st["message"] != `namespaces "nowhere" not found` {
		t.Errorf("message %v", st["message"])
	}
	st = e.do(http.MethodPost, "/apis/apps/v1/namespaces/old/deployments", nginxYAML, "Content-Type: application/yaml").
		wantStatus(t, http.StatusForbidden, "Forbidden")
	if msg, _ := st["message"].(string); !strings.HasSuffix(msg, "is forbidden: unable to create new content in namespace old because it is being terminated") ||
		!strings.HasPrefix(msg, `deployments.apps "`) {
		t.Errorf("message %v", st["message"])
	}
	if n := e.deploy.count(); n != 1 {
		t.Errorf("the backend stored %d deployments, want only the one in default", n)
	}

	// Pods must name a ServiceAccount that exists ("default" when they name none).
	e.do(http.MethodPost, "/api/v1/namespaces/default/pods", `{"metadata":{"name":"a"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}`,
		"Content-Type: application/json").wantCode(t, http.StatusCreated)
	st = e.do(http.MethodPost, "/api/v1/namespaces/default/pods", "metadata: {name: b}\nspec:\n  serviceAccountName: bot\n  containers: [{name: c, image: nginx}]\n",
		"Content-Type: application/yaml").wantStatus(t, http.StatusForbidden, "Forbidden")
	if st["message"] != `pods "b" is forbidden: error looking up service account default/bot: serviceaccount "bot" not found` {
		t.Errorf("message %v", st["message"])
	}

	// Namespaces are deleted one by one.
	e.do(http.MethodDelete, "/api/v1/namespaces", "").wantStatus(t, http.StatusMethodNotAllowed, "MethodNotAllowed")

	// With the core service, discovery lists namespaces with every verb.
	for _, res := range e.do(http.MethodGet, "/api/v1", "").object(t)["resources"].([]any) {
		if get(res, "name") == "namespaces" {
			if verbs := fmt.Sprint(get(res, "verbs")); !strings.Contains(verbs, "watch") || !strings.Contains(verbs, "delete") || get(res, "namespaced") != false {
				t.Errorf("namespaces discovery %v", res)
			}
			return
		}
	}
	t.Error("namespaces not in /api/v1")
}
