package watch

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	metainternal "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/internalversion/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Watch event types beyond the change log's.
const (
	Bookmark = "BOOKMARK"
	// InitialEventsEnd is the annotation of the bookmark that ends the initial events of
	// a sendInitialEvents watch.
	InitialEventsEnd = "k8s.io/initial-events-end"
)

// resourceVersionMatch values.
const (
	MatchNotOlderThan = "NotOlderThan"
	MatchExact        = "Exact"
)

// How long a read waits for the cache: to reach a resourceVersion a client names (the
// apiserver's 3 s, then "Too large resource version"), and to catch up with the newest
// one for a consistent read.
var (
	TooLargeWait   = 3 * time.Second
	ConsistentWait = 10 * time.Second
	// BookmarkEvery is how often a watch that asked for bookmarks gets one.
	BookmarkEvery = 30 * time.Second
)

// WatchOptions are a watch request's options (validated by the caller).
type WatchOptions struct {
	ResourceVersion      string
	ResourceVersionMatch string
	AllowWatchBookmarks  bool
	SendInitialEvents    *bool
}

// Validate checks the options as kube-apiserver does (its own validation).
func (o WatchOptions) Validate() error {
	return optionsInvalid(metavalidation.ValidateListOptions(&metainternal.ListOptions{
		Watch: true, ResourceVersion: o.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatch(o.ResourceVersionMatch),
		AllowWatchBookmarks: o.AllowWatchBookmarks, SendInitialEvents: o.SendInitialEvents,
	}, true))
}

func optionsInvalid(errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierr.Invalid(apierr.GroupKind{Group: "meta.k8s.io", Kind: "ListOptions"}, "", errs)
}

// Sender receives watch events; the object is shared (do not modify it).
type Sender[T store.Object] func(eventType string, obj T) error

func parseRV(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, apierr.BadRequest(fmt.Sprintf("invalid resource version: %s", s))
	}
	return v, nil
}

// consistent waits until the cache has seen every change committed before the call.
func (c *Cache[T]) consistent(ctx context.Context) error {
	latest, err := c.hub.latest(ctx)
	if err != nil {
		return apierr.FromStore(err, apierr.GroupResource{}, "")
	}
	return c.reach(ctx, latest, ConsistentWait)
}

// notOlderThan waits until the cache has seen rv (0: no wait).
func (c *Cache[T]) notOlderThan(ctx context.Context, rv int64) error {
	if rv == 0 {
		return nil
	}
	return c.reach(ctx, rv, TooLargeWait)
}

// reach waits up to maxWait for the cache to see rv, else answers "Too large resource
// version".
func (c *Cache[T]) reach(ctx context.Context, rv int64, maxWait time.Duration) error {
	cur, ok, err := c.waitFor(ctx, rv, maxWait)
	if err != nil {
		return err
	}
	if !ok {
		return apierr.TooLargeResourceVersion(rv, cur)
	}
	return nil
}

func tooOld(rv, start int64) error {
	return apierr.Expired(fmt.Sprintf("too old resource version: %d (%d)", rv, start))
}

// Watch streams the events of the objects matching match until ctx ends, send fails or
// the watch falls out of the window (410). Kubernetes' semantics:
//   - resourceVersion "" (most recent, consistent) or "0" (any): ADDED for every matching
//     object at the starting point, then every change after it;
//   - resourceVersion N: every change after N, each judged against the state just before
//     it: an object that matched and no longer does (or is deleted) is DELETED, one that
//     starts matching is ADDED, one that matched before and after is MODIFIED; N older
//     than the window is 410 Expired;
//   - sendInitialEvents=true: the initial ADDED events of the state at or after N, then a
//     BOOKMARK annotated k8s.io/initial-events-end;
//   - allowWatchBookmarks: a BOOKMARK with the current resourceVersion every BookmarkEvery.
func (c *Cache[T]) Watch(ctx context.Context, o WatchOptions, match func(T) bool, send Sender[T]) error {
	return c.WatchEstablished(ctx, o, match, nil, send)
}

