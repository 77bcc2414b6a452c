// Package repo is the node service's persistence: the Pod and Node kinds, and
// the writes that must travel together in one transaction -- the object row,
// the event on the outbox (PodEvent/NodeEvent), the Kubernetes Events, the
// pod IP allocation and the tombstones of deleted pods.
package repo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podwarden/podwarden/services/node/internal/podstatus"
	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	eventsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/events/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// Pods and Nodes are the stored kinds (both watchable).
var (
	Pods  = store.Kind[*corev1.Pod]{Name: "Pod", New: func() *corev1.Pod { return &corev1.Pod{} }, Watch: true}
	Nodes = store.Kind[*nodev1.Node]{Name: "Node", New: func() *nodev1.Node { return &nodev1.Node{} }, Watch: true}
)

// Event components.
const (
	ComponentKubelet   = "kubelet"
	ComponentScheduler = "default-scheduler"
	ComponentNodeCtl   = "node-controller"
)

// Event is a Kubernetes event to record about the object being written
// (Component defaults to kubelet).
type Event = podstatus.Event

// OwnerKind is the kind of the pod's controller ownerReference ("" for bare pods).
func OwnerKind(p *corev1.Pod) string {
	return podutil.GetControllerOf(p.GetMetadata()).GetKind()
}

// Key is the "namespace/name" key of an object.
func Key(m *corev1.ObjectMeta) string { return m.GetNamespace() + "/" + m.GetName() }

func rvOf(m *corev1.ObjectMeta) int64 {
	v, _ := strconv.ParseInt(m.GetResourceVersion(), 10, 64)
	return v
}

// publishPod puts a PodEvent for p (as stored, resourceVersion set) on the
// outbox: subject by owner kind, msgID "Pod/<uid>/<resourceVersion>".
func publishPod(ctx context.Context, q store.Querier, typ eventsv1.PodEvent_Type, p *corev1.Pod, ownerKind string) error {
	m := podMessage(typ, p, ownerKind)
	return store.Enqueue(ctx, q, m.Subject, m.MsgID, m.Msg)
}

// podMessage is the PodEvent for p on ownerKind's subject.
func podMessage(typ eventsv1.PodEvent_Type, p *corev1.Pod, ownerKind string) store.OutboxItem {
	m := p.GetMetadata()
	rv := rvOf(m)
	msgID := fmt.Sprintf("Pod/%s/%d", m.GetUid(), rv)
	if ownerKind != OwnerKind(p) {
		// A second copy for a former owner: Nats-Msg-Id is deduplicated per stream.
		msgID += "/" + ownerKind
	}
	return store.OutboxItem{Subject: bus.PodEventSubject(ownerKind), MsgID: msgID, Msg: &eventsv1.PodEvent{Type: typ, Pod: p, Version: rv}}
}

// RecordEvents stores Kubernetes events about the pod.
func RecordEvents(ctx context.Context, q store.Querier, now time.Time, p *corev1.Pod, evs []Event) error {
	if err := events.RecordMany(ctx, q, now, eventRecs(nil, p, evs)); err != nil {
		return fmt.Errorf("record events of pod %s: %w", Key(p.GetMetadata()), err)
	}
	return nil
}

// eventRecs appends the records of evs about p (as stored) to recs.
func eventRecs(recs []events.Rec, p *corev1.Pod, evs []Event) []events.Rec {
	for _, e := range evs {
		ref := events.Ref("v1", "Pod", p.GetMetadata())
		ref.FieldPath = e.FieldPath
		comp := e.Component
		if comp == "" {
			comp = ComponentKubelet
		}
		recs = append(recs, events.Rec{Component: comp, Ref: ref, Type: e.Type, Reason: e.Reason, Message: e.Message})
	}
	return recs
}

// PodWrites are pod changes written together, as the kubelet writes a batch of steps:
// the removed pods in one statement (and their tombstones in one), the updated pods in
// one, all PodEvents in one outbox insert, the IPs of those that finished or went
// released in one statement and all events in one insert: N steps cost a handful of
// statements, not 5N. Each pod at most once.
type PodWrites struct {
	updates   []*corev1.Pod
	updateEvs [][]Event
	deletes   []*corev1.Pod
	deleteEvs [][]Event
	// stopped are deleted pods whose final status is stored before they go.
	stopped []*corev1.Pod
}

