package server

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/jackc/pgx/v5"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/services/node/internal/ipam"
	"github.com/podwarden/podwarden/services/node/internal/repo"
	"github.com/podwarden/podwarden/shared/apierr"

	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// maxAllocationTries bounds the random picks of a free ClusterIP or node port.
const maxAllocationTries = 32

// allocate gives svc (its uid set) its ClusterIP and node ports in tx, like
// kube-apiserver's allocators: a requested address or port is claimed (an
// error naming the field when it is taken or out of range), a missing one is
// picked at random; what the old version held and svc no longer uses is
// released. It then fills ipFamilies and ipFamilyPolicy.
func allocate(ctx context.Context, tx pgx.Tx, svc, old *nodev1.Service) error {
	sp, uid := svc.Spec, svc.Metadata.Uid
	r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	spec := field.NewPath("spec")
	var errs field.ErrorList
	var keepIPs []string
	if sp.Type != TypeExternalName && !isHeadless(sp) {
		if sp.ClusterIp == "" {
			ip, err := randomClusterIP(ctx, tx, r, uid)
			if err != nil {
				return err
			}
			sp.ClusterIp, sp.ClusterIps = ip, []string{ip}
		} else {
			ip := sp.ClusterIp
			if !ipam.InServiceRange(ip) {
				errs = append(errs, field.Invalid(spec.Child("clusterIPs"), sp.ClusterIps, fmt.Sprintf(
					"failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s", ip, ip, ipam.ServiceCIDR)))
			} else if ok, err := repo.ClaimServiceIP(ctx, tx, ip, uid); err != nil {
				return apierr.Internal(err)
			} else if !ok {
				errs = append(errs, field.Invalid(spec.Child("clusterIPs"), sp.ClusterIps, fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", ip)))
			}
		}
		keepIPs = []string{sp.ClusterIp}
	}
	if isHeadless(sp) {
		sp.ClusterIp, sp.ClusterIps = ClusterIPNone, []string{ClusterIPNone}
	}
	var keepPorts []int32
	if sp.Type == TypeNodePort || sp.Type == TypeLoadBalancer {
		var used map[int32]bool
		byPort := map[int32]int32{} // the same port number for TCP and UDP shares a node port
		for i, p := range sp.Ports {
			if p.NodePort == 0 && !needsNodePorts(sp) {
				continue
			}
			fp := spec.Child("ports").Index(i).Child("nodePort")
			if p.NodePort == 0 {
				if np, ok := byPort[p.Port]; ok {
					p.NodePort = np
					continue
				}
				np, err := randomNodePort(ctx, tx, r, uid, &used)
				if err != nil {
					return err
				}
				if np == 0 {
					errs = append(errs, field.Invalid(fp, 0, "failed to allocate a nodePort: range is full"))
					continue
				}
				p.NodePort = np
			} else if e := claimNodePort(ctx, tx, p.NodePort, uid, fp); e != nil {
				errs = append(errs, e)
				continue
			}
			byPort[p.Port] = p.NodePort
			keepPorts = append(keepPorts, p.NodePort)
		}
		if sp.Type == TypeLoadBalancer && sp.ExternalTrafficPolicy == "Local" {
			fp := spec.Child("healthCheckNodePort")
			if sp.HealthCheckNodePort == 0 {
				np, err := randomNodePort(ctx, tx, r, uid, &used)
				if err != nil {
					return err
				}
				sp.HealthCheckNodePort = np
			} else if e := claimNodePort(ctx, tx, sp.HealthCheckNodePort, uid, fp); e != nil {
				errs = append(errs, e)
			}
			keepPorts = append(keepPorts, sp.HealthCheckNodePort)
		}
	}
	if len(errs) > 0 {
		return apierr.Invalid(serviceGK, svc.Metadata.Name, errs)
	}
	if old != nil {
		if err := repo.ReleaseServiceIPs(ctx, tx, uid, keepIPs...); err != nil {
			return apierr.Internal(err)
		}
		if err := repo.ReleaseNodePorts(ctx, tx, uid, keepPorts...); err != nil {
			return apierr.Internal(err)
		}
	}
	defaultIPFamilies(sp)
	return nil
}

func randomClusterIP(ctx context.Context, tx pgx.Tx, r *rand.Rand, uid string) (string, error) {
	for range maxAllocationTries {
		ip := ipam.RandomServiceIP(r)
		ok, err := repo.ClaimServiceIP(ctx, tx, ip, uid)
		if err != nil {
			return "", apierr.Internal(err)
		}
		if ok {
			return ip, nil
		}
	}
	return "", apierr.Internal(fmt.Errorf("failed to allocate a serviceIP: range is full"))
}

// randomNodePort claims a free node port; 0 when the range is full.
func randomNodePort(ctx context.Context, tx pgx.Tx, r *rand.Rand, uid string, used *map[int32]bool) (int32, error) {
	for range maxAllocationTries {
		if *used == nil {
			u, err := repo.UsedNodePorts(ctx, tx)
			if err != nil {
				return 0, apierr.Internal(err)
			}
			*used = u
		}
		np := ipam.RandomNodePort(r, *used)
		if np == 0 {
			return 0, nil
		}
		(*used)[np] = true
		ok, err := repo.ClaimNodePort(ctx, tx, np, uid)
		if err != nil {
			return 0, apierr.Internal(err)
		}
		if ok {
			return np, nil
		}
	}
	return 0, nil
}

func claimNodePort(ctx context.Context, tx pgx.Tx, np int32, uid string, fp *field.Path) *field.Error {
	if !ipam.InNodePortRange(np) {
		return field.Invalid(fp, np, "provided port is not in the valid range. The range of valid ports is "+ipam.NodePortRange)
	}
	ok, err := repo.ClaimNodePort(ctx, tx, np, uid)
	if err != nil {
		return field.InternalError(fp, err)
	}
	if !ok {
		return field.Invalid(fp, np, "provided port is already allocated")
	}
	return nil
}

// keepAllocated is the Service update strategy's patchAllocatedValues and
// dropTypeDependentFields: a PUT that leaves out clusterIP, clusterIPs, node
// ports or IP families keeps what was allocated; a type change drops what the
// new type does not use, when the client left it as it was.
func keepAllocated(sp, old *nodev1.ServiceSpec) {
	if sp.ClusterIp != old.ClusterIp && len(sp.ClusterIps) > 0 && equalStrings(sp.ClusterIps, old.ClusterIps) {
		// The singular field changed and the plural did not: follow the singular.
		sp.ClusterIps = nil
		if sp.ClusterIp != "" {
			sp.ClusterIps = []string{sp.ClusterIp}
		}
	}
	if sp.Type != TypeExternalName && old.Type != TypeExternalName {
		if sp.ClusterIp == "" && len(sp.ClusterIps) == 0 {
			sp.ClusterIp, sp.ClusterIps = old.ClusterIp, old.ClusterIps
		}
		if len(sp.IpFamilies) == 0 {
			sp.IpFamilies = old.IpFamilies
		}
		if sp.IpFamilyPolicy == nil {
			sp.IpFamilyPolicy = old.IpFamilyPolicy
		}
	}
	if (old.Type == TypeNodePort || old.Type == TypeLoadBalancer) && (sp.Type == TypeNodePort || sp.Type == TypeLoadBalancer) {
		for _, p := range sp.Ports {
			if p.GetNodePort() != 0 {
				continue
			}
			for _, op := range old.Ports {
				if op.GetPort() == p.GetPort() && op.GetProtocol() == p.GetProtocol() {
					p.NodePort = op.GetNodePort()
				}
			}
		}
		if sp.HealthCheckNodePort == 0 && sp.ExternalTrafficPolicy == old.ExternalTrafficPolicy {
			sp.HealthCheckNodePort = old.HealthCheckNodePort
		}
	}
	if sp.Type == TypeExternalName && old.Type != TypeExternalName {
		if sp.ClusterIp == old.ClusterIp {
			sp.ClusterIp = ""
		}
		if equalStrings(sp.ClusterIps, old.ClusterIps) {
			sp.ClusterIps = nil
		}
		if equalStrings(sp.IpFamilies, old.IpFamilies) {
			sp.IpFamilies = nil
		}
		if sp.GetIpFamilyPolicy() == old.GetIpFamilyPolicy() {
			sp.IpFamilyPolicy = nil
		}
	}
	if sp.Type != TypeNodePort && sp.Type != TypeLoadBalancer {
		for i, p := range sp.Ports {
			if i < len(old.Ports) && p.GetNodePort() == old.Ports[i].GetNodePort() {
				p.NodePort = 0
			}
		}
	}
	if !(sp.Type == TypeLoadBalancer && sp.ExternalTrafficPolicy == "Local") && sp.HealthCheckNodePort == old.HealthCheckNodePort {
		sp.HealthCheckNodePort = 0
	}
	if !externallyAccessible(sp) && sp.ExternalTrafficPolicy == old.ExternalTrafficPolicy {
		sp.ExternalTrafficPolicy = ""
	}
	if sp.Type != TypeLoadBalancer && sp.GetAllocateLoadBalancerNodePorts() == old.GetAllocateLoadBalancerNodePorts() {
		sp.AllocateLoadBalancerNodePorts = nil
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
