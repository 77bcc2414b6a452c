package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/shared/podutil"
)

// Multi-row writes: what Create, Update and Enqueue do for one object, for many in one
// statement (one round trip and one executor run however many rows), with the change
// log entries and the notifications in the same statement. The path of a pod writes
// in these: a batch of kubelet steps, of pod commands, of events.

// GetManyForUpdate reads the objects namespace/name of keys and locks their rows (in
// key order, so that two batches never wait on each other crosswise). Missing keys
// are absent from the map.
func (k Kind[T]) GetManyForUpdate(ctx context.Context, tx pgx.Tx, keys []string) (map[string]T, error) {
	nss, names := splitKeys(keys)
	rows, err := tx.Query(ctx, `SELECT `+objectColumns+` FROM objects
		WHERE kind=$1 AND (namespace, name) IN (SELECT * FROM unnest($2::text[], $3::text[]))
		ORDER BY namespace, name FOR UPDATE`, k.Name, nss, names)
	if err != nil {
		return nil, fmt.Errorf("get %d %s for update: %w", len(keys), k.Name, err)
	}
	objs, err := k.scanObjects(rows)
	if err != nil {
		return nil, fmt.Errorf("get %d %s for update: %w", len(keys), k.Name, err)
	}
	out := make(map[string]T, len(objs))
	for _, obj := range objs {
		out[obj.GetMetadata().GetNamespace()+"/"+obj.GetMetadata().GetName()] = obj
	}
	return out, nil
}

func splitKeys(keys []string) (nss, names []string) {
	nss, names = make([]string, len(keys)), make([]string, len(keys))
	for i, key := range keys {
		nss[i], names[i], _ = strings.Cut(key, "/")
	}
	return nss, names
}

// manySQL wraps a multi-row data-modifying statement w (RETURNING resource_version,
// data, namespace, name, uid) with the change log insert and the notifications, as
// writeSQLAfter does for one row.
func (k Kind[T]) manySQL(pre, w, changeType string) string {
	return k.wrapWrite(pre, w, changeType, "namespace", "name", "uid, resource_version")
}

// scanMany reads manySQL's rows: the new resourceVersion per uid.
func scanMany(rows pgx.Rows, quiet bool) (map[string]int64, error) {
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var uid string
		var rv int64
		var notified *string
		dest := []any{&uid, &rv}
		if !quiet {
			dest = append(dest, &notified)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out[uid] = rv
	}
	return out, rows.Err()
}

// columns are the encoded rows of a multi-row write.
type columns struct {
	nss, names, uids, owners, labels []string
	data                             [][]byte
	expect                           []*int64
}

func (k Kind[T]) encode(objs []T, withExpect bool) (columns, error) {
	var c columns
	for _, obj := range objs {
		m := obj.GetMetadata()
		var expect *int64
		if withExpect && m.ResourceVersion != "" {
			v, err := strconv.ParseInt(m.ResourceVersion, 10, 64)
			if err != nil {
				return c, ErrConflict
			}
			expect = &v
		}
		rv := m.ResourceVersion
		m.ResourceVersion = ""
		data, err := proto.Marshal(obj)
		m.ResourceVersion = rv
		if err != nil {
			return c, fmt.Errorf("encode %s: %w", k.Name, err)
		}
		c.nss, c.names, c.uids = append(c.nss, m.Namespace), append(c.names, m.Name), append(c.uids, m.Uid)
		c.owners, c.labels = append(c.owners, podutil.GetControllerOf(m).GetUid()), append(c.labels, labelsJSON(m))
		c.data, c.expect = append(c.data, data), append(c.expect, expect)
	}
	return c, nil
}

// UpdateMany is Update for several objects (distinct namespace/name) in one statement:
// each must exist with its uid and, when it carries one, its resourceVersion. When one
// does not, nothing is written and the error is ErrConflict (or ErrNotFound): the
// caller's transaction is to be retried. On success every object carries its new
// resourceVersion.
func (k Kind[T]) UpdateMany(ctx context.Context, q Querier, objs []T) error {
	if len(objs) == 0 {
		return nil
	}
	c, err := k.encode(objs, true)
	if err != nil {
		return err
	}
	rows, err := q.Query(ctx, k.manySQL(
		`u AS (SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[], $8::bigint[])
			AS u(namespace, name, uid, owner_uid, labels, data, expect)),`,
		`UPDATE objects o SET resource_version=next_rv(), owner_uid=u.owner_uid, labels=u.labels::jsonb, data=u.data
			FROM u WHERE o.kind=$1 AND o.namespace=u.namespace AND o.name=u.name AND o.uid=u.uid
			AND (u.expect IS NULL OR o.resource_version=u.expect)
			RETURNING o.resource_version, o.data, o.namespace, o.name, o.uid`, Modified),
		k.Name, c.nss, c.names, c.uids, c.owners, c.labels, c.data, c.expect)
	if err != nil {
		return fmt.Errorf("update %d %s: %w", len(objs), k.Name, err)
	}
	rvs, err := scanMany(rows, k.Quiet)
	if err != nil {
		return fmt.Errorf("update %d %s: %w", len(objs), k.Name, err)
	}
	if len(rvs) != len(objs) {
		return fmt.Errorf("update %d %s: %d changed meanwhile: %w", len(objs), k.Name, len(objs)-len(rvs), ErrConflict)
	}
	for _, obj := range objs {
		m := obj.GetMetadata()
		m.ResourceVersion = strconv.FormatInt(rvs[m.Uid], 10)
	}
	return nil
}

