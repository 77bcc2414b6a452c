package deployments

import (
	"strings"
	"testing"
)

// baseline is a small valid set; each case below breaks it in one way and
// expects the checker to name the defect.
const baseline = `
# a document with only a comment is skipped
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: podwarden, labels: {app.kubernetes.io/name: web, app.kubernetes.io/part-of: podwarden}}
spec:
  replicas: 1
  selector: {matchLabels: {app.kubernetes.io/name: web, tier: frontend}}
  template:
    metadata: {labels: {tier: frontend, app.kubernetes.io/name: web, app.kubernetes.io/part-of: podwarden}}
    spec:
      containers:
        - name: web
          image: example/web:1
          env:
            - {name: LEVEL, valueFrom: {configMapKeyRef: {name: web, key: LEVEL}}}
          ports: [{name: http, containerPort: 8080}]
          readinessProbe: {httpGet: {path: /readyz, port: http}}
          livenessProbe: {httpGet: {path: /healthz, port: http}}
          resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {cpu: 100m, memory: 64Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: podwarden, labels: {app.kubernetes.io/name: web, app.kubernetes.io/part-of: podwarden}}
spec:
  selector: {app.kubernetes.io/name: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web, namespace: podwarden, labels: {app.kubernetes.io/name: web, app.kubernetes.io/part-of: podwarden}}
data: {LEVEL: info, PODWARDEN_WEB_ADDR: "web:80"}
`

