package service

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/podwarden/podwarden/services/node/internal/repo"
	"github.com/podwarden/podwarden/services/node/internal/sandbox"
	"github.com/podwarden/podwarden/services/node/internal/streams"
	"github.com/podwarden/podwarden/shared/app"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// servicePorts is what kube-proxy programs for the Services: each port of a
// Service with a ClusterIP, with the ready addresses of its Endpoints at the
// matching endpoint port (same name, same protocol) and its NodePort.
// Headless and ExternalName Services have no rules.
func servicePorts(svcs []*nodev1.Service, eps map[string]*nodev1.Endpoints) []sandbox.ServicePort {
	var out []sandbox.ServicePort
	for _, svc := range svcs {
		ip, err := netip.ParseAddr(svc.GetSpec().GetClusterIp())
		if err != nil || !ip.Is4() || svc.GetSpec().GetType() == "ExternalName" {
			continue
		}
		m := svc.GetMetadata()
		ep := eps[m.GetNamespace()+"/"+m.GetName()]
		for _, p := range svc.GetSpec().GetPorts() {
			proto := protocolOf(p.GetProtocol())
			sp := sandbox.ServicePort{Name: m.GetNamespace() + "/" + m.GetName() + ":" + p.GetName(), ClusterIP: ip, Protocol: proto, Port: uint16(p.GetPort())}
			switch svc.GetSpec().GetType() {
			case "NodePort", "LoadBalancer":
				sp.NodePort = uint16(p.GetNodePort())
			}
			for _, ss := range ep.GetSubsets() {
				for _, epp := range ss.GetPorts() {
					if epp.GetName() != p.GetName() || protocolOf(epp.GetProtocol()) != proto {
						continue
					}
					for _, a := range ss.GetAddresses() {
						if addr, err := netip.ParseAddr(a.GetIp()); err == nil && addr.Is4() {
							sp.Endpoints = append(sp.Endpoints, netip.AddrPortFrom(addr, uint16(epp.GetPort())))
						}
					}
				}
			}
			out = append(out, sp)
		}
	}
	return out
}

func protocolOf(p string) string {
	if p == "" {
		return "TCP"
	}
	return p
}

// proxyServices keeps the pod network's service rules in step with the
// Services and Endpoints caches (woken by their changes, resynced every 10 s).
func proxyServices(ctx context.Context, a *app.App, n *sandbox.Network, svcs *watch.Cache[*nodev1.Service], eps *watch.Cache[*nodev1.Endpoints]) {
	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	svcs.OnChange(func(watch.Event[*nodev1.Service]) { poke() })
	eps.OnChange(func(watch.Event[*nodev1.Endpoints]) { poke() })
	if svcs.Synced(ctx) != nil || eps.Synced(ctx) != nil {
		return
	}
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		byKey := map[string]*nodev1.Endpoints{}
		for _, e := range eps.Select(store.ListOptions{}) {
			byKey[repo.Key(e.GetMetadata())] = e
		}
		if err := n.SetServices(servicePorts(svcs.Select(store.ListOptions{}), byKey)); err != nil {
			a.Log.Error("service rules", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
			// Coalesce a burst of changes.
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		case <-t.C:
		}
	}
}

// serveSimPods answers, inside the pod network, connections to the IPs of pods
// without a sandbox on port 80: the simulated web server of a running
// simulated nginx or httpd container (so curl <pod IP>, a ClusterIP or a
// NodePort reaches it), else the connection is closed.
func serveSimPods(ctx context.Context, a *app.App, n *sandbox.Network, pods *watch.Cache[*corev1.Pod]) error {
	ln, err := n.ListenPodnet(":80")
	if err != nil {
		return err
	}
	context.AfterFunc(ctx, func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				ip := c.LocalAddr().(*net.TCPAddr).IP.String()
				if h := streams.SimServer(podByIP(pods, ip), 80); h != nil {
					_ = streams.ServeConn(h, c)
					return
				}
				c.Close()
			}()
		}
	}()
	return nil
}

// podByIP is the live pod with ip (nil when none).
func podByIP(pods *watch.Cache[*corev1.Pod], ip string) *corev1.Pod {
	for _, p := range pods.Select(store.ListOptions{}) {
		if p.GetStatus().GetPodIp() == ip && p.GetMetadata().GetDeletionTimestamp() == nil {
			return p
		}
	}
	return nil
}

// serveSimWeb serves a simulated web server's port inside the pod's sandbox,
// for the life of the sandbox.
func serveSimWeb(sb *sandbox.Sandbox, h http.Handler, port int32) error {
	ln, err := sb.Listen(net.JoinHostPort("", itoa(port)))
	if err != nil {
		return err
	}
	sb.AddCloser(ln)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = streams.ServeConn(h, c) }()
		}
	}()
	return nil
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }
