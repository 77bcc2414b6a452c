package sim

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/podwarden/podwarden/services/node/internal/podstatus"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Image pull waiting reasons (the kubelet's).
const (
	ReasonErrImagePull     = "ErrImagePull"
	ReasonImagePullBackOff = "ImagePullBackOff"
)

// AnnotationFailImagePull makes a pod's image pulls fail: "true" for every
// container, or a comma-separated list of container names (for demos).
const AnnotationFailImagePull = "sim.podwarden.io/fail-image-pull"

// DefaultMissingImages are the registry model's default patterns of images
// that do not exist: the tags tutorials and tests use to break a rollout.
var DefaultMissingImages = []string{"nonexistent", "non-existent", "doesnotexist", "does-not-exist", "404"}

// Registry is the sim's model of the image registries: every image exists
// except those a pattern marks missing. A pattern with a glob character (*,
// ?, [) matches the whole normalized reference (docker.io/library/nginx:1.27)
// or the image as written; any other pattern is a substring of the image as
// written, case-insensitive.
type Registry struct {
	Missing []string
}

// Exists reports whether image can be pulled.
func (r Registry) Exists(image string) bool {
	lower := strings.ToLower(image)
	for _, p := range r.Missing {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		if strings.ContainsAny(p, "*?[") {
			if ok, _ := path.Match(p, lower); ok {
				return false
			}
			if ok, _ := path.Match(p, strings.ToLower(NormalizeImage(image))); ok {
				return false
			}
			continue
		}
		if strings.Contains(lower, p) {
			return false
		}
	}
	return true
}

// pullFails reports whether the kubelet fails to pull container c's image.
func (s *step) pullFails(c *corev1.Container) bool {
	if v, ok := s.pod.GetMetadata().GetAnnotations()[AnnotationFailImagePull]; ok {
		if v == "true" {
			return true
		}
		for _, name := range strings.Split(v, ",") {
			if strings.TrimSpace(name) == c.GetName() {
				return true
			}
		}
	}
	return !s.d.Registry.Exists(c.GetImage())
}

// NormalizeImage is the fully qualified reference containerd resolves
// (nginx:1.27 -> docker.io/library/nginx:1.27, nginx -> ...:latest).
func NormalizeImage(image string) string {
	name, digest, _ := strings.Cut(image, "@")
	tag := ""
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, tag = name[:i], name[i+1:]
	}
	if !strings.Contains(name, "/") {
		name = "library/" + name
	}
	if first := name[:strings.Index(name, "/")]; !strings.ContainsAny(first, ".:") && first != "localhost" {
		name = "docker.io/" + name
	}
	switch {
	case digest != "":
		return name + "@" + digest
	case tag == "":
		return name + ":latest"
	}
	return name + ":" + tag
}

// PullErrorMessage is containerd's error for an image that does not exist.
func PullErrorMessage(image string) string {
	ref := NormalizeImage(image)
	return fmt.Sprintf("rpc error: code = NotFound desc = failed to pull and unpack image %q: failed to resolve reference %q: %s: not found", ref, ref, ref)
}

// pullAttempt finds the kubelet's last pull attempt at or before now, the
// first at first, then after the image back-off (base doubling up to 30x
// base: Kubernetes' 10s to 300s), and the next one.
func pullAttempt(first, now time.Time, base time.Duration) (last, next time.Time) {
	last, d := first, base
	for i := 0; i < 100000; i++ {
		next = last.Add(d)
		if next.After(now) {
			return last, next
		}
		last = next
		d = min(2*d, 30*base)
	}
	return last, last.Add(d)
}

// pullFailed puts container c in the kubelet's pull failure cycle:
// ErrImagePull right after each attempt (for a fifth of the base back-off),
// ImagePullBackOff until the next one, with the kubelet's events on each change.
func (s *step) pullFailed(c *corev1.Container, cs *corev1.ContainerStatus, first time.Time) {
	base := max(s.d.BackOff, MinBackOff)
	last, next := pullAttempt(first, s.now, base)
	fp := fmt.Sprintf("spec.containers{%s}", c.GetName())
	msg := PullErrorMessage(c.GetImage())
	prev := cs.GetState().GetWaiting().GetReason()
	cs.Image = c.GetImage()
	cs.Ready = false
	f := false
	cs.Started = &f
	if showErr := last.Add(base / 5); s.now.Before(showErr) {
		if prev != ReasonErrImagePull {
			s.event(podstatus.EventNormal, "Pulling", fmt.Sprintf("Pulling image %q", c.GetImage()), fp)
			s.event(podstatus.EventWarning, "Failed", fmt.Sprintf("Failed to pull image %q: %s", c.GetImage(), msg), fp)
			s.event(podstatus.EventWarning, "Failed", "Error: "+ReasonErrImagePull, fp)
		}
		cs.State = &corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: ReasonErrImagePull, Message: msg}}
		s.at(showErr)
		return
	}
	if prev != ReasonImagePullBackOff {
		s.event(podstatus.EventNormal, "BackOff", fmt.Sprintf("Back-off pulling image %q", c.GetImage()), fp)
		s.event(podstatus.EventWarning, "Failed", "Error: "+ReasonImagePullBackOff, fp)
	}
	cs.State = &corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: ReasonImagePullBackOff,
		Message: fmt.Sprintf("Back-off pulling image %q: %s: %s", c.GetImage(), ReasonErrImagePull, msg)}}
	s.at(next)
}