func TestCheckerRejects(t *testing.T) {
	tests := map[string]struct {
		old, new string // replace the first old by new in baseline
		wantErr  string // "" means the set is valid
	}{
		"baseline is valid": {},
		"unknown field": {
			old: "replicas: 1", new: "replica: 1",
			wantErr: `unknown field "spec.replica"`,
		},
		"field with wrong case": {
			old: "containerPort: 8080", new: "containerport: 8080",
			wantErr: `unknown field "spec.template.spec.containers[0].ports[0].containerport"`,
		},
		"duplicate key": {
			old: "  replicas: 1\n", new: "  replicas: 1\n  replicas: 2\n",
			wantErr: `key "replicas" already set`,
		},
		"wrong value type": {
			old: "replicas: 1", new: "replicas: one",
			wantErr: `decode Deployment`,
		},
		"unknown kind": {
			old: "kind: Service", new: "kind: Ingress",
			wantErr: "unknown kind Ingress",
		},
		"unknown apiVersion": {
			old: "apiVersion: apps/v1", new: "apiVersion: apps/v1beta2",
			wantErr: "unknown kind Deployment in apiVersion apps/v1beta2",
		},
		"missing kind": {
			old: "kind: ConfigMap\n", new: "",
			wantErr: "apiVersion and kind are required",
		},
		"missing name": {
			old: "{name: web, namespace: podwarden,", new: "{namespace: podwarden,",
			wantErr: "metadata.name is missing",
		},
		"invalid name": {
			old: "{name: web, namespace: podwarden,", new: "{name: Web_1, namespace: podwarden,",
			wantErr: "metadata.name",
		},
		"wrong namespace": {
			old: "{name: web, namespace: podwarden,", new: "{name: web, namespace: default,",
			wantErr: `metadata.namespace = "default"`,
		},
		"missing part-of label": {
			old: "labels: {app.kubernetes.io/name: web, app.kubernetes.io/part-of: podwarden}}", new: "labels: {app.kubernetes.io/name: web}}",
			wantErr: "label app.kubernetes.io/part-of",
		},
		"duplicate object": {
			old: "data: {LEVEL: info, PODWARDEN_WEB_ADDR: \"web:80\"}\n",
			new: "data: {LEVEL: info, PODWARDEN_WEB_ADDR: \"web:80\"}\n---\napiVersion: v1\nkind: ConfigMap\n" +
				"metadata: {name: web, namespace: podwarden, labels: {app.kubernetes.io/name: web, app.kubernetes.io/part-of: podwarden}}\n",
			wantErr: "duplicate of",
		},
		"selector does not match template": {
			old: "{labels: {tier: frontend,", new: "{labels: {tier: backend,",
			wantErr: "does not match spec.template.metadata.labels",
		},
		"no selector": {
			old: "  selector: {matchLabels: {app.kubernetes.io/name: web, tier: frontend}}\n", new: "",
			wantErr: "spec.selector is missing",
		},
		"no readiness probe": {
			old: "          readinessProbe: {httpGet: {path: /readyz, port: http}}\n", new: "",
			wantErr: "readinessProbe is missing",
		},
		"no liveness probe": {
			old: "          livenessProbe: {httpGet: {path: /healthz, port: http}}\n", new: "",
			wantErr: "livenessProbe is missing",
		},
		"probe on an undeclared port": {
			old: "{path: /readyz, port: http}", new: "{path: /readyz, port: 9090}",
			wantErr: "httpGet port 9090 is not a containerPort",
		},
		"probe without handler": {
			old: "readinessProbe: {httpGet: {path: /readyz, port: http}}", new: "readinessProbe: {periodSeconds: 5}",
			wantErr: "no handler",
		},
		"no resource limits": {
			old: ", limits: {cpu: 100m, memory: 64Mi}", new: "",
			wantErr: "resources.limits.cpu is missing",
		},
		"image without tag": {
			old: "image: example/web:1", new: "image: example/web",
			wantErr: "pin a tag",
		},
		"service selects nothing": {
			old: "selector: {app.kubernetes.io/name: web}", new: "selector: {app.kubernetes.io/name: api}",
			wantErr: "matches no workload",
		},
		"service without selector": {
			old: "  selector: {app.kubernetes.io/name: web}\n", new: "",
			wantErr: "spec.selector is empty",
		},
		"service targets an undeclared port": {
			old: "targetPort: http", new: "targetPort: metrics",
			wantErr: `targetPort metrics/TCP is not a containerPort`,
		},
		"service protocol differs from the container's": {
			old: "targetPort: http}", new: "targetPort: http, protocol: UDP}",
			wantErr: `targetPort http/UDP is not a containerPort`,
		},
		"env refers to a missing ConfigMap key": {
			old: "key: LEVEL", new: "key: VERBOSITY",
			wantErr: `ConfigMap "web" has no key "VERBOSITY"`,
		},
		"peer address on a missing port": {
			old: `PODWARDEN_WEB_ADDR: "web:80"`, new: `PODWARDEN_WEB_ADDR: "web:81"`,
			wantErr: `Service "web" has no port 81`,
		},
		"peer address to a missing service": {
			old: `PODWARDEN_WEB_ADDR: "web:80"`, new: `PODWARDEN_WEB_ADDR: "api:80"`,
			wantErr: `no Service "api"`,
		},
		"grpc listen port not declared": {
			old: "            - {name: LEVEL,", new: "            - {name: PODWARDEN_GRPC_ADDR, value: \"0.0.0.0:9000\"}\n            - {name: LEVEL,",
			wantErr: "PODWARDEN_GRPC_ADDR port 9000 is not a containerPort",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			doc := baseline
			if tc.old != "" {
				if !strings.Contains(doc, tc.old) {
					t.Fatalf("test bug: baseline has no %q", tc.old)
				}
				doc = strings.Replace(doc, tc.old, tc.new, 1)
			}
			objs, errs := decodeDocuments("case.yaml", []byte(doc))
			if len(errs) == 0 {
				errs = checkSet(objs)
			}
			if tc.wantErr == "" {
				if len(errs) > 0 {
					t.Fatalf("want no errors, got:%s", joinErrs(errs))
				}
				return
			}
			for _, err := range errs {
				if strings.Contains(err.Error(), tc.wantErr) {
					return
				}
			}
			t.Fatalf("want an error containing %q, got:%s", tc.wantErr, joinErrs(errs))
		})
	}
}

func TestCheckerRequiresGatewayAddress(t *testing.T) {
	doc := strings.Replace(baseline, "            - {name: LEVEL,",
		"            - {name: PODWARDEN_GRPC_ADDR, value: \"0.0.0.0:8080\"}\n            - {name: LEVEL,", 1)
	doc = strings.Replace(doc, `PODWARDEN_WEB_ADDR: "web:80"`, `LOG: debug`, 1)
	doc = strings.ReplaceAll(doc, "{httpGet: {path: /readyz, port: http}}", "{grpc: {port: 8080}}")
	objs, errs := decodeDocuments("case.yaml", []byte(doc))
	if len(errs) > 0 {
		t.Fatalf("decode:%s", joinErrs(errs))
	}
	errs = checkSet(objs)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "nothing sets PODWARDEN_WEB_ADDR") {
		t.Fatalf("want exactly the missing gateway address, got:%s", joinErrs(errs))
	}
}
