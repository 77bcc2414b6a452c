package gateway

import (
	"net/http"
	"slices"
	"strconv"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// retryAfterSeconds is what a request over an in-flight limit is told to wait,
// kube-apiserver's constant.
const retryAfterSeconds = 1

// nonMutatingVerbs are the verbs of the read-only in-flight pool; every other
// verb (and a non-resource request's method, lowercased) is mutating.
var nonMutatingVerbs = []string{"get", "list", "watch"}

// longRunningVerbs and longRunningSubresources are kube-apiserver's
// BasicLongRunningRequestCheck: requests that are not counted in flight.
var (
	longRunningVerbs        = []string{"watch", "proxy"}
	longRunningSubresources = []string{"attach", "exec", "proxy", "log", "portforward"}
)

// inflightClass is the pool a request counts in: "" for a long-running request
// (not counted), "readOnly" or "mutating" otherwise.
func inflightClass(info requestInfo) string {
	if slices.Contains(longRunningVerbs, info.verb) ||
		(info.isResourceRequest && slices.Contains(longRunningSubresources, info.subresource)) {
		return ""
	}
	if slices.Contains(nonMutatingVerbs, info.verb) {
		return "readOnly"
	}
	return "mutating"
}

// maxInFlight is kube-apiserver's WithMaxInFlightLimit: at most readOnly
// read-only and mutating mutating requests are served at once (0: no limit);
// the next one gets 429 TooManyRequests with Retry-After at once, never a queue.
// Long-running requests (watches, exec, logs) are not counted, and a user in
// system:masters is never refused.
func (g *gateway) maxInFlight(readOnly, mutating int, next http.Handler) http.Handler {
	if readOnly == 0 && mutating == 0 {
		return next
	}
	pools := map[string]chan struct{}{}
	if readOnly > 0 {
		pools["readOnly"] = make(chan struct{}, readOnly)
	}
	if mutating > 0 {
		pools["mutating"] = make(chan struct{}, mutating)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pool := pools[inflightClass(parseRequestInfo(r))]
		if pool == nil {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case pool <- struct{}{}:
			defer func() { <-pool }()
			next.ServeHTTP(w, r)
		default:
			if u, ok := userFrom(r.Context()); ok && slices.Contains(u.Groups, groupMasters) {
				next.ServeHTTP(w, r)
				return
			}
			g.tooManyRequests(w, r)
		}
	})
}

// tooManyRequests answers 429 with Retry-After. kube-apiserver's body is the
// plain text below; the gateway sends it as the message of a Status, which
// client-go reads the same way (it retries on 429 + Retry-After).
func (g *gateway) tooManyRequests(w http.ResponseWriter, r *http.Request) {
	s := failureStatus(http.StatusTooManyRequests, ReasonTooManyRequests, "Too many requests, please try again later.")
	s.Details = &corev1.StatusDetails{RetryAfterSeconds: retryAfterSeconds}
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	g.writeStatus(w, r, g.json, s)
}
