package defaults

import "testing"

func TestPullPolicy(t *testing.T) {
	tests := map[string]struct {
		image string
		want  string
	}{
		"no tag":                {image: "nginx", want: "Always"},
		"latest":                {image: "nginx:latest", want: "Always"},
		"versioned":             {image: "nginx:1.23", want: "IfNotPresent"},
		"registry with port":    {image: "localhost:5000/nginx", want: "Always"},
		"registry port and tag": {image: "localhost:5000/team/nginx:1.0", want: "IfNotPresent"},
		"fqdn registry":         {image: "registry.k8s.io/pause:3.9", want: "IfNotPresent"},
		"library path":          {image: "docker.io/library/busybox", want: "Always"},
		"digest":                {image: "nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31", want: "IfNotPresent"},
		"tag and digest":        {image: "nginx:latest@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31", want: "Always"},
		"bad digest":            {image: "nginx@sha256:xyz", want: "IfNotPresent"},
		"uppercase repo":        {image: "Nginx", want: "IfNotPresent"},
		"empty":                 {image: "", want: "IfNotPresent"},
		"perl":                  {image: "perl:5.34.0", want: "IfNotPresent"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := PullPolicy(tc.image); got != tc.want {
				t.Errorf("PullPolicy(%q) = %q, want %q", tc.image, got, tc.want)
			}
		})
	}
}
