// Package podview is a controller service's view of the pods it controls: the rows
// it writes when it asks the node service for a pod (in the same transaction as the
// command), kept current by the node service's pod events, with tombstones so a
// late or redelivered event never brings a deleted pod back, orphaning, and the
// repair of lost commands. Adoption and release (claim) are shared/apply's.
//
// The node service is the truth for a pod's status, node, labels and deletion; the
// owning service for its ownerReferences.
package podview

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	eventsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/events/v1"
)

// Pods is the stored kind of a view's pods: in the change log, so a service's watch
// cache of its pods follows the view, but quiet (no notification per pod: who writes
// pods kicks the feed).
var Pods = store.Kind[*corev1.Pod]{Name: "Pod", Watch: true, Quiet: true, New: func() *corev1.Pod { return &corev1.Pod{} }}

// ObservedVersionKey is the view's bookkeeping annotation: the version of the last
// pod event applied, so older or repeated events are dropped. The node service
// never sees it (ForNode).
const ObservedVersionKey = "podwarden.io/observed-version"

// View names where a service keeps its tombstones (a table with a uid primary key
// and a deleted_at timestamp, created by the service's migrations).
type View struct {
	Tombstones string
	// Unowned also takes in pods without a controller that the view does not have:
	// candidates for adoption, for a service that consumes the events of bare pods.
	Unowned bool
}

// Default is the view of a service whose tombstone table is "tombstones".
var Default = View{Tombstones: "tombstones"}

var (
	privateMu sync.RWMutex
	private   = map[string]bool{ObservedVersionKey: true}
)

// PrivateAnnotations declares annotations a service keeps on the pods of its view
// for its own bookkeeping, like ObservedVersionKey: ForNode, and so every command,
// leaves them out. Call it before the first command (an init function of the
// package that defines the view's kinds).
func PrivateAnnotations(keys ...string) {
	privateMu.Lock()
	defer privateMu.Unlock()
	for _, k := range keys {
		private[k] = true
	}
}

// ObservedVersion is the version of the last event applied to p (0: none yet).
func ObservedVersion(p *corev1.Pod) int64 {
	v, _ := strconv.ParseInt(p.GetMetadata().GetAnnotations()[ObservedVersionKey], 10, 64)
	return v
}

func setObservedVersion(p *corev1.Pod, v int64) {
	if p.Metadata.Annotations == nil {
		p.Metadata.Annotations = map[string]string{}
	}
	p.Metadata.Annotations[ObservedVersionKey] = strconv.FormatInt(v, 10)
}

// ControllerRefTo is podutil.NewControllerRef(m, apiVersion, kind): the
// ownerReference a controller puts on what it creates or claims.
func ControllerRefTo(apiVersion, kind string, m *corev1.ObjectMeta) *corev1.OwnerReference {
	return podutil.NewControllerRef(m, apiVersion, kind)
}

// Owner is what a pod event wakes: its controller's kind and "namespace/name".
type Owner struct{ Kind, Key string }

func ownerOf(p *corev1.Pod) (Owner, bool) {
	ref := podutil.GetControllerOf(p.GetMetadata())
	if ref == nil {
		return Owner{}, false
	}
	return Owner{Kind: ref.GetKind(), Key: p.GetMetadata().GetNamespace() + "/" + ref.GetName()}, true
}

// Refusal is a pod the node service refused to create (its admission: a
// ResourceQuota, a LimitRange), reported to its owner by a DELETED event with
// create_refused: the owner's controller shows it (ReplicaFailure, FailedCreate)
// and waits before it asks again.
type Refusal struct {
	Owner    Owner
	OwnerUID string
	Pod      string
	Message  string
}

// Refusals lists the refused creations among a batch's events.
func Refusals(evs []*eventsv1.PodEvent) []Refusal {
	var out []Refusal
	for _, ev := range evs {
		if ev.GetType() != eventsv1.PodEvent_TYPE_DELETED || ev.GetCreateRefused() == "" {
			continue
		}
		if o, ok := ownerOf(ev.GetPod()); ok {
			out = append(out, Refusal{Owner: o, OwnerUID: podutil.GetControllerOf(ev.GetPod().GetMetadata()).GetUid(),
				Pod: ev.GetPod().GetMetadata().GetName(), Message: ev.GetCreateRefused()})
		}
	}
	return out
}

// ApplyBatch decodes a batch of pod events and applies them in one transaction; it
// returns the owners to wake and the refused creations (Refusals). Undecodable events are dropped (reported to drop). The
// view's pods the batch names are read locked in one statement and the changed ones
// written back in one (events of one pod apply in order in between), so a batch costs
// a few statements, not two per event; creations and deletions go one by one.
func (v View) ApplyBatch(ctx context.Context, db *store.DB, msgs []bus.Received, drop func(subject string, err error)) ([]Owner, []Refusal, error) {
	evs := make([]*eventsv1.PodEvent, 0, len(msgs))
	var keys []string
	seen := map[string]bool{}
	for _, m := range msgs {
		ev := &eventsv1.PodEvent{}
		if err := proto.Unmarshal(m.Data, ev); err != nil {
			drop(m.Subject, err)
			continue
		}
		pm := ev.GetPod().GetMetadata()
		if pm == nil {
			continue
		}
		evs = append(evs, ev)
		if key := pm.GetNamespace() + "/" + pm.GetName(); !seen[key] {
			seen[key] = true
			keys = append(keys, key)
		}
	}
	owners := map[Owner]bool{}
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		clear(owners)
		cur, err := Pods.GetManyForUpdate(ctx, tx, keys)
		if err != nil {
			return err
		}
		b := batch{cur: cur, dirty: map[string]bool{}}
		for _, ev := range evs {
			woken, err := v.apply(ctx, tx, &b, ev)
			if err != nil {
				return err
			}
			for _, o := range woken {
				owners[o] = true
			}
		}
		var changed []*corev1.Pod
		for _, key := range keys {
			if b.dirty[key] {
				changed = append(changed, b.cur[key])
			}
		}
		return Pods.UpdateMany(ctx, tx, changed)
	})
	if err != nil {
		return nil, nil, err
	}
	out := make([]Owner, 0, len(owners))
	for o := range owners {
		out = append(out, o)
	}
	return out, Refusals(evs), nil
}

// batch is the view's pods a transaction has read locked (nil: not stored) and which
// of them changed in memory since.
type batch struct {
	cur   map[string]*corev1.Pod
	dirty map[string]bool
}

// Apply merges one pod event into the view and returns the owners to wake. A pod
// the view does not have is added only when its controller is an object of that
// kind in this service's schema (a pod adopted elsewhere, or created before a
// crash, is picked up; others' pods are ignored), or when it has no controller and
// v takes Unowned pods.
func (v View) Apply(ctx context.Context, tx pgx.Tx, ev *eventsv1.PodEvent) ([]Owner, error) {
	m := ev.GetPod().GetMetadata()
	key := m.GetNamespace() + "/" + m.GetName()
	cur, err := Pods.GetManyForUpdate(ctx, tx, []string{key})
	if err != nil {
		return nil, err
	}
	b := batch{cur: cur, dirty: map[string]bool{}}
	woken, err := v.apply(ctx, tx, &b, ev)
	if err != nil || !b.dirty[key] {
		return woken, err
	}
	return woken, Pods.UpdateMany(ctx, tx, []*corev1.Pod{b.cur[key]})
}

