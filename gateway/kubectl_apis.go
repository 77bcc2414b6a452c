package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	k8scorev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The APIs kubectl asks about itself and the cluster, which the gateway answers
// on its own: `kubectl auth can-i` (SelfSubjectAccessReview,
// SelfSubjectRulesReview), `kubectl auth whoami` (SelfSubjectReview) and
// `kubectl get componentstatuses`.

// reviewResources are their discovery entries (create only, as in Kubernetes).
var reviewResources = []groupResource{
	{"authorization.k8s.io/v1", apiResource{Name: "selfsubjectaccessreviews", Kind: "SelfSubjectAccessReview", Verbs: []string{"create"}}},
	{"authorization.k8s.io/v1", apiResource{Name: "selfsubjectrulesreviews", Kind: "SelfSubjectRulesReview", Verbs: []string{"create"}}},
	{"authentication.k8s.io/v1", apiResource{Name: "selfsubjectreviews", Kind: "SelfSubjectReview", Verbs: []string{"create"}}},
	{"v1", apiResource{Name: "componentstatuses", SingularName: "componentstatus", Kind: "ComponentStatus", Verbs: []string{"get", "list"}, ShortNames: []string{"cs"}}},
}

// componentStatusWarning is the Warning kube-apiserver sends with every answer
// about ComponentStatuses.
const componentStatusWarning = `299 - "v1 ComponentStatus is deprecated in v1.19+"`

// registerKubectlAPIs registers the handlers of reviewResources, the
// events.k8s.io/v1 Events, and the node Leases when the node backend is
// deployed (after every backend's routes).
func (g *gateway) registerKubectlAPIs() error {
	g.discovery.add(reviewResources...)
	if err := g.registerEventsV1(); err != nil {
		return err
	}
	for _, b := range g.backends {
		if b.name == nodeBackend.name {
			if err := g.registerNodeLeases(b.conn); err != nil {
				return err
			}
		}
	}
	for _, rt := range []struct {
		method, path string
		h            func(http.ResponseWriter, *http.Request, map[string]string)
	}{
		{http.MethodPost, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", g.selfSubjectAccessReview},
		{http.MethodPost, "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", g.selfSubjectRulesReview},
		{http.MethodPost, "/apis/authentication.k8s.io/v1/selfsubjectreviews", g.selfSubjectReview},
		{http.MethodGet, "/api/v1/componentstatuses", g.listComponentStatuses},
		{http.MethodGet, "/api/v1/componentstatuses/{name}", g.getComponentStatus},
	} {
		if err := g.mux.HandlePath(rt.method, rt.path, rt.h); err != nil {
			return fmt.Errorf("register %s %s: %w", rt.method, rt.path, err)
		}
	}
	return nil
}

// decodeReview reads a review's JSON body (YAML and protobuf arrive here as
// JSON) into v, strictly: an unknown field is a 400 naming it.
func (g *gateway) decodeReview(w http.ResponseWriter, r *http.Request, kind, gv string, v any) bool {
	obj, err := decodeObject(r, g.inbound(r) == g.yaml)
	if err == nil {
		var b []byte
		if b, err = json.Marshal(obj); err == nil {
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			err = dec.Decode(v)
		}
	}
	if err != nil {
		g.writeError(w, r, newAPIError(ReasonBadRequest, fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", kind, gv, kind, err)))
		return false
	}
	return true
}

// selfSubjectAccessReview answers `kubectl auth can-i`: allowed, since the
// gateway authorizes every authenticated request (kube-apiserver's AlwaysAllow,
// which answers with no reason).
func (g *gateway) selfSubjectAccessReview(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	var review authorizationv1.SelfSubjectAccessReview
	if !g.decodeReview(w, r, "SelfSubjectAccessReview", "authorization.k8s.io/v1", &review) {
		return
	}
	if errs := validateSelfSubjectAccessReviewSpec(review.Spec); len(errs) > 0 {
		g.writeError(w, r, invalidError("authorization.k8s.io", "SelfSubjectAccessReview", "", errs))
		return
	}
	review.APIVersion, review.Kind = "authorization.k8s.io/v1", "SelfSubjectAccessReview"
	review.Status = authorizationv1.SubjectAccessReviewStatus{Allowed: true}
	g.writeValue(w, r, http.StatusCreated, review)
}

// validateSelfSubjectAccessReviewSpec is Kubernetes' (pkg/apis/authorization/validation).
func validateSelfSubjectAccessReviewSpec(spec authorizationv1.SelfSubjectAccessReviewSpec) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("spec")
	if spec.ResourceAttributes != nil && spec.NonResourceAttributes != nil {
		errs = append(errs, field.Invalid(p.Child("nonResourceAttributes"), spec.NonResourceAttributes, `cannot be specified in combination with resourceAttributes`))
	}
	if spec.ResourceAttributes == nil && spec.NonResourceAttributes == nil {
		errs = append(errs, field.Invalid(p.Child("resourceAttributes"), spec.NonResourceAttributes, `exactly one of nonResourceAttributes or resourceAttributes must be specified`))
	}
	return errs
}

// selfSubjectRulesReview answers `kubectl auth can-i --list`: everything, on
// every resource and non-resource URL.
func (g *gateway) selfSubjectRulesReview(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	var review authorizationv1.SelfSubjectRulesReview
	if !g.decodeReview(w, r, "SelfSubjectRulesReview", "authorization.k8s.io/v1", &review) {
		return
	}
	review.APIVersion, review.Kind = "authorization.k8s.io/v1", "SelfSubjectRulesReview"
	review.Status = authorizationv1.SubjectRulesReviewStatus{
		ResourceRules:    []authorizationv1.ResourceRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}},
		NonResourceRules: []authorizationv1.NonResourceRule{{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}},
	}
	g.writeValue(w, r, http.StatusCreated, review)
}

