package placement

import (
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/podwarden/podwarden/services/node/internal/fleet"
	"github.com/podwarden/podwarden/services/node/internal/ipam"
	"github.com/podwarden/podwarden/services/node/internal/scheduler"
	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// State is the scheduler's cache (kube-scheduler's internal cache): every node's usage
// (requests, pod count, pods per owner, pod IPs) and the pending pods, kept current
// from the pod and node changes the watch caches hand over (Pod, Node), and from the
// scheduler's own placements (Schedule assumes them; Forget undoes one that was not
// written). A pass then costs the pods it places, not the pods that exist: nothing is
// re-read or re-summed. Safe for concurrent use.
type State struct {
	mu      sync.Mutex
	snap    *scheduler.Snapshot
	nodes   map[string]*nodev1.Node
	pods    map[string]*podEntry // by namespace/name
	pending map[string]struct{}
	used    map[string]map[string]bool // pod IPs in use per node
	lastIP  map[string]string
}

// podEntry is a pod as last seen and what of it is counted: its requests on node
// (counted), its IP in used[node].
type podEntry struct {
	seen    *corev1.Pod
	node    string
	counted *corev1.Pod
	ip      string
	// assumed: counted is this scheduler's placement, not yet seen written.
	assumed bool
	rv      int64
}

// NewState returns an empty state.
func NewState() *State {
	return &State{
		snap:    scheduler.NewSnapshot(nil, nil),
		nodes:   map[string]*nodev1.Node{},
		pods:    map[string]*podEntry{},
		pending: map[string]struct{}{},
		used:    map[string]map[string]bool{},
		lastIP:  map[string]string{},
	}
}

func podKey(p *corev1.Pod) string {
	return p.GetMetadata().GetNamespace() + "/" + p.GetMetadata().GetName()
}

// Node records a node as it is now (deleted: gone).
func (s *State) Node(n *nodev1.Node, deleted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := n.GetMetadata().GetName()
	if old, ok := s.nodes[name]; ok && !deleted && resourceVersion(n) != 0 && resourceVersion(n) <= resourceVersion(old) {
		return
	}
	if deleted {
		delete(s.nodes, name)
		s.snap.RemoveNode(name)
		return
	}
	s.nodes[name] = n
	s.snap.SetNode(n)
}

// Pod records a pod as it is now (deleted: gone). A pod this scheduler placed stays
// counted where it was placed until a version of it shows the binding (or it is
// deleted, or Forget).
func (s *State) Pod(p *corev1.Pod, deleted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.podLocked(p, deleted)
}

func (s *State) podLocked(p *corev1.Pod, deleted bool) {
	key := podKey(p)
	e := s.pods[key]
	if deleted {
		if e != nil {
			s.uncount(e)
			delete(s.pods, key)
		}
		delete(s.pending, key)
		return
	}
	rv := resourceVersion(p)
	if e == nil {
		e = &podEntry{}
		s.pods[key] = e
	} else if rv != 0 && rv <= e.rv {
		return // already seen (a reset's list and the feed may both bring it)
	}
	e.rv = rv
	if e.assumed && !Bound(p) && p.GetMetadata().GetUid() == e.seen.GetMetadata().GetUid() &&
		p.GetMetadata().GetDeletionTimestamp() == nil {
		e.seen = p // the binding is not written yet: keep the placement
		return
	}
	s.uncount(e)
	e.seen = p
	delete(s.pending, key)
	switch {
	case Bound(p):
		s.count(e, p, p.GetSpec().GetNodeName(), inUseIP(p))
	case p.GetMetadata().GetDeletionTimestamp() == nil && !podutil.IsPodTerminal(p):
		s.pending[key] = struct{}{}
	}
}

// Reset rebuilds the state from the pods and nodes as they are (a new leadership
// term: placements assumed by an earlier one are dropped). Changes handed to Pod and
// Node meanwhile are ordered by resourceVersion, so a change the lists already show
// is not applied twice and one they miss still is.
func (s *State) Reset(pods []*corev1.Pod, nodes []*nodev1.Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snap, s.nodes, s.pods = scheduler.NewSnapshot(nil, nil), map[string]*nodev1.Node{}, map[string]*podEntry{}
	s.pending, s.used = map[string]struct{}{}, map[string]map[string]bool{}
	for _, n := range nodes {
		s.nodes[n.GetMetadata().GetName()] = n
		s.snap.SetNode(n)
	}
	for _, p := range pods {
		s.podLocked(p, false)
	}
}

func resourceVersion(o interface{ GetMetadata() *corev1.ObjectMeta }) int64 {
	rv, _ := strconv.ParseInt(o.GetMetadata().GetResourceVersion(), 10, 64)
	return rv
}

// inUseIP is the pod IP a bound pod holds ("" on the host network or once terminal:
// the node service releases it, as the pod_ips table does).
func inUseIP(p *corev1.Pod) string {
	if p.GetSpec().GetHostNetwork() || podutil.IsPodTerminal(p) {
		return ""
	}
	return p.GetStatus().GetPodIp()
}

func (s *State) count(e *podEntry, p *corev1.Pod, node, ip string) {
	e.node, e.counted, e.ip = node, p, ip
	s.snap.AddPod(p, node)
	if ip != "" {
		if s.used[node] == nil {
			s.used[node] = map[string]bool{}
		}
		s.used[node][ip] = true
	}
}

func (s *State) uncount(e *podEntry) {
	if e.counted != nil {
		s.snap.RemovePod(e.counted, e.node)
		if e.ip != "" {
			delete(s.used[e.node], e.ip)
			if len(s.used[e.node]) == 0 {
				delete(s.used, e.node)
			}
		}
	}
	e.node, e.counted, e.ip, e.assumed = "", nil, "", false
}

// Forget undoes the placement of a pod whose binding was not written (it changed
// meanwhile, or the write failed): it is pending again as last seen.
func (s *State) Forget(p *corev1.Pod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := podKey(p)
	e := s.pods[key]
	if e == nil || !e.assumed {
		return
	}
	s.uncount(e)
	e.rv = 0 // seen again as it was last seen
	s.podLocked(e.seen, false)
}

// Pending is the number of pods waiting for a node.
func (s *State) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// Schedule is one scheduling pass over the pending pods, oldest first (then by
// namespace/name), as Decide does, assuming each placement (resources and IP) so the
// next pod and the next pass see it until the binding shows in Pod or is Forgotten.
func (s *State) Schedule(now time.Time, delay time.Duration) Plan {
	s.mu.Lock()
	defer s.mu.Unlock()
	pending := make([]*corev1.Pod, 0, len(s.pending))
	for key := range s.pending {
		pending = append(pending, s.pods[key].seen)
	}
	sortPending(pending)
	var plan Plan
	for _, p := range pending {
		if delay > 0 {
			if d := p.GetMetadata().GetCreationTimestamp().AsTime().Add(delay).Sub(now); d > 0 {
				if plan.Requeue == 0 || d < plan.Requeue {
					plan.Requeue = d
				}
				continue
			}
		}
		b, fail := s.place(p)
		if fail != nil {
			plan.Unschedulable = append(plan.Unschedulable, *fail)
			continue
		}
		if b == nil {
			continue
		}
		key := podKey(p)
		e := s.pods[key]
		delete(s.pending, key)
		ip := b.PodIP
		if p.GetSpec().GetHostNetwork() {
			ip = ""
		}
		s.count(e, p, b.Node, ip)
		e.assumed = true
		plan.Bindings = append(plan.Bindings, *b)
	}
	return plan
}

// place decides one pod: a binding, or why not (nil, nil: it waits for its preset node).
func (s *State) place(p *corev1.Pod) (*Binding, *Unschedulable) {
	name, reason := s.snap.Schedule(p)
	if name == "" {
		if p.GetSpec().GetNodeName() == "" {
			return nil, &Unschedulable{Pod: p, Reason: reason}
		}
		return nil, nil
	}
	node := s.nodes[name]
	b := &Binding{Pod: p, Node: name, HostIP: fleet.InternalIP(node)}
	if p.GetSpec().GetHostNetwork() {
		b.PodIP = b.HostIP
		return b, nil
	}
	used := s.used[name]
	if used == nil {
		used = map[string]bool{}
		s.used[name] = used
	}
	ip, err := ipam.Allocate(node.GetSpec().GetPodCidr(), used, s.lastIP[name])
	if err != nil {
		return nil, &Unschedulable{Pod: p, Reason: fmt.Sprintf("failed to allocate a pod IP on node %s: %v", name, err)}
	}
	s.lastIP[name] = ip
	b.PodIP = ip
	return b, nil
}

// sortPending orders pods oldest first, then by namespace/name.
func sortPending(pending []*corev1.Pod) {
	sort.SliceStable(pending, func(i, j int) bool {
		a, b := pending[i].GetMetadata().GetCreationTimestamp().AsTime(), pending[j].GetMetadata().GetCreationTimestamp().AsTime()
		if !a.Equal(b) {
			return a.Before(b)
		}
		return podKey(pending[i]) < podKey(pending[j])
	})
}
