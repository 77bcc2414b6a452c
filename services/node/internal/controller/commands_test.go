package controller

import (
	"strings"
	"testing"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	eventsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/events/v1"
)

// TestRuns: a batch is split into its maximal runs of one op, in the stream's order.
func TestRuns(t *testing.T) {
	cmd := func(s string) *eventsv1.PodCommand {
		op := map[byte]eventsv1.PodCommand_Op{'c': eventsv1.PodCommand_OP_CREATE, 'd': eventsv1.PodCommand_OP_DELETE, 'u': eventsv1.PodCommand_OP_UPDATE}[s[0]]
		return &eventsv1.PodCommand{Op: op, Pod: &corev1.Pod{Metadata: &corev1.ObjectMeta{Namespace: "ns", Name: s[1:]}}}
	}
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"ca cb cc", "ca cb cc"},
		{"da cb", "da | cb"},                     // a deletion, then a replacement: never the other way round
		{"ca cb db dc ce", "ca cb | db dc | ce"}, // a roll's surge then its scale-down
		{"ca ua ub da", "ca | ua ub | da"},       // one pod's commands keep their order too
		{"da db dc ca cb uc", "da db dc | ca cb | uc"},
	} {
		var in []*eventsv1.PodCommand
		for _, f := range strings.Fields(tc.in) {
			in = append(in, cmd(f))
		}
		var got []string
		for _, run := range runs(in) {
			var names []string
			for _, c := range run {
				names = append(names, map[eventsv1.PodCommand_Op]string{eventsv1.PodCommand_OP_CREATE: "c", eventsv1.PodCommand_OP_DELETE: "d", eventsv1.PodCommand_OP_UPDATE: "u"}[c.GetOp()]+c.GetPod().GetMetadata().GetName())
			}
			got = append(got, strings.Join(names, " "))
		}
		if g := strings.Join(got, " | "); g != tc.want {
			t.Errorf("runs(%s) = %s, want %s", tc.in, g, tc.want)
		}
	}
}