// WatchEstablished is Watch that calls established (when not nil) once the watch is
// established: its starting point is fixed, so every change committed after
// established returns reaches send, and nothing was sent yet. A server sends its
// stream's headers there, as kube-apiserver answers a watch only once its watcher is
// registered: a client that acts once the headers arrived sees its action as an event.
// An error from established ends the watch with it.
func (c *Cache[T]) WatchEstablished(ctx context.Context, o WatchOptions, match func(T) bool, established func() error, send Sender[T]) error {
	if err := c.waitReady(ctx); err != nil {
		return err
	}
	initial := false
	var from int64 // with !initial: the resourceVersion after which events are sent
	switch {
	case o.SendInitialEvents != nil:
		initial = *o.SendInitialEvents
		if o.ResourceVersion == "" {
			if err := c.consistent(ctx); err != nil {
				return err
			}
		} else {
			rv, err := parseRV(o.ResourceVersion)
			if err != nil {
				return err
			}
			if err := c.notOlderThan(ctx, rv); err != nil {
				return err
			}
		}
		from = -1 // the current state
	case o.ResourceVersion == "":
		if err := c.consistent(ctx); err != nil {
			return err
		}
		initial = true
	case o.ResourceVersion == "0":
		initial = true
	default:
		rv, err := parseRV(o.ResourceVersion)
		if err != nil {
			return err
		}
		if err := c.notOlderThan(ctx, rv); err != nil {
			return err
		}
		from = rv
	}

	var (
		pos   int64
		items []keyed[T] // the initial state
	)
	c.mu.RLock()
	switch {
	case initial:
		pos = c.rv
		items = c.stateAtLocked(pos, match)
		c.mu.RUnlock()
	case from < 0:
		pos = c.rv
		c.mu.RUnlock()
	default:
		start := c.start
		c.mu.RUnlock()
		if from < start {
			return tooOld(from, start)
		}
		pos = from
	}
	if established != nil {
		if err := established(); err != nil {
			return err
		}
	}
	for _, it := range items {
		if err := send(store.Added, it.obj); err != nil {
			return err
		}
	}
	if o.SendInitialEvents != nil && *o.SendInitialEvents && o.AllowWatchBookmarks {
		if err := send(Bookmark, c.bookmark(pos, true)); err != nil {
			return err
		}
	}
	return c.follow(ctx, pos, o.AllowWatchBookmarks, match, send)
}

// follow sends the window's events after pos, then each new one as it comes.
func (c *Cache[T]) follow(ctx context.Context, pos int64, bookmarks bool, match func(T) bool, send Sender[T]) error {
	var tick <-chan time.Time
	if bookmarks {
		t := time.NewTicker(BookmarkEvery)
		defer t.Stop()
		tick = t.C
	}
	lastBookmark := pos
	batch := make([]Event[T], 0, 256)
	for {
		c.mu.RLock()
		if pos < c.start {
			start := c.start
			c.mu.RUnlock()
			return tooOld(pos, start)
		}
		i := sort.Search(len(c.events), func(i int) bool { return c.events[i].RV > pos })
		j := min(len(c.events), i+cap(batch))
		batch = append(batch[:0], c.events[i:j]...)
		drained, cur, changed := j == len(c.events), c.rv, c.changed
		c.mu.RUnlock()

		for _, e := range batch {
			pos = e.RV
			if typ, obj, ok := convert(e, match); ok {
				if err := send(typ, obj); err != nil {
					return err
				}
			}
		}
		if !drained {
			continue
		}
		pos = max(pos, cur) // nothing else happened up to cur
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-tick:
			if pos > lastBookmark {
				if err := send(Bookmark, c.bookmark(pos, false)); err != nil {
					return err
				}
				lastBookmark = pos
			}
		}
	}
}

// convert judges an event for a watcher with filter match, like the apiserver's
// cacheWatcher: by whether the object matched before and after the change.
func convert[T store.Object](e Event[T], match func(T) bool) (string, T, bool) {
	was := e.HasPrev && match(e.Prev)
	is := e.Type != store.Deleted && match(e.Object)
	switch {
	case is && was:
		return store.Modified, e.Object, true
	case is:
		return store.Added, e.Object, true
	case was && e.Type == store.Deleted:
		return store.Deleted, e.Object, true
	case was:
		// It stopped matching: DELETED with its previous content at the event's version.
		old := proto.Clone(e.Prev).(T)
		old.GetMetadata().ResourceVersion = strconv.FormatInt(e.RV, 10)
		return store.Deleted, old, true
	}
	var zero T
	return "", zero, false
}

func (c *Cache[T]) bookmark(rv int64, initialEnd bool) T {
	obj := c.kind.New()
	m := &corev1.ObjectMeta{ResourceVersion: strconv.FormatInt(rv, 10)}
	if initialEnd {
		m.Annotations = map[string]string{InitialEventsEnd: "true"}
	}
	setMetadata(obj, m)
	c.prepare(obj)
	return obj
}

// setMetadata sets the metadata field of a generated message.
func setMetadata(obj proto.Message, m *corev1.ObjectMeta) {
	r := obj.ProtoReflect()
	f := r.Descriptor().Fields().ByName("metadata")
	if f != nil {
		r.Set(f, protoreflect.ValueOfMessage(m.ProtoReflect()))
	}
}