// selfSubjectReview answers `kubectl auth whoami`: the user the request was
// authenticated as, or the anonymous user when the gateway authenticates no one.
func (g *gateway) selfSubjectReview(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	var review authenticationv1.SelfSubjectReview
	if !g.decodeReview(w, r, "SelfSubjectReview", "authentication.k8s.io/v1", &review) {
		return
	}
	review.APIVersion, review.Kind = "authentication.k8s.io/v1", "SelfSubjectReview"
	review.Status.UserInfo = userInfoOf(userFrom(r.Context()))
	g.writeValue(w, r, http.StatusCreated, review)
}

// userInfoOf is the UserInfo a SelfSubjectReview reports: kube-apiserver's
// anonymous user (system:anonymous in system:unauthenticated) when the request
// was not authenticated.
func userInfoOf(u UserInfo, authenticated bool) authenticationv1.UserInfo {
	if !authenticated {
		return authenticationv1.UserInfo{Username: "system:anonymous", Groups: []string{"system:unauthenticated"}}
	}
	return authenticationv1.UserInfo{Username: u.Name, UID: u.UID, Groups: u.Groups}
}

// componentStatuses asks every deployed backend for its health, in parallel:
// one ComponentStatus per backend service (podwarden's components stand where
// kube-apiserver reports the scheduler, the controller manager and etcd).
func (g *gateway) componentStatuses(r *http.Request) []k8scorev1.ComponentStatus {
	errs := make([]error, len(g.backends))
	var wg sync.WaitGroup
	for i, b := range g.backends {
		wg.Go(func() { errs[i] = g.checkBackend(r.Context(), b) })
	}
	wg.Wait()
	out := make([]k8scorev1.ComponentStatus, len(g.backends))
	for i, b := range g.backends {
		out[i] = componentStatus(b.name, errs[i])
	}
	return out
}

// componentStatus is a component's status from its health check's outcome, as
// kube-apiserver words it: Healthy "ok", or not Healthy with the error.
func componentStatus(name string, err error) k8scorev1.ComponentStatus {
	cond := k8scorev1.ComponentCondition{Type: k8scorev1.ComponentHealthy, Status: k8scorev1.ConditionTrue, Message: "ok"}
	if err != nil {
		cond = k8scorev1.ComponentCondition{Type: k8scorev1.ComponentHealthy, Status: k8scorev1.ConditionFalse, Error: err.Error()}
	}
	return k8scorev1.ComponentStatus{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ComponentStatus"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Conditions: []k8scorev1.ComponentCondition{cond},
	}
}

func (g *gateway) listComponentStatuses(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	w.Header().Add("Warning", componentStatusWarning)
	g.writeValue(w, r, http.StatusOK, k8scorev1.ComponentStatusList{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ComponentStatusList"},
		Items:    g.componentStatuses(r),
	})
}

func (g *gateway) getComponentStatus(w http.ResponseWriter, r *http.Request, params map[string]string) {
	w.Header().Add("Warning", componentStatusWarning)
	for _, b := range g.backends {
		if b.name == params["name"] {
			g.writeValue(w, r, http.StatusOK, componentStatus(b.name, g.checkBackend(r.Context(), b)))
			return
		}
	}
	g.writeError(w, r, notFoundError("", "componentstatuses", params["name"]))
}

// componentStatusPrinter is kubectl's ComponentStatus columns.
var componentStatusPrinter = printer{
	columns: []column{col("Name", "string", 0), col("Status", "string", 0), col("Message", "string", 0), col("Error", "string", 0)},
	cells: func(o map[string]any, _ time.Time) []any {
		status, message, errMsg := "Unknown", "", ""
		for _, c := range list(o, "conditions") {
			if c["type"] == "Healthy" {
				status = map[bool]string{true: "Healthy", false: "Unhealthy"}[c["status"] == "True"]
				message, errMsg = str2(c, "message"), str2(c, "error")
			}
		}
		return []any{name(o), status, message, errMsg}
	},
}