// Update adds a changed pod (optimistic on its resourceVersion) and its events.
func (w *PodWrites) Update(p *corev1.Pod, evs []Event) {
	w.updates, w.updateEvs = append(w.updates, p), append(w.updateEvs, evs)
}

// Delete adds a pod to remove (final snapshot) and its events.
func (w *PodWrites) Delete(final *corev1.Pod, evs []Event) {
	w.deletes, w.deleteEvs = append(w.deletes, final), append(w.deleteEvs, evs)
}

// DeleteStopped is Delete of a pod whose containers the step stopped: its final
// status is written first (one MODIFIED, 0/1 Terminating for watchers, as a
// kubelet writes it before it deletes the pod), then it goes.
func (w *PodWrites) DeleteStopped(final *corev1.Pod, evs []Event) {
	w.stopped = append(w.stopped, final)
	w.Delete(final, evs)
}

// Len is the number of pods written.
func (w *PodWrites) Len() int { return len(w.updates) + len(w.deletes) }

// Write writes them in tx. The pods must be the stored versions (read locked).
func (w *PodWrites) Write(ctx context.Context, tx pgx.Tx, now time.Time) error {
	if w.Len() == 0 {
		return nil
	}
	var msgs []store.OutboxItem
	var finished []string
	var recs []events.Rec
	if len(w.deletes) > 0 {
		// The stopped statuses, in one statement; their new resourceVersions are
		// the deletions' preconditions.
		if err := Pods.UpdateMany(ctx, tx, w.stopped); err != nil {
			return err
		}
		gone, err := Pods.DeleteMany(ctx, tx, w.deletes)
		if err != nil {
			return err
		}
		if len(gone) != len(w.deletes) {
			return fmt.Errorf("delete %d pods: %d changed meanwhile: %w", len(w.deletes), len(w.deletes)-len(gone), store.ErrConflict)
		}
		for i, p := range w.deletes {
			m := p.GetMetadata()
			// The snapshot is the caller's final view with the deletion's resourceVersion.
			m.ResourceVersion = strconv.FormatInt(gone[m.GetUid()], 10)
			finished = append(finished, m.GetUid())
			msgs = append(msgs, podMessage(eventsv1.PodEvent_TYPE_DELETED, p, OwnerKind(p)))
			recs = eventRecs(recs, p, w.deleteEvs[i])
		}
		if _, err := tx.Exec(ctx, "INSERT INTO pod_tombstones (uid) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING", finished); err != nil {
			return fmt.Errorf("tombstone %d pods: %w", len(finished), err)
		}
	}
	if err := Pods.UpdateMany(ctx, tx, w.updates); err != nil {
		return err
	}
	for i, p := range w.updates {
		msgs = append(msgs, podMessage(eventsv1.PodEvent_TYPE_MODIFIED, p, OwnerKind(p)))
		if podutil.IsPodTerminal(p) {
			finished = append(finished, p.GetMetadata().GetUid())
		}
		recs = eventRecs(recs, p, w.updateEvs[i])
	}
	if err := store.EnqueueMany(ctx, tx, msgs); err != nil {
		return err
	}
	if len(finished) > 0 {
		if _, err := tx.Exec(ctx, "DELETE FROM pod_ips WHERE uid = ANY($1)", finished); err != nil {
			return fmt.Errorf("release the ips of %d pods: %w", len(finished), err)
		}
	}
	if err := events.RecordMany(ctx, tx, now, recs); err != nil {
		return fmt.Errorf("record events of %d pods: %w", len(w.updates), err)
	}
	return nil
}

// CreatePods stores new pods in one statement and publishes their ADDED in one outbox
// insert. created[i] reports whether pods[i] was stored; one that was not clashed with
// a pod stored meanwhile (its uid or its name: CreateCheck tells which).
func CreatePods(ctx context.Context, tx pgx.Tx, pods []*corev1.Pod) (created []bool, err error) {
	created, err = Pods.CreateMany(ctx, tx, pods)
	if err != nil {
		return nil, err
	}
	var msgs []store.OutboxItem
	for i, p := range pods {
		if created[i] {
			msgs = append(msgs, podMessage(eventsv1.PodEvent_TYPE_ADDED, p, OwnerKind(p)))
		}
	}
	return created, store.EnqueueMany(ctx, tx, msgs)
}

