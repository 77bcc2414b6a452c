package service

import (
	"strings"
	"testing"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func TestShouldRoute(t *testing.T) {
	tests := map[string]struct {
		mode   string
		inInit bool
		want   bool
	}{
		"auto in the machine's own network namespace: no route there": {mode: SandboxAuto, inInit: true, want: false},
		"auto in a namespace of its own: route":                       {mode: SandboxAuto, inInit: false, want: true},
		"empty is auto":                                               {mode: "", inInit: true, want: false},
		"on routes even in the machine's namespace":                   {mode: SandboxOn, inInit: true, want: true},
		"off never routes":                                            {mode: SandboxOff, inInit: false, want: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := shouldRoute(tc.mode, tc.inInit); got != tc.want {
				t.Errorf("shouldRoute(%q, %v) = %v, want %v", tc.mode, tc.inInit, got, tc.want)
			}
		})
	}
}

func TestValidSandbox(t *testing.T) {
	for _, ok := range []string{"", "auto", "on", "off"} {
		if err := validSandbox("sandbox", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	if err := validSandbox("sandbox", "yes"); err == nil || err.Error() != `sandbox "yes": want auto, on or off` {
		t.Errorf("yes: %v", err)
	}
}

func TestPodHostname(t *testing.T) {
	long := strings.Repeat("a", 62) + "-bcd"
	for in, want := range map[string]string{"web-1": "web-1", long: strings.Repeat("a", 62), strings.Repeat("b", 70): strings.Repeat("b", 63)} {
		if got := podHostname(in); got != want {
			t.Errorf("podHostname(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHostNetworkPodsGetNoSandbox(t *testing.T) {
	p := &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: "h"}, Spec: &corev1.PodSpec{HostNetwork: true}}
	// No pod network is touched (n is nil): the pod is on the node's network.
	if sb, err := (sandboxes{}).Sandbox(p); sb != nil || err != nil {
		t.Errorf("Sandbox = %v, %v; want none", sb, err)
	}
}