// apply is Apply on the pods of b: a status change is merged in memory (b.dirty), a
// creation or a deletion is written at once.
func (v View) apply(ctx context.Context, tx pgx.Tx, b *batch, ev *eventsv1.PodEvent) ([]Owner, error) {
	p := ev.GetPod()
	m := p.GetMetadata()
	key := m.GetNamespace() + "/" + m.GetName()
	var woken []Owner
	if o, ok := ownerOf(p); ok {
		woken = append(woken, o)
	}
	cur := b.cur[key]
	if cur == nil {
		if ev.GetType() == eventsv1.PodEvent_TYPE_DELETED {
			return woken, v.tombstone(ctx, tx, m.GetUid())
		}
		if dead, err := v.isTombstoned(ctx, tx, m.GetUid()); err != nil || dead {
			return woken, err
		}
		if ours, err := v.takes(ctx, tx, podutil.GetControllerOf(m)); err != nil || !ours {
			return nil, err
		}
		np := proto.Clone(p).(*corev1.Pod)
		np.Metadata.ResourceVersion = ""
		setObservedVersion(np, ev.GetVersion())
		created, err := Pods.Create(ctx, tx, np)
		if errors.Is(err, store.ErrAlreadyExists) {
			return woken, nil
		}
		if err == nil {
			b.cur[key] = created
		}
		return woken, err
	}
	if o, ok := ownerOf(cur); ok {
		woken = append(woken, o)
	}
	if cur.Metadata.Uid != m.GetUid() || ObservedVersion(cur) >= ev.GetVersion() {
		return woken, nil
	}
	if ev.GetType() == eventsv1.PodEvent_TYPE_DELETED {
		_, err := Pods.Delete(ctx, tx, m.GetNamespace(), m.GetName(), m.GetUid())
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		delete(b.cur, key)
		delete(b.dirty, key)
		return woken, v.tombstone(ctx, tx, m.GetUid())
	}
	cur.Status = p.GetStatus()
	if cur.Spec == nil {
		cur.Spec = &corev1.PodSpec{}
	}
	cur.Spec.NodeName = p.GetSpec().GetNodeName()
	cur.Metadata.Labels = m.GetLabels()
	if m.GetDeletionTimestamp() != nil {
		cur.Metadata.DeletionTimestamp = m.GetDeletionTimestamp()
		cur.Metadata.DeletionGracePeriodSeconds = m.DeletionGracePeriodSeconds
	}
	setObservedVersion(cur, ev.GetVersion())
	b.dirty[key] = true
	return woken, nil
}

