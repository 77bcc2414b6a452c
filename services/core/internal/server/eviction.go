package server

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/services/core/internal/disruption"
	"github.com/podwarden/podwarden/services/core/internal/kinds"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	policyv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/policy/v1"
)

// PodClient reads and deletes pods (the node service owns them).
type PodClient interface {
	Get(ctx context.Context, ns, name string) (*corev1.Pod, error)
	Delete(ctx context.Context, ns, name string, opts *corev1.DeleteOptions, cond *corev1.Condition) (*corev1.Pod, error)
}

// EvictionServer serves the pods' eviction subresource. The budget is checked and
// used up in one Postgres transaction holding the budget's row lock (two evictions
// never both take the last disruption); the pod is then deleted through the node
// service, with a uid precondition and the DisruptionTarget condition. A deletion
// that fails leaves the pod in the budget's disruptedPods, which the disruption
// controller drops after disruption.DeletionTimeout, as in Kubernetes.
type EvictionServer struct {
	policyv1.UnimplementedEvictionServiceServer
	DB   *store.DB
	Pods PodClient
	Now  func() time.Time
}

// CreatePodEviction evicts a pod (POST pods/{name}/eviction).
func (s *EvictionServer) CreatePodEviction(ctx context.Context, req *policyv1.CreatePodEvictionRequest) (*policyv1.CreatePodEvictionResponse, error) {
	ns, name := req.GetNamespace(), req.GetName()
	if ns == "" {
		ns = "default"
	}
	ev := req.GetEviction()
	if ev == nil {
		return nil, apierr.BadRequest("an Eviction is required in the request body")
	}
	if n := ev.GetMetadata().GetName(); n != "" && n != name {
		return nil, apierr.BadRequest(fmt.Sprintf("name in URL does not match name in Eviction object: %s, %s", name, n))
	}
	opts := &corev1.DeleteOptions{}
	if ev.GetDeleteOptions() != nil {
		opts = proto.Clone(ev.GetDeleteOptions()).(*corev1.DeleteOptions)
	}
	dryRun := isDryRun(req.GetDryRun()) || isDryRun(opts.GetDryRun())
	pod, err := s.Pods.Get(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	if pre := opts.GetPreconditions(); pre.GetUid() != "" && pre.GetUid() != pod.GetMetadata().GetUid() {
		return nil, apierr.Conflict(apierr.GroupResource{Resource: "pods"}, name,
			fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", pre.GetUid(), pod.GetMetadata().GetUid()))
	}
	if opts.Preconditions == nil {
		// The pod evicted is the pod checked: a pod recreated under the name meanwhile is not deleted.
		opts.Preconditions = &corev1.Preconditions{Uid: proto.String(pod.GetMetadata().GetUid())}
	}
	now := s.Now()
	err = s.DB.InTx(ctx, func(tx pgx.Tx) error {
		all, err := kinds.PodDisruptionBudgets.List(ctx, tx, store.ListOptions{Namespace: ns})
		if err != nil {
			return err
		}
		var budgets []*policyv1.PodDisruptionBudget
		for _, p := range all {
			if disruption.Selects(p, pod) {
				budgets = append(budgets, p)
			}
		}
		if len(budgets) == 1 {
			// Read again under the row's lock: the decision and the write see the same budget.
			if budgets[0], err = kinds.PodDisruptionBudgets.GetForUpdate(ctx, tx, ns, budgets[0].GetMetadata().GetName()); err != nil {
				return apierr.FromStore(err, PodDisruptionBudgetGR, budgets[0].GetMetadata().GetName())
			}
		}
		d := disruption.Decide(pod, budgets, now)
		if d.Err != nil {
			return d.Err
		}
		if d.Budget == nil || dryRun {
			return nil
		}
		_, err = kinds.PodDisruptionBudgets.Update(ctx, tx, d.Budget)
		return apierr.FromStore(err, PodDisruptionBudgetGR, d.Budget.GetMetadata().GetName())
	})
	if err != nil {
		return nil, err
	}
	if !dryRun {
		if _, err := s.Pods.Delete(ctx, ns, name, opts, disruption.DisruptionTarget()); err != nil {
			return nil, err
		}
	}
	return &policyv1.CreatePodEvictionResponse{Kind: "Status", ApiVersion: "v1", Metadata: &corev1.ListMeta{}, Status: "Success"}, nil
}

func isDryRun(v []string) bool {
	for _, s := range v {
		if s == "All" {
			return true
		}
	}
	return false
}