// ListOptions are a list request's options (validated by the caller).
type ListOptions struct {
	ResourceVersion      string
	ResourceVersionMatch string
	Limit                int64
	Continue             string
}

// Validate checks the options as kube-apiserver does (its own validation).
func (o ListOptions) Validate() error {
	return optionsInvalid(metavalidation.ValidateListOptions(&metainternal.ListOptions{
		ResourceVersion: o.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatch(o.ResourceVersionMatch),
		Limit: o.Limit, Continue: o.Continue,
	}, true))
}

// ListResult is one page of a list.
type ListResult[T store.Object] struct {
	Items []T
	// ResourceVersion is the state's; Continue and RemainingItemCount are set when more
	// items follow.
	ResourceVersion    string
	Continue           string
	RemainingItemCount *int64
}

// continueToken is Kubernetes' continue token (base64url of this JSON).
type continueToken struct {
	APIVersion      string `json:"v"`
	ResourceVersion int64  `json:"rv"`
	StartKey        string `json:"start"`
}

const continueAPIVersion = "meta.k8s.io/v1"

func encodeContinue(key string, rv int64) string {
	b, _ := json.Marshal(continueToken{APIVersion: continueAPIVersion, ResourceVersion: rv, StartKey: key + "\x00"})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(s string) (continueToken, error) {
	var t continueToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return t, apierr.BadRequest(fmt.Sprintf("invalid continue token: %v", err))
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return t, apierr.BadRequest(fmt.Sprintf("invalid continue token: %v", err))
	}
	if t.APIVersion != continueAPIVersion {
		return t, apierr.BadRequest(fmt.Sprintf("invalid continue token: continue key is not valid: incorrect encoded start resourceVersion (version %s)", t.APIVersion))
	}
	if t.ResourceVersion <= 0 {
		return t, apierr.BadRequest("invalid continue token: continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
	}
	return t, nil
}

// ContinueExpired is Kubernetes' message for a continue token older than the window.
const ContinueExpired = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue value from the response to retrieve the remaining items."

// List lists the objects matching match with Kubernetes' semantics: resourceVersion ""
// is the newest state (consistent), "0" any state the cache has, N with
// resourceVersionMatch NotOlderThan a state at least as new, N with Exact (or with a
// limit and no match, as in Kubernetes) the state at exactly N (410 when older than the
// window). limit and continue page through one snapshot; items are ordered by
// namespace and name.
func (c *Cache[T]) List(ctx context.Context, o ListOptions, match func(T) bool) (ListResult[T], error) {
	var res ListResult[T]
	if err := c.waitReady(ctx); err != nil {
		return res, err
	}
	exact, at := false, int64(0)
	startKey := ""
	switch {
	case o.Continue != "":
		if o.ResourceVersion != "" && o.ResourceVersion != "0" {
			return res, apierr.BadRequest("specifying resource version is not allowed when using continue")
		}
		t, err := decodeContinue(o.Continue)
		if err != nil {
			return res, err
		}
		exact, at, startKey = true, t.ResourceVersion, t.StartKey
	case o.ResourceVersion == "":
		if err := c.consistent(ctx); err != nil {
			return res, err
		}
	case o.ResourceVersion == "0":
	default:
		rv, err := parseRV(o.ResourceVersion)
		if err != nil {
			return res, err
		}
		if err := c.notOlderThan(ctx, rv); err != nil {
			return res, err
		}
		if o.ResourceVersionMatch == MatchExact || o.ResourceVersionMatch == "" && o.Limit > 0 {
			exact, at = true, rv
		}
	}

	c.mu.RLock()
	if !exact {
		at = c.rv
	}
	if at < c.start {
		start := c.start
		c.mu.RUnlock()
		if o.Continue != "" {
			return res, apierr.Expired(ContinueExpired)
		}
		return res, tooOld(at, start)
	}
	items := c.stateAtLocked(min(at, c.rv), match)
	c.mu.RUnlock()

	res.ResourceVersion = strconv.FormatInt(at, 10)
	i := 0
	if startKey != "" {
		i = sort.Search(len(items), func(i int) bool { return items[i].key >= startKey })
	}
	items = items[i:]
	if o.Limit > 0 && int64(len(items)) > o.Limit {
		rest := int64(len(items)) - o.Limit
		items = items[:o.Limit]
		res.Continue = encodeContinue(items[len(items)-1].key, at)
		res.RemainingItemCount = &rest
	}
	res.Items = make([]T, len(items))
	for i, it := range items {
		res.Items[i] = it.obj
	}
	return res, nil
}