// CreateChecks is CreateCheck for several pods in one query.
func CreateChecks(ctx context.Context, q store.Querier, pods []*corev1.Pod) (known, taken []bool, err error) {
	uids, nss, names := make([]string, len(pods)), make([]string, len(pods)), make([]string, len(pods))
	for i, p := range pods {
		m := p.GetMetadata()
		uids[i], nss[i], names[i] = m.GetUid(), m.GetNamespace(), m.GetName()
	}
	rows, err := q.Query(ctx, `SELECT
		EXISTS (SELECT 1 FROM objects WHERE kind='Pod' AND uid=u.uid) OR EXISTS (SELECT 1 FROM pod_tombstones WHERE uid=u.uid),
		EXISTS (SELECT 1 FROM objects WHERE kind='Pod' AND namespace=u.ns AND name=u.name)
		FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(uid, ns, name, i) ORDER BY u.i`, uids, nss, names)
	if err != nil {
		return nil, nil, fmt.Errorf("look up %d pods: %w", len(pods), err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, t bool
		if err := rows.Scan(&k, &t); err != nil {
			return nil, nil, fmt.Errorf("look up %d pods: %w", len(pods), err)
		}
		known, taken = append(known, k), append(taken, t)
	}
	return known, taken, rows.Err()
}

// CreatePod stores a new pod and publishes ADDED.
func CreatePod(ctx context.Context, tx pgx.Tx, now time.Time, p *corev1.Pod, evs []Event) (*corev1.Pod, error) {
	created, err := Pods.Create(ctx, tx, p)
	if err != nil {
		return nil, err
	}
	if err := publishPod(ctx, tx, eventsv1.PodEvent_TYPE_ADDED, created, OwnerKind(created)); err != nil {
		return nil, err
	}
	return created, RecordEvents(ctx, tx, now, created, evs)
}

// UpdatePod stores a changed pod (optimistic on its resourceVersion), publishes
// MODIFIED (also to formerOwner's subject when the controller kind changed;
// pass "" otherwise), releases the IP of a pod that reached a terminal phase
// and records evs.
func UpdatePod(ctx context.Context, tx pgx.Tx, now time.Time, p *corev1.Pod, formerOwner string, evs []Event) (*corev1.Pod, error) {
	updated, err := Pods.Update(ctx, tx, p)
	if err != nil {
		return nil, err
	}
	if err := publishPod(ctx, tx, eventsv1.PodEvent_TYPE_MODIFIED, updated, OwnerKind(updated)); err != nil {
		return nil, err
	}
	if formerOwner != OwnerKind(updated) {
		if err := publishPod(ctx, tx, eventsv1.PodEvent_TYPE_MODIFIED, updated, formerOwner); err != nil {
			return nil, err
		}
	}
	if podutil.IsPodTerminal(updated) {
		if err := ReleaseIP(ctx, tx, updated.GetMetadata().GetUid()); err != nil {
			return nil, err
		}
	}
	return updated, RecordEvents(ctx, tx, now, updated, evs)
}

// DeletePod removes the pod row (final snapshot final, which may carry the
// last container states), releases its IP, leaves a tombstone and publishes DELETED.
func DeletePod(ctx context.Context, tx pgx.Tx, now time.Time, final *corev1.Pod, evs []Event) (*corev1.Pod, error) {
	m := final.GetMetadata()
	gone, err := Pods.Delete(ctx, tx, m.GetNamespace(), m.GetName(), m.GetUid())
	if err != nil {
		return nil, err
	}
	// The snapshot is the caller's final view with the deletion's resourceVersion.
	final.Metadata.ResourceVersion = gone.GetMetadata().GetResourceVersion()
	if err := ReleaseIP(ctx, tx, m.GetUid()); err != nil {
		return nil, err
	}
	if err := Tombstone(ctx, tx, m.GetUid()); err != nil {
		return nil, err
	}
	if err := publishPod(ctx, tx, eventsv1.PodEvent_TYPE_DELETED, final, OwnerKind(final)); err != nil {
		return nil, err
	}
	return final, RecordEvents(ctx, tx, now, final, evs)
}

// PublishDeleted announces that a pod which never got stored (its name was
// taken, or its delete arrived first) is gone, so its owner replaces it.
func PublishDeleted(ctx context.Context, tx pgx.Tx, p *corev1.Pod) error {
	rv, err := nextRV(ctx, tx)
	if err != nil {
		return err
	}
	p.Metadata.ResourceVersion = strconv.FormatInt(rv, 10)
	if err := Tombstone(ctx, tx, p.GetMetadata().GetUid()); err != nil {
		return err
	}
	return publishPod(ctx, tx, eventsv1.PodEvent_TYPE_DELETED, p, OwnerKind(p))
}

func nextRV(ctx context.Context, q store.Querier) (int64, error) {
	var rv int64
	err := q.QueryRow(ctx, "SELECT next_rv()").Scan(&rv)
	return rv, err
}

// Known reports whether a pod with this uid is stored or was deleted.
func Known(ctx context.Context, q store.Querier, uid string) (bool, error) {
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM objects WHERE kind='Pod' AND uid=$1
		UNION ALL SELECT 1 FROM pod_tombstones WHERE uid=$1 LIMIT 1`, uid).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up pod uid %s: %w", uid, err)
	}
	return true, nil
}

// CreateCheck tells, in one round trip, whether a pod uid is known (stored or
// deleted) and whether namespace/name is taken.
func CreateCheck(ctx context.Context, q store.Querier, uid, namespace, name string) (known, taken bool, err error) {
	err = q.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM objects WHERE kind='Pod' AND uid=$1) OR EXISTS (SELECT 1 FROM pod_tombstones WHERE uid=$1),
		EXISTS (SELECT 1 FROM objects WHERE kind='Pod' AND namespace=$2 AND name=$3)`, uid, namespace, name).Scan(&known, &taken)
	if err != nil {
		return false, false, fmt.Errorf("look up pod %s/%s (%s): %w", namespace, name, uid, err)
	}
	return known, taken, nil
}

