package validation

import (
	"testing"

	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	"github.com/podwarden/podwarden/shared/defaults"
	"github.com/podwarden/podwarden/shared/labels"
)

var tmplPath = field.NewPath("spec", "template")

func TestValidatePodTemplateSpec(t *testing.T) {
	appNginx, err := labels.FromProto(&corev1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		tmpl     string
		selector k8slabels.Selector
		want     []string
	}{
		"valid minimal": {
			tmpl:     `{"metadata":{"labels":{"app":"nginx"}},"spec":{"containers":[{"name":"nginx","image":"nginx:1.14.2","ports":[{"containerPort":80}]}]}}`,
			selector: appNginx,
		},
		"valid full": {
			tmpl: `{"metadata":{"labels":{"app":"nginx","tier":"web"},"annotations":{"example.com/x":"y"}},"spec":{
				"volumes":[{"name":"data","emptyDir":{}},{"name":"www","persistentVolumeClaim":{"claimName":"www"}}],
				"initContainers":[{"name":"init","image":"busybox","command":["true"]},{"name":"sidecar","image":"envoy","restartPolicy":"Always","readinessProbe":{"tcpSocket":{"port":9901}}}],
				"containers":[{"name":"nginx","image":"nginx:1.14.2","imagePullPolicy":"IfNotPresent",
					"ports":[{"name":"http","containerPort":80,"protocol":"TCP"},{"name":"dns","containerPort":53,"protocol":"UDP","hostPort":5353}],
					"env":[{"name":"A","value":"1"},{"name":"POD","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},{"name":"my.var-1","value":"x"}],
					"envFrom":[{"configMapRef":{"name":"cm"}}],
					"resources":{"limits":{"cpu":"1","memory":"128Mi","example.com/gpu":1},"requests":{"cpu":0.5,"memory":"64Mi","example.com/gpu":1}},
					"volumeMounts":[{"name":"data","mountPath":"/data"},{"name":"www","mountPath":"/usr/share/nginx/html","subPath":"html"}],
					"livenessProbe":{"httpGet":{"path":"/healthz","port":"http"},"initialDelaySeconds":3},
					"readinessProbe":{"exec":{"command":["cat","/tmp/ready"]}},
					"startupProbe":{"grpc":{"port":9090}},
					"lifecycle":{"preStop":{"exec":{"command":["sleep","5"]}}}}],
				"restartPolicy":"Always","dnsPolicy":"ClusterFirst","terminationGracePeriodSeconds":30,
				"nodeSelector":{"disktype":"ssd","kubernetes.io/os":"linux"},
				"tolerations":[{"key":"node-role.kubernetes.io/control-plane","effect":"NoSchedule"},{"operator":"Exists"},
					{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}],
				"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"In","values":["a","b"]}]}]},
					"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":1,"preference":{"matchExpressions":[{"key":"gen","operator":"Gt","values":["3"]}]}}]}},
				"serviceAccountName":"builder","hostname":"web-0","subdomain":"nginx"}}`,
			selector: appNginx,
		},
		"selector does not match template labels": {
			tmpl:     `{"metadata":{"labels":{"app":"two"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}`,
			selector: appNginx,
			want:     []string{"spec.template.metadata.labels: Invalid value: {\"app\":\"two\"}: `selector` does not match template `labels`"},
		},
		"no template labels": {
			tmpl:     `{"spec":{"containers":[{"name":"c","image":"nginx"}]}}`,
			selector: appNginx,
			want:     []string{"spec.template.metadata.labels: Invalid value: {}: `selector` does not match template `labels`"},
		},
		"nil selector skips the match": {
			tmpl: `{"spec":{"containers":[{"name":"c","image":"nginx"}]}}`,
		},
		"nothing selector never matches": {
			tmpl:     `{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}`,
			selector: k8slabels.Nothing(),
			want:     []string{"spec.template.metadata.labels: Invalid value: {\"app\":\"x\"}: `selector` does not match template `labels`"},
		},
		"no containers": {
			tmpl: `{"spec":{}}`,
			want: []string{"spec.template.spec.containers: Required value"},
		},
		"no spec": {
			tmpl: `{}`,
			want: []string{"spec.template.spec.containers: Required value"},
		},
		"container name and image": {
			tmpl: `{"spec":{"containers":[{"name":"","image":""},{"name":"Bad_Name","image":"x"},{"name":"dup","image":"x"},{"name":"dup","image":"x"}]}}`,
			want: []string{
				"spec.template.spec.containers[0].name: Required value",
				"spec.template.spec.containers[0].image: Required value",
				`spec.template.spec.containers[1].name: Invalid value: "Bad_Name": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
				`spec.template.spec.containers[3].name: Duplicate value: "dup"`,
			},
		},
		"init container name clashes with container": {
			tmpl: `{"spec":{"initContainers":[{"name":"c","image":"x"}],"containers":[{"name":"c","image":"x"}]}}`,
			want: []string{`spec.template.spec.initContainers[0].name: Duplicate value: "c"`},
		},
		"init container probes and restart policy": {
			tmpl: `{"spec":{"initContainers":[{"name":"i","image":"x","restartPolicy":"OnFailure","livenessProbe":{"exec":{"command":["x"]}}}],
				"containers":[{"name":"c","image":"x","restartPolicy":"Always"}]}}`,
			want: []string{
				"spec.template.spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers",
				`spec.template.spec.initContainers[0].restartPolicy: Unsupported value: "OnFailure": supported values: "Always"`,
				"spec.template.spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
			},
		},
		"ports": {
			tmpl: `{"spec":{"containers":[{"name":"c","image":"x","ports":[
				{"containerPort":0},{"containerPort":70000,"protocol":"ICMP"},{"name":"http","containerPort":80},{"name":"http","containerPort":81},
				{"name":"Not_A_Port_Name","containerPort":82},{"containerPort":83,"hostPort":-1}]}]}}`,
			want: []string{
				"spec.template.spec.containers[0].ports[0].containerPort: Required value",
				"spec.template.spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
				`spec.template.spec.containers[0].ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"`,
				`spec.template.spec.containers[0].ports[3].name: Duplicate value: "http"`,
				`spec.template.spec.containers[0].ports[4].name: Invalid value: "Not_A_Port_Name": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`,
				"spec.template.spec.containers[0].ports[5].hostPort: Invalid value: -1: must be between 1 and 65535, inclusive",
			},
		},
		"host port conflict": {
			tmpl: `{"spec":{"containers":[{"name":"a","image":"x","ports":[{"containerPort":80,"hostPort":8080}]},{"name":"b","image":"x","ports":[{"containerPort":81,"hostPort":8080,"protocol":"TCP"}]}]}}`,
			want: []string{`spec.template.spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//8080"`},
		},
		"env": {
			tmpl: `{"spec":{"containers":[{"name":"c","image":"x","env":[{"name":""},{"name":"A=B"},
				{"name":"X","value":"v","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},{"name":"Y","valueFrom":{}},
				{"name":"Z","valueFrom":{"fieldRef":{},"secretKeyRef":{}}}],"envFrom":[{"prefix":"P"}]}]}}`,
			want: []string{
				"spec.template.spec.containers[0].env[0].name: Required value",
				`spec.template.spec.containers[0].env[1].name: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='`,
				"spec.template.spec.containers[0].env[2].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty",
				"spec.template.spec.containers[0].env[3].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
				`spec.template.spec.containers[0].env[4].valueFrom: Invalid value: "": may not have more than one field specified at a time`,
				"spec.template.spec.containers[0].envFrom: Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`",
			},
		},
		"resources": {
			tmpl: `{"spec":{"containers":[{"name":"c","image":"x","resources":{
				"limits":{"cpu":"1","memory":"1Gb","example.com/gpu":2,"foo":"1"},
				"requests":{"cpu":"2","memory":"-1","example.com/gpu":1,"example.com/fpga":1}}}]}}`,
			want: []string{
				`spec.template.spec.containers[0].resources.limits[foo]: Invalid value: "foo": must be a standard resource type or fully qualified`,
				`spec.template.spec.containers[0].resources.limits[foo]: Invalid value: "foo": must be a standard resource for containers`,
				`spec.template.spec.containers[0].resources.limits[memory]: Invalid value: "1Gb": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
				`spec.template.spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1`,
				"spec.template.spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources",
				`spec.template.spec.containers[0].resources.requests: Invalid value: "1": must be equal to example.com/gpu limit of 2`,
				`spec.template.spec.containers[0].resources.requests[memory]: Invalid value: "-1": must be greater than or equal to 0`,
			},
		},
		"fractional extended resource": {
			tmpl: `{"spec":{"containers":[{"name":"c","image":"x","resources":{"limits":{"example.com/gpu":"500m"}}}]}}`,
			want: []string{`spec.template.spec.containers[0].resources.limits[example.com/gpu]: Invalid value: "500m": must be an integer`},
		},
		"policies": {
			tmpl: `{"spec":{"restartPolicy":"Sometimes","dnsPolicy":"Google","containers":[{"name":"c","image":"x","imagePullPolicy":"Maybe","terminationMessagePolicy":"Log"}]}}`,
			want: []string{
				`spec.template.spec.containers[0].terminationMessagePolicy: Unsupported value: "Log": supported values: "File", "FallbackToLogsOnError"`,
				`spec.template.spec.containers[0].imagePullPolicy: Unsupported value: "Maybe": supported values: "Always", "IfNotPresent", "Never"`,
				`spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`,
				`spec.template.spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"`,
			},
		},
		"dns policy None needs dnsConfig": {
			tmpl: `{"spec":{"dnsPolicy":"None","containers":[{"name":"c","image":"x"}]}}`,
			want: []string{"spec.template.spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"},
		},
		"grace and deadline": {
			tmpl: `{"spec":{"terminationGracePeriodSeconds":-1,"activeDeadlineSeconds":0,"containers":[{"name":"c","image":"x"}]}}`,
			want: []string{
				"spec.template.spec.terminationGracePeriodSeconds: Invalid value: -1: must be greater than or equal to 0",
				"spec.template.spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
			},
		},
		"node selector and names": {
			tmpl: `{"spec":{"nodeSelector":{"bad key":"v","ok":"bad value!"},"serviceAccountName":"Bad","nodeName":"node_1","hostname":"Web","containers":[{"name":"c","image":"x"}]}}`,
			want: []string{
				`spec.template.spec.nodeSelector: Invalid value: "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
				`spec.template.spec.nodeSelector: Invalid value: "bad value!": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
				`spec.template.spec.serviceAccountName: Invalid value: "Bad": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
				`spec.template.spec.nodeName: Invalid value: "node_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
				`spec.template.spec.hostname: Invalid value: "Web": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
			},
		},
		"template labels path": {
			tmpl: `{"metadata":{"labels":{"app":"-bad-"}},"spec":{"containers":[{"name":"c","image":"x"}]}}`,
			want: []string{
				`spec.template.labels: Invalid value: "-bad-": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
			},
		},
		"volumes and mounts": {
			tmpl: `{"spec":{"volumes":[{"name":"a","emptyDir":{}},{"name":"a","emptyDir":{}},{"name":"b","emptyDir":{},"secret":{"secretName":"s"}},
				{"name":"c","persistentVolumeClaim":{}},{"name":"d"}],
				"containers":[{"name":"c","image":"x","volumeMounts":[{"name":"a","mountPath":"/a"},{"name":"missing","mountPath":"/a"},
					{"name":"b","mountPath":"/b"},{"name":"d","mountPath":"/d","subPath":"/abs/../x"},{"name":"","mountPath":""}]}]}}`,
			want: []string{
				`spec.template.spec.volumes[1].name: Duplicate value: "a"`,
				"spec.template.spec.volumes[2].secret: Forbidden: may not specify more than 1 volume type",
				"spec.template.spec.volumes[3].persistentVolumeClaim.claimName: Required value",
				`spec.template.spec.containers[0].volumeMounts[1].name: Not found: "missing"`,
				`spec.template.spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/a": must be unique`,
				`spec.template.spec.containers[0].volumeMounts[2].name: Not found: "b"`,
				`spec.template.spec.containers[0].volumeMounts.subPath: Invalid value: "/abs/../x": must be a relative path`,
				`spec.template.spec.containers[0].volumeMounts.subPath: Invalid value: "/abs/../x": must not contain '..'`,
				"spec.template.spec.containers[0].volumeMounts[4].name: Required value",
				`spec.template.spec.containers[0].volumeMounts[4].name: Not found: ""`,
				"spec.template.spec.containers[0].volumeMounts[4].mountPath: Required value",
			},
		},
		"probes": {
			tmpl: `{"spec":{"containers":[{"name":"c","image":"x",
				"livenessProbe":{"successThreshold":2,"periodSeconds":-1},
				"readinessProbe":{"exec":{"command":[]},"httpGet":{"port":80},"terminationGracePeriodSeconds":5},
				"startupProbe":{"httpGet":{"port":0,"scheme":"FTP"}},
				"lifecycle":{"postStart":{}}}]}}`,
			want: []string{
				"spec.template.spec.containers[0].lifecycle.postStart: Required value: must specify a handler type",
				"spec.template.spec.containers[0].livenessProbe: Required value: must specify a handler type",
				"spec.template.spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0",
				"spec.template.spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
				"spec.template.spec.containers[0].readinessProbe.exec.command: Required value",
				"spec.template.spec.containers[0].readinessProbe.httpGet: Forbidden: may not specify more than 1 handler type",
				"spec.template.spec.containers[0].readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: must not be set for readinessProbes",
				"spec.template.spec.containers[0].startupProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive",
				`spec.template.spec.containers[0].startupProbe.httpGet.scheme: Unsupported value: "FTP": supported values: "HTTP", "HTTPS"`,
			},
		},
		"host network port mismatch": {
			tmpl: `{"spec":{"hostNetwork":true,"containers":[{"name":"c","image":"x","ports":[{"containerPort":80},{"containerPort":81,"hostPort":82}]}]}}`,
			want: []string{"spec.template.spec.containers[0].ports[1].hostPort: Invalid value: 82: must match `containerPort` when `hostNetwork` is true"},
		},
		"ephemeral containers forbidden": {
			tmpl: `{"spec":{"containers":[{"name":"c","image":"x"}],"ephemeralContainers":[{"name":"debug"}]}}`,
			want: []string{"spec.template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tmpl := unmarshal(t, tc.tmpl, &corev1.PodTemplateSpec{})
			checkErrs(t, ValidatePodTemplateSpec(tmpl, tc.selector, tmplPath), tc.want)
		})
	}
	checkErrs(t, ValidatePodTemplateSpec(nil, nil, tmplPath), []string{"spec.template: Required value"})
}