// takes reports whether a pod the view does not have, controlled through ref, is
// one of this service's.
func (v View) takes(ctx context.Context, tx pgx.Tx, ref *corev1.OwnerReference) (bool, error) {
	if ref == nil {
		return v.Unowned, nil
	}
	var one int
	err := tx.QueryRow(ctx, "SELECT 1 FROM objects WHERE uid=$1 AND kind=$2", ref.GetUid(), ref.GetKind()).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func (v View) tombstone(ctx context.Context, tx pgx.Tx, uid string) error {
	_, err := tx.Exec(ctx, "INSERT INTO "+v.Tombstones+" (uid) VALUES ($1) ON CONFLICT DO NOTHING", uid)
	return err
}

func (v View) isTombstoned(ctx context.Context, tx pgx.Tx, uid string) (bool, error) {
	var one int
	err := tx.QueryRow(ctx, "SELECT 1 FROM "+v.Tombstones+" WHERE uid=$1", uid).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// CreateMany is Create for several pods: one multi-row insert and one outbox insert.
// A name that is taken fails it (store.ErrAlreadyExists), as Create fails.
func CreateMany(ctx context.Context, tx pgx.Tx, pods []*corev1.Pod) error {
	created, err := Pods.CreateMany(ctx, tx, pods)
	if err != nil {
		return err
	}
	cmds := make([]store.OutboxItem, len(pods))
	for i, p := range pods {
		m := p.GetMetadata()
		if !created[i] {
			return fmt.Errorf("create pod %s/%s: %w", m.GetNamespace(), m.GetName(), store.ErrAlreadyExists)
		}
		cmds[i] = store.OutboxItem{Subject: bus.PodCommandSubject(m.Namespace), MsgID: "Pod/" + m.Uid + "/create",
			Msg: &eventsv1.PodCommand{Op: eventsv1.PodCommand_OP_CREATE, Pod: ForNode(p)}}
	}
	return store.EnqueueMany(ctx, tx, cmds)
}

// Create stores a pod of the view and, in the same transaction, the command that
// asks the node service for it.
func Create(ctx context.Context, tx pgx.Tx, p *corev1.Pod) (*corev1.Pod, error) {
	created, err := Pods.Create(ctx, tx, p)
	if err != nil {
		return nil, fmt.Errorf("create pod %s/%s: %w", p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), err)
	}
	cmd := &eventsv1.PodCommand{Op: eventsv1.PodCommand_OP_CREATE, Pod: ForNode(created)}
	return created, store.Enqueue(ctx, tx, bus.PodCommandSubject(created.Metadata.Namespace), "Pod/"+created.Metadata.Uid+"/create", cmd)
}

// Delete marks a pod of the view as terminating and asks the node service to
// delete it; the row goes when the node service reports it DELETED. p's
// resourceVersion, when set, is a precondition (a pod read from a cache that has
// changed since is a conflict, not an overwrite of its newer status).
func Delete(ctx context.Context, tx pgx.Tx, p *corev1.Pod, now time.Time) error {
	if p.GetMetadata().GetDeletionTimestamp() != nil {
		return nil
	}
	p = proto.Clone(p).(*corev1.Pod)
	p.Metadata.DeletionTimestamp = timestamppb.New(now.Truncate(time.Second))
	if _, err := Pods.Update(ctx, tx, p); err != nil {
		return fmt.Errorf("mark pod %s/%s deleted: %w", p.Metadata.Namespace, p.Metadata.Name, err)
	}
	cmd := &eventsv1.PodCommand{Op: eventsv1.PodCommand_OP_DELETE, Pod: ForNode(p)}
	return store.Enqueue(ctx, tx, bus.PodCommandSubject(p.Metadata.Namespace), "Pod/"+p.Metadata.Uid+"/delete", cmd)
}

// Update stores p's new ownerReferences and labels and tells the node service
// (Kubernetes' controllers patch pods for adoption, release and identity labels).
// p's resourceVersion, when set, is a precondition, as for Delete.
func Update(ctx context.Context, tx pgx.Tx, p *corev1.Pod, now time.Time) error {
	if _, err := Pods.Update(ctx, tx, p); err != nil {
		return err
	}
	cmd := &eventsv1.PodCommand{Op: eventsv1.PodCommand_OP_UPDATE, Pod: ForNode(p)}
	return store.Enqueue(ctx, tx, bus.PodCommandSubject(p.Metadata.Namespace), fmt.Sprintf("Pod/%s/update/%d", p.Metadata.Uid, now.UnixNano()), cmd)
}

// ForNode is the pod as the node service should see it: without the view's
// bookkeeping annotations (ObservedVersionKey and the PrivateAnnotations). p is
// not changed.
func ForNode(p *corev1.Pod) *corev1.Pod {
	privateMu.RLock()
	defer privateMu.RUnlock()
	if !hasPrivate(p.GetMetadata().GetAnnotations()) {
		return p
	}
	c := proto.Clone(p).(*corev1.Pod)
	for k := range c.Metadata.Annotations {
		if private[k] {
			delete(c.Metadata.Annotations, k)
		}
	}
	if len(c.Metadata.Annotations) == 0 {
		c.Metadata.Annotations = nil
	}
	return c
}

func hasPrivate(annotations map[string]string) bool {
	for k := range annotations {
		if private[k] {
			return true
		}
	}
	return false
}

// DropOwner removes the ownerReferences naming uid; it reports whether one went.
func DropOwner(m *corev1.ObjectMeta, uid string) bool {
	out := m.OwnerReferences[:0]
	dropped := false
	for _, o := range m.OwnerReferences {
		if o.GetUid() == uid {
			dropped = true
			continue
		}
		out = append(out, o)
	}
	m.OwnerReferences = out
	return dropped
}

// Orphan releases owner's pods (a Delete with propagationPolicy Orphan), in the view
// and, through pod UPDATE commands, in the node service. It runs in the deleting
// transaction.
func Orphan(ctx context.Context, tx pgx.Tx, owner *corev1.ObjectMeta, now time.Time) error {
	// Locked: a pod event applied meanwhile would fail the write's resourceVersion
	// precondition, and with it the deletion.
	pods, err := Pods.List(ctx, tx, store.ListOptions{Namespace: owner.Namespace, OwnerUID: owner.Uid, ForUpdate: true})
	if err != nil {
		return err
	}
	for _, p := range pods {
		if DropOwner(p.Metadata, owner.Uid) {
			if err := Update(ctx, tx, p, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// CollectGarbage deletes, as Delete does, the pods of the view whose controller is
// gone: what a Background deletion of their owner leaves behind. With owners, only
// the pods of those owner uids are looked at.
func CollectGarbage(ctx context.Context, tx pgx.Tx, now time.Time, owners ...string) error {
	pods, err := Pods.Orphans(ctx, tx, owners...)
	if err != nil {
		return err
	}
	for _, p := range pods {
		if err := Delete(ctx, tx, p, now); err != nil {
			return err
		}
	}
	return nil
}

// CommandTimeout is how long a pod may wait for the node service's first word on a
// create, or for its deletion to complete, before its command is sent again.
const CommandTimeout = 2 * time.Minute

// Repair resends lost commands (JetStream redelivery is bounded): a pod the node
// service never reported on gets its CREATE again, a pod deleted long ago its
// DELETE (both idempotent in the node service, by uid with tombstones); and it
// trims tombstones older than an hour. The candidates come from cached, the view's
// pods as its cache has them (nothing listed or decoded: at 100,000 pods a periodic
// pass over Postgres cost seconds of CPU); each is read again locked and decided on
// its stored copy.
func (v View) Repair(ctx context.Context, tx pgx.Tx, now time.Time, cached []*corev1.Pod) error {
	var keys []string
	for _, p := range cached {
		if _, ok := lostCommand(p, now); ok {
			keys = append(keys, p.GetMetadata().GetNamespace()+"/"+p.GetMetadata().GetName())
		}
	}
	if len(keys) > 0 {
		stored, err := Pods.GetManyForUpdate(ctx, tx, keys)
		if err != nil {
			return err
		}
		for _, k := range keys {
			p, ok := stored[k]
			if !ok {
				continue
			}
			if op, ok := lostCommand(p, now); ok {
				if err := resend(ctx, tx, p, op, now); err != nil {
					return err
				}
			}
		}
	}
	_, err := tx.Exec(ctx, "DELETE FROM "+v.Tombstones+" WHERE deleted_at < now() - interval '1 hour'")
	return err
}

// lostCommand decides whether a pod's command is to be sent again, and which: its
// DELETE when its deletion is older than the command timeout and its grace period,
// its CREATE when the node service never reported on it within the timeout.
func lostCommand(p *corev1.Pod, now time.Time) (eventsv1.PodCommand_Op, bool) {
	m := p.GetMetadata()
	switch {
	case m.GetDeletionTimestamp() != nil && now.Sub(m.GetDeletionTimestamp().AsTime()) > CommandTimeout+graceOf(p):
		return eventsv1.PodCommand_OP_DELETE, true
	case m.GetDeletionTimestamp() == nil && ObservedVersion(p) == 0 && now.Sub(m.GetCreationTimestamp().AsTime()) > CommandTimeout:
		return eventsv1.PodCommand_OP_CREATE, true
	}
	return 0, false
}

// resend publishes a command for a pod of the view again, with a fresh message id
// (the first one may still be in JetStream's deduplication window).
func resend(ctx context.Context, tx pgx.Tx, p *corev1.Pod, op eventsv1.PodCommand_Op, now time.Time) error {
	cmd := &eventsv1.PodCommand{Op: op, Pod: ForNode(p)}
	msgID := fmt.Sprintf("Pod/%s/%s/retry/%d", p.Metadata.Uid, strings.ToLower(strings.TrimPrefix(op.String(), "OP_")), now.UnixNano())
	return store.Enqueue(ctx, tx, bus.PodCommandSubject(p.Metadata.Namespace), msgID, cmd)
}

func graceOf(p *corev1.Pod) time.Duration {
	if g := p.GetMetadata().DeletionGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	if g := p.GetSpec().TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return 30 * time.Second
}
