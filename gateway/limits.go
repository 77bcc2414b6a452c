package gateway

import (
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
)

// maxWatches answers 429 TooManyRequests with Retry-After to a watch when n
// watches are already open (0: no limit). Kubernetes bounds watches through
// API Priority and Fairness; this is the gateway's simpler, global cap, which
// the in-flight limits do not give (watches are exempt from them).
func (g *gateway) maxWatches(n int, next http.Handler) http.Handler {
	if n <= 0 {
		return next
	}
	var open atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if parseRequestInfo(r).verb != "watch" {
			next.ServeHTTP(w, r)
			return
		}
		if open.Add(1) > int64(n) {
			open.Add(-1)
			g.tooManyRequests(w, r)
			return
		}
		defer open.Add(-1)
		next.ServeHTTP(w, r)
	})
}

// capListLimit makes every list a page of at most n items (0: no cap): a
// list without limit, or with a larger one, is asked with limit=n, and its
// answer carries metadata.continue when more items remain, which kubectl and
// client-go's pagers follow. A smaller limit is left as it is.
func (g *gateway) capListLimit(n int64, next http.Handler) http.Handler {
	if n <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if parseRequestInfo(r).verb != "list" {
			next.ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		if s := q.Get("limit"); s != "" {
			l, err := strconv.ParseInt(s, 10, 64)
			if err != nil || (l > 0 && l <= n) {
				next.ServeHTTP(w, r) // within the cap, or bad: the list's own error names it
				return
			}
		}
		q.Set("limit", fmt.Sprint(n))
		r2 := r.Clone(r.Context())
		r2.URL.RawQuery = q.Encode()
		r2.RequestURI = r2.URL.RequestURI()
		next.ServeHTTP(w, r2)
	})
}