// TestValidateAfterDefaulting: defaulting never turns a valid template
// invalid nor an invalid one valid, and validation accepts un-defaulted input.
func TestValidateAfterDefaulting(t *testing.T) {
	tests := map[string]struct {
		tmpl    string
		wantErr bool
	}{
		"bare":             {tmpl: `{"spec":{"containers":[{"name":"c","image":"nginx","ports":[{"containerPort":80}],"livenessProbe":{"tcpSocket":{"port":80}}}],"volumes":[{"name":"v"}]}}`},
		"numeric quantity": {tmpl: `{"spec":{"containers":[{"name":"c","image":"nginx","resources":{"limits":{"cpu":0.5},"requests":{"cpu":0.25}}}]}}`},
		"invalid stays":    {tmpl: `{"spec":{"containers":[{"name":"c","image":"nginx","resources":{"limits":{"cpu":0.5},"requests":{"cpu":1}}}]}}`, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tmpl := unmarshal(t, tc.tmpl, &corev1.PodTemplateSpec{})
			before := ValidatePodTemplateSpec(tmpl, nil, tmplPath)
			defaults.DefaultPodTemplateSpec(tmpl)
			after := ValidatePodTemplateSpec(tmpl, nil, tmplPath)
			if (len(before) > 0) != tc.wantErr || (len(after) > 0) != tc.wantErr {
				t.Errorf("before defaulting %v, after %v, wantErr %v", before, after, tc.wantErr)
			}
		})
	}
}