// CreateMany is Create for several objects in one statement. created[i] reports
// whether objs[i] was stored; one whose name or uid is taken is not (Create's
// ErrAlreadyExists), and the transaction stays usable. Stored objects carry their
// resourceVersion.
func (k Kind[T]) CreateMany(ctx context.Context, q Querier, objs []T) (created []bool, err error) {
	created = make([]bool, len(objs))
	if len(objs) == 0 {
		return created, nil
	}
	now := timestamppb.New(time.Now().Truncate(time.Second))
	for _, obj := range objs {
		m := obj.GetMetadata()
		if m.Uid == "" {
			m.Uid = uuid.NewString()
		}
		if m.CreationTimestamp == nil {
			m.CreationTimestamp = now
		}
		if m.Generation == 0 {
			m.Generation = 1
		}
		m.ResourceVersion = ""
	}
	c, err := k.encode(objs, false)
	if err != nil {
		return created, err
	}
	rows, err := q.Query(ctx, k.manySQL("",
		`INSERT INTO objects (kind, namespace, name, uid, resource_version, owner_uid, labels, data)
			SELECT $1, u.namespace, u.name, u.uid, next_rv(), u.owner_uid, u.labels::jsonb, u.data
			FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[])
			AS u(namespace, name, uid, owner_uid, labels, data)
			ON CONFLICT DO NOTHING RETURNING resource_version, data, namespace, name, uid`, Added),
		k.Name, c.nss, c.names, c.uids, c.owners, c.labels, c.data)
	if err != nil {
		return created, fmt.Errorf("create %d %s: %w", len(objs), k.Name, err)
	}
	rvs, err := scanMany(rows, k.Quiet)
	if err != nil {
		return created, fmt.Errorf("create %d %s: %w", len(objs), k.Name, err)
	}
	for i, obj := range objs {
		m := obj.GetMetadata()
		if rv, ok := rvs[m.Uid]; ok {
			created[i] = true
			m.ResourceVersion = strconv.FormatInt(rv, 10)
		}
	}
	return created, nil
}

// OutboxItem is one message for EnqueueMany.
type OutboxItem struct {
	Subject, MsgID string
	Msg            proto.Message
}

// EnqueueMany is Enqueue for several messages in one statement (one relay wake-up).
func EnqueueMany(ctx context.Context, q Querier, items []OutboxItem) error {
	if len(items) == 0 {
		return nil
	}
	subjects, ids, data := make([]string, len(items)), make([]string, len(items)), make([][]byte, len(items))
	for i, it := range items {
		b, err := proto.Marshal(it.Msg)
		if err != nil {
			return fmt.Errorf("encode outbox message for %s: %w", it.Subject, err)
		}
		subjects[i], ids[i], data[i] = it.Subject, it.MsgID, b
	}
	_, err := q.Exec(ctx, `WITH i AS (INSERT INTO outbox (subject, msg_id, data)
		SELECT s, m, d FROM unnest($1::text[], $2::text[], $3::bytea[]) WITH ORDINALITY AS u(s, m, d, n) ORDER BY n
		RETURNING id)
		SELECT pg_notify(current_schema() || '_`+OutboxChannel+`', '') WHERE EXISTS (SELECT 1 FROM i)`, subjects, ids, data)
	if err != nil {
		return fmt.Errorf("enqueue %d messages: %w", len(items), err)
	}
	return nil
}

// DeleteMany removes objs in one statement, with their change log entries: each one
// that is still stored with its uid and resourceVersion (one changed meanwhile stays).
// It returns the resourceVersion of each deletion by uid.
func (k Kind[T]) DeleteMany(ctx context.Context, q Querier, objs []T) (map[string]int64, error) {
	if len(objs) == 0 {
		return nil, nil
	}
	nss, names, uids, rvs := make([]string, len(objs)), make([]string, len(objs)), make([]string, len(objs)), make([]int64, len(objs))
	for i, obj := range objs {
		m := obj.GetMetadata()
		nss[i], names[i], uids[i] = m.GetNamespace(), m.GetName(), m.GetUid()
		rvs[i], _ = strconv.ParseInt(m.GetResourceVersion(), 10, 64)
	}
	rows, err := q.Query(ctx, k.manySQL(
		`d AS (DELETE FROM objects o USING unnest($2::text[], $3::text[], $4::text[], $5::bigint[]) AS u(namespace, name, uid, rv)
			WHERE o.kind=$1 AND o.namespace=u.namespace AND o.name=u.name AND o.uid=u.uid AND o.resource_version=u.rv
			RETURNING o.data, o.namespace, o.name, o.uid),`,
		`SELECT next_rv() AS resource_version, data, namespace, name, uid FROM d`, Deleted),
		k.Name, nss, names, uids, rvs)
	if err != nil {
		return nil, fmt.Errorf("delete %d %s: %w", len(objs), k.Name, err)
	}
	gone, err := scanMany(rows, k.Quiet)
	if err != nil {
		return nil, fmt.Errorf("delete %d %s: %w", len(objs), k.Name, err)
	}
	return gone, nil
}
