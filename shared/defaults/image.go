package defaults

import (
	"regexp"
	"strings"
)

// The parts of the Docker reference grammar (github.com/distribution/reference)
// that Kubernetes' parsers.ParseImageName accepts.
var (
	pathComponentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)
	domainRE        = regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$|^\[[a-fA-F0-9:]+\](?::[0-9]+)?$`)
	tagRE           = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	digestRE        = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$`)
)

// imageTag returns the tag and digest of an image reference like Kubernetes'
// parsers.ParseImageName: no tag and no digest means tag "latest"; an
// unparsable reference gives ok false.
func imageTag(image string) (tag, digest string, ok bool) {
	name := image
	if i := strings.Index(name, "@"); i >= 0 {
		name, digest = name[:i], name[i+1:]
		if !digestRE.MatchString(digest) {
			return "", "", false
		}
	}
	if i := strings.LastIndex(name, ":"); i >= 0 && !strings.Contains(name[i+1:], "/") {
		name, tag = name[:i], name[i+1:]
		if !tagRE.MatchString(tag) {
			return "", "", false
		}
	}
	if name == "" || len(name) > 255 {
		return "", "", false
	}
	components := strings.Split(name, "/")
	first := components[0]
	if len(components) > 1 && (strings.ContainsAny(first, ".:") || first == "localhost" || strings.ToLower(first) != first) {
		if !domainRE.MatchString(first) {
			return "", "", false
		}
		components = components[1:]
	}
	for _, c := range components {
		if !pathComponentRE.MatchString(c) {
			return "", "", false
		}
	}
	if tag == "" && digest == "" {
		tag = "latest"
	}
	return tag, digest, true
}

// PullPolicy is Kubernetes' default imagePullPolicy for an image: Always when
// the tag is "latest" (or missing, without a digest), IfNotPresent otherwise
// (including digests and references that do not parse).
func PullPolicy(image string) string {
	tag, _, ok := imageTag(image)
	if ok && tag == "latest" {
		return PullAlways
	}
	return PullIfNotPresent
}