func TestValidateRestartPolicyIn(t *testing.T) {
	tests := map[string]struct {
		policy  string
		allowed []string
		want    []string
	}{
		"replicaset default":  {policy: "", allowed: []string{"Always"}},
		"replicaset always":   {policy: "Always", allowed: []string{"Always"}},
		"replicaset never":    {policy: "Never", allowed: []string{"Always"}, want: []string{`spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`}},
		"job onfailure":       {policy: "OnFailure", allowed: []string{"OnFailure", "Never"}},
		"job always":          {policy: "Always", allowed: []string{"OnFailure", "Never"}, want: []string{`spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"`}},
		"job unset defaulted": {policy: "", allowed: []string{"OnFailure", "Never"}, want: []string{`spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tmpl := &corev1.PodTemplateSpec{Spec: &corev1.PodSpec{RestartPolicy: tc.policy}}
			checkErrs(t, ValidateRestartPolicyIn(tmpl, tc.allowed, tmplPath), tc.want)
		})
	}
}

func TestValidateNoActiveDeadline(t *testing.T) {
	v := int64(10)
	tests := map[string]struct {
		tmpl *corev1.PodTemplateSpec
		want []string
	}{
		"unset": {tmpl: &corev1.PodTemplateSpec{Spec: &corev1.PodSpec{}}},
		"set": {
			tmpl: &corev1.PodTemplateSpec{Spec: &corev1.PodSpec{ActiveDeadlineSeconds: &v}},
			want: []string{"spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			checkErrs(t, ValidateNoActiveDeadline(tc.tmpl, "ReplicaSet", tmplPath), tc.want)
		})
	}
}

func TestValidatePodTemplateSpecForStatefulSet(t *testing.T) {
	tmpl := `{"metadata":{"labels":{"app":"nginx"}},"spec":{"volumes":[{"name":"config","configMap":{"name":"c"}}],
		"containers":[{"name":"nginx","image":"nginx","volumeMounts":[{"name":"www","mountPath":"/www"},{"name":"config","mountPath":"/etc/x"}]}]}}`
	tests := map[string]struct {
		claims []string
		want   []string
	}{
		"claim provides the volume":                       {claims: []string{"www"}},
		"claim clashing with a volume is not added twice": {claims: []string{"www", "config"}},
		"no claim":      {want: []string{`spec.template.spec.containers[0].volumeMounts[0].name: Not found: "www"`}},
		"invalid claim": {claims: []string{"WWW"}, want: []string{`spec.template.spec.containers[0].volumeMounts[0].name: Not found: "www"`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tpl := unmarshal(t, tmpl, &corev1.PodTemplateSpec{})
			before := len(tpl.GetSpec().GetVolumes())
			checkErrs(t, ValidatePodTemplateSpecForStatefulSet(tpl, nil, tc.claims, tmplPath), tc.want)
			if len(tpl.GetSpec().GetVolumes()) != before {
				t.Errorf("the template was modified")
			}
		})
	}
}
