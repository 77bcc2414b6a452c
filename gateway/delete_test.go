package gateway

import (
	"net/http"
	"testing"
)

func TestDeleteOptions(t *testing.T) {
	tests := map[string]struct {
		query, body     string
		wantPolicy      string
		wantBodyPolicy  string
		wantGrace       int64
		wantGraceSet    bool
		wantOptionsSent bool
	}{
		"kubectl body": {
			body:            `{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Foreground","gracePeriodSeconds":0}`,
			wantBodyPolicy:  "Foreground",
			wantOptionsSent: true,
		},
		"query parameters": {
			query:        "?propagationPolicy=Orphan&gracePeriodSeconds=30",
			wantPolicy:   "Orphan",
			wantGrace:    30,
			wantGraceSet: true,
		},
		"empty body": {},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.createNginx()
			r := e.do(http.MethodDelete, nginxPath+tc.query, tc.body, "Content-Type: application/json")
			r.wantCode(t, http.StatusOK)
			if o := r.object(t); o["kind"] != "Status" || o["status"] != "Success" || get(o, "details", "name") != "nginx" {
				t.Errorf("answer %s", r.body)
			}
			req := e.deploy.lastDelete()
			if req == nil {
				t.Fatal("no delete reached the backend")
			}
			if req.GetNamespace() != "default" || req.GetName() != "nginx" || req.GetPropagationPolicy() != tc.wantPolicy {
				t.Errorf("request %v", req)
			}
			if (req.GetOptions() != nil) != tc.wantOptionsSent || req.GetOptions().GetPropagationPolicy() != tc.wantBodyPolicy {
				t.Errorf("options %v", req.GetOptions())
			}
			if tc.wantOptionsSent && (req.GetOptions().GracePeriodSeconds == nil || req.GetOptions().GetGracePeriodSeconds() != 0) {
				t.Errorf("gracePeriodSeconds 0 in the body was lost: %v", req.GetOptions())
			}
			if (req.GracePeriodSeconds != nil) != tc.wantGraceSet || req.GetGracePeriodSeconds() != tc.wantGrace {
				t.Errorf("grace period %v", req.GracePeriodSeconds)
			}
		})
	}
}

func TestDeletePodAnswersThePod(t *testing.T) {
	e := newEnv(t)
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}`
	e.do(http.MethodPost, "/api/v1/namespaces/default/pods", pod, "Content-Type: application/json").wantCode(t, http.StatusCreated)
	r := e.do(http.MethodDelete, "/api/v1/namespaces/default/pods/p?gracePeriodSeconds=0", "")
	r.wantCode(t, http.StatusOK)
	if get(r.object(t), "kind") != "Pod" {
		t.Errorf("answer %s", r.body)
	}
	if req := e.pods.lastDelete(); req == nil || req.GracePeriodSeconds == nil || *req.GracePeriodSeconds != 0 || req.GetOptions() != nil {
		t.Errorf("request %v", req)
	}
}