// Tombstone remembers a deleted pod uid.
func Tombstone(ctx context.Context, q store.Querier, uid string) error {
	_, err := q.Exec(ctx, "INSERT INTO pod_tombstones (uid) VALUES ($1) ON CONFLICT DO NOTHING", uid)
	if err != nil {
		return fmt.Errorf("tombstone pod %s: %w", uid, err)
	}
	return nil
}

// TrimTombstones forgets deletions older than keep (commands live 24h on the stream).
func TrimTombstones(ctx context.Context, q store.Querier, keep time.Duration) error {
	_, err := q.Exec(ctx, "DELETE FROM pod_tombstones WHERE deleted_at < now() - $1::interval", fmt.Sprintf("%d seconds", int(keep.Seconds())))
	return err
}

// IPAssignment is a pod IP to reserve.
type IPAssignment struct{ IP, UID, Node string }

// AssignIPs reserves pod IPs in one statement; an IP already taken fails it (the
// pod_ips table is what guarantees that no two pods share one).
func AssignIPs(ctx context.Context, q store.Querier, ips []IPAssignment) error {
	if len(ips) == 0 {
		return nil
	}
	addrs, uids, nodes := make([]string, len(ips)), make([]string, len(ips)), make([]string, len(ips))
	for i, a := range ips {
		addrs[i], uids[i], nodes[i] = a.IP, a.UID, a.Node
	}
	if _, err := q.Exec(ctx, "INSERT INTO pod_ips (ip, uid, node) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])", addrs, uids, nodes); err != nil {
		return fmt.Errorf("assign %d pod ips: %w", len(ips), err)
	}
	return nil
}

// ReleaseIP frees the address of pod uid.
func ReleaseIP(ctx context.Context, q store.Querier, uid string) error {
	if _, err := q.Exec(ctx, "DELETE FROM pod_ips WHERE uid=$1", uid); err != nil {
		return fmt.Errorf("release ip of pod %s: %w", uid, err)
	}
	return nil
}

// PodsOnNode lists the pods bound to node.
func PodsOnNode(ctx context.Context, q store.Querier, node string) ([]*corev1.Pod, error) {
	pods, err := Pods.List(ctx, q, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := pods[:0]
	for _, p := range pods {
		if p.GetSpec().GetNodeName() == node {
			out = append(out, p)
		}
	}
	return out, nil
}
