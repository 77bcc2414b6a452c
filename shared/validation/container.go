package validation

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	"github.com/podwarden/podwarden/shared/defaults"
)

func validateDNS1123Label(value string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(value) {
		allErrs = append(allErrs, field.Invalid(fldPath, value, msg))
	}
	return allErrs
}

func validateDNS1123Subdomain(value string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(value) {
		allErrs = append(allErrs, field.Invalid(fldPath, value, msg))
	}
	return allErrs
}

// validateContainers checks the regular containers: at least one, each with
// the common checks, unique names, probes, no restartPolicy, no host port
// conflicts.
func validateContainers(containers []*corev1.Container, vols map[string]*corev1.Volume, fldPath *field.Path) field.ErrorList {
	if len(containers) == 0 {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var allErrs field.ErrorList
	names := map[string]bool{}
	for i, c := range containers {
		p := fldPath.Index(i)
		allErrs = append(allErrs, validateContainerCommon(c, vols, p)...)
		if names[c.GetName()] {
			allErrs = append(allErrs, field.Duplicate(p.Child("name"), c.GetName()))
		} else {
			names[c.GetName()] = true
		}
		allErrs = append(allErrs, validateLifecycle(c.GetLifecycle(), p.Child("lifecycle"))...)
		allErrs = append(allErrs, validateLivenessProbe(c.GetLivenessProbe(), p.Child("livenessProbe"))...)
		allErrs = append(allErrs, validateReadinessProbe(c.GetReadinessProbe(), p.Child("readinessProbe"))...)
		allErrs = append(allErrs, validateLivenessProbe(c.GetStartupProbe(), p.Child("startupProbe"))...)
		if c.RestartPolicy != nil {
			allErrs = append(allErrs, field.Forbidden(p.Child("restartPolicy"), "may not be set for non-init containers"))
		}
	}
	return append(allErrs, checkHostPortConflicts(containers, fldPath)...)
}

// validateInitContainers checks init containers: the common checks, names
// unique across init and regular containers, restartPolicy only Always
// (sidecars), probes and lifecycle only on sidecars.
func validateInitContainers(inits, regular []*corev1.Container, vols map[string]*corev1.Volume, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := map[string]bool{}
	for _, c := range regular {
		names[c.GetName()] = true
	}
	for i, c := range inits {
		p := fldPath.Index(i)
		allErrs = append(allErrs, validateContainerCommon(c, vols, p)...)
		restartAlways := false
		if c.RestartPolicy != nil {
			if c.GetRestartPolicy() != "Always" {
				allErrs = append(allErrs, field.NotSupported(p.Child("restartPolicy"), c.GetRestartPolicy(), []string{"Always"}))
			}
			restartAlways = c.GetRestartPolicy() == "Always"
		}
		if names[c.GetName()] {
			allErrs = append(allErrs, field.Duplicate(p.Child("name"), c.GetName()))
		} else if c.GetName() != "" {
			names[c.GetName()] = true
		}
		allErrs = append(allErrs, checkHostPortConflicts([]*corev1.Container{c}, fldPath)...)
		if restartAlways {
			allErrs = append(allErrs, validateLifecycle(c.GetLifecycle(), p.Child("lifecycle"))...)
			allErrs = append(allErrs, validateLivenessProbe(c.GetLivenessProbe(), p.Child("livenessProbe"))...)
			allErrs = append(allErrs, validateReadinessProbe(c.GetReadinessProbe(), p.Child("readinessProbe"))...)
			allErrs = append(allErrs, validateLivenessProbe(c.GetStartupProbe(), p.Child("startupProbe"))...)
			continue
		}
		const msg = "may not be set for init containers without restartPolicy=Always"
		if c.GetLifecycle() != nil {
			allErrs = append(allErrs, field.Forbidden(p.Child("lifecycle"), msg))
		}
		if c.GetLivenessProbe() != nil {
			allErrs = append(allErrs, field.Forbidden(p.Child("livenessProbe"), msg))
		}
		if c.GetReadinessProbe() != nil {
			allErrs = append(allErrs, field.Forbidden(p.Child("readinessProbe"), msg))
		}
		if c.GetStartupProbe() != nil {
			allErrs = append(allErrs, field.Forbidden(p.Child("startupProbe"), msg))
		}
	}
	return allErrs
}

// validateContainerCommon is Kubernetes' validateContainerCommon.
func validateContainerCommon(c *corev1.Container, vols map[string]*corev1.Volume, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	namePath := p.Child("name")
	if c.GetName() == "" {
		allErrs = append(allErrs, field.Required(namePath, ""))
	} else {
		allErrs = append(allErrs, validateDNS1123Label(c.GetName(), namePath)...)
	}
	if c.GetImage() == "" {
		allErrs = append(allErrs, field.Required(p.Child("image"), ""))
	}
	switch c.GetTerminationMessagePolicy() {
	case "", "File", "FallbackToLogsOnError":
	default:
		allErrs = append(allErrs, field.NotSupported(p.Child("terminationMessagePolicy"), c.GetTerminationMessagePolicy(),
			[]string{"File", "FallbackToLogsOnError"}))
	}
	allErrs = append(allErrs, validateContainerPorts(c.GetPorts(), p.Child("ports"))...)
	allErrs = append(allErrs, validateEnv(c.GetEnv(), p.Child("env"))...)
	allErrs = append(allErrs, validateEnvFrom(c.GetEnvFrom(), p.Child("envFrom"))...)
	allErrs = append(allErrs, validateVolumeMounts(c.GetVolumeMounts(), vols, p.Child("volumeMounts"))...)
	switch c.GetImagePullPolicy() {
	case "", "Always", "IfNotPresent", "Never":
	default:
		allErrs = append(allErrs, field.NotSupported(p.Child("imagePullPolicy"), c.GetImagePullPolicy(),
			[]string{"Always", "IfNotPresent", "Never"}))
	}
	allErrs = append(allErrs, validateResourceRequirements(c.GetResources(), p.Child("resources"))...)
	return allErrs
}

// validateContainerPorts is Kubernetes' validateContainerPorts: names are
// IANA_SVC_NAMEs and unique, containerPort required and 1..65535, hostPort
// 1..65535 when set, protocol TCP, UDP or SCTP (empty: defaulted to TCP).
func validateContainerPorts(ports []*corev1.ContainerPort, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := map[string]bool{}
	for i, port := range ports {
		idxPath := fldPath.Index(i)
		if port.GetName() != "" {
			if msgs := validation.IsValidPortName(port.GetName()); len(msgs) != 0 {
				for _, msg := range msgs {
					allErrs = append(allErrs, field.Invalid(idxPath.Child("name"), port.GetName(), msg))
				}
			} else if names[port.GetName()] {
				allErrs = append(allErrs, field.Duplicate(idxPath.Child("name"), port.GetName()))
			} else {
				names[port.GetName()] = true
			}
		}
		if port.GetContainerPort() == 0 {
			allErrs = append(allErrs, field.Required(idxPath.Child("containerPort"), ""))
		} else {
			for _, msg := range validation.IsValidPortNum(int(port.GetContainerPort())) {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("containerPort"), port.GetContainerPort(), msg))
			}
		}
		if port.GetHostPort() != 0 {
			for _, msg := range validation.IsValidPortNum(int(port.GetHostPort())) {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("hostPort"), port.GetHostPort(), msg))
			}
		}
		switch port.GetProtocol() {
		case "", "TCP", "UDP", "SCTP":
		default:
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("protocol"), port.GetProtocol(), []string{"SCTP", "TCP", "UDP"}))
		}
	}
	return allErrs
}

// checkHostPortConflicts is Kubernetes' AccumulateUniqueHostPorts over one
// list of containers: a protocol/hostIP/hostPort used twice is a Duplicate.
func checkHostPortConflicts(containers []*corev1.Container, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := map[string]bool{}
	for ci, c := range containers {
		portsPath := fldPath.Index(ci).Child("ports")
		for pi, port := range c.GetPorts() {
			if port.GetHostPort() == 0 {
				continue
			}
			proto := port.GetProtocol()
			if proto == "" {
				proto = defaults.ProtocolTCP
			}
			key := fmt.Sprintf("%s/%s/%d", proto, port.GetHostIp(), port.GetHostPort())
			if seen[key] {
				allErrs = append(allErrs, field.Duplicate(portsPath.Index(pi).Child("hostPort"), key))
			} else {
				seen[key] = true
			}
		}
	}
	return allErrs
}

// validateEnv is Kubernetes' ValidateEnv with relaxed names (the default
// since 1.32): a name is required and printable ASCII without '='; valueFrom
// holds exactly one source and excludes value.
func validateEnv(vars []*corev1.EnvVar, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, ev := range vars {
		idxPath := fldPath.Index(i)
		if ev.GetName() == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("name"), ""))
		} else {
			for _, msg := range validation.IsRelaxedEnvVarName(ev.GetName()) {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("name"), ev.GetName(), msg))
			}
		}
		if vf := ev.GetValueFrom(); vf != nil {
			n := 0
			for _, k := range []string{"fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef"} {
				if _, ok := vf.GetFields()[k]; ok {
					n++
				}
			}
			vfPath := idxPath.Child("valueFrom")
			switch {
			case n == 0:
				allErrs = append(allErrs, field.Invalid(vfPath, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
			case ev.GetValue() != "":
				allErrs = append(allErrs, field.Invalid(vfPath, "", "may not be specified when `value` is not empty"))
			case n > 1:
				allErrs = append(allErrs, field.Invalid(vfPath, "", "may not have more than one field specified at a time"))
			}
		}
	}
	return allErrs
}

// validateEnvFrom is Kubernetes' ValidateEnvFrom: a prefix is a relaxed env
// var name; exactly one of configMapRef and secretRef.
func validateEnvFrom(vars []*structpb.Struct, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, ev := range vars {
		idxPath := fldPath.Index(i)
		if prefix := ev.GetFields()["prefix"].GetStringValue(); prefix != "" {
			for _, msg := range validation.IsRelaxedEnvVarName(prefix) {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("prefix"), prefix, msg))
			}
		}
		n := 0
		for _, k := range []string{"configMapRef", "secretRef"} {
			if _, ok := ev.GetFields()[k]; ok {
				n++
			}
		}
		switch {
		case n == 0:
			allErrs = append(allErrs, field.Invalid(fldPath, "", "must specify one of: `configMapRef` or `secretRef`"))
		case n > 1:
			allErrs = append(allErrs, field.Invalid(fldPath, "", "may not have more than one field specified at a time"))
		}
	}
	return allErrs
}

// Resource names, as Kubernetes' helper package classifies them.
var standardContainerResources = map[string]bool{"cpu": true, "memory": true, "ephemeral-storage": true}

var standardResources = map[string]bool{
	"cpu": true, "memory": true, "ephemeral-storage": true, "storage": true,
	"requests.cpu": true, "requests.memory": true, "requests.storage": true, "requests.ephemeral-storage": true,
	"limits.cpu": true, "limits.memory": true, "limits.ephemeral-storage": true,
	"pods": true, "services": true, "replicationcontrollers": true, "resourcequotas": true,
	"secrets": true, "configmaps": true, "persistentvolumeclaims": true,
	"services.nodeports": true, "services.loadbalancers": true,
}

func isHugePageResource(name string) bool { return strings.HasPrefix(name, "hugepages-") }

func isNativeResource(name string) bool {
	return !strings.Contains(name, "/") || strings.Contains(name, "kubernetes.io/")
}

func isExtendedResource(name string) bool {
	if isNativeResource(name) || strings.HasPrefix(name, "requests.") {
		return false
	}
	return len(validation.IsQualifiedName("requests."+name)) == 0
}

func isOvercommitAllowed(name string) bool {
	return isNativeResource(name) && !isHugePageResource(name)
}

func validateContainerResourceName(name string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range validation.IsQualifiedName(name) {
		allErrs = append(allErrs, field.Invalid(fldPath, name, msg))
	}
	singleSegment := !strings.Contains(name, "/")
	if len(allErrs) == 0 && singleSegment && !standardResources[name] && !isHugePageResource(name) && !strings.HasPrefix(name, "requests.hugepages-") {
		allErrs = append(allErrs, field.Invalid(fldPath, name, "must be a standard resource type or fully qualified"))
	}
	if singleSegment {
		if !standardContainerResources[name] && !isHugePageResource(name) {
			allErrs = append(allErrs, field.Invalid(fldPath, name, "must be a standard resource for containers"))
		}
	} else if !isNativeResource(name) && !isExtendedResource(name) {
		allErrs = append(allErrs, field.Invalid(fldPath, name, "doesn't follow extended resource name standard"))
	}
	return allErrs
}

// validateQuantity parses one quantity and checks it is >= 0 (and an
// integer for extended resources).
func validateQuantity(name string, v *structpb.Value, fldPath *field.Path) (ok bool, errs field.ErrorList) {
	q, err := defaults.Quantity(v)
	if err != nil {
		return false, field.ErrorList{field.Invalid(fldPath, v.AsInterface(), err.Error())}
	}
	if q.Sign() < 0 {
		errs = append(errs, field.Invalid(fldPath, q.String(), IsNegativeErrorMsg))
	}
	if isExtendedResource(name) && q.MilliValue()%1000 != 0 {
		errs = append(errs, field.Invalid(fldPath, q.String(), isNotIntegerErrorMsg))
	}
	return true, errs
}

// validateResourceRequirements is Kubernetes' ValidateContainerResourceRequirements
// for limits and requests: names, quantities (parse, >= 0), requests <=
// limits ("must be less than or equal to cpu limit of 1"), and for resources
// that cannot be overcommitted (extended, hugepages) a request equal to its
// limit, which must be set.
func validateResourceRequirements(r *corev1.ResourceRequirements, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	limPath, reqPath := fldPath.Child("limits"), fldPath.Child("requests")
	for _, name := range sortedKeys(r.GetLimits()) {
		p := limPath.Key(name)
		allErrs = append(allErrs, validateContainerResourceName(name, p)...)
		_, errs := validateQuantity(name, r.GetLimits()[name], p)
		allErrs = append(allErrs, errs...)
	}
	for _, name := range sortedKeys(r.GetRequests()) {
		p := reqPath.Key(name)
		allErrs = append(allErrs, validateContainerResourceName(name, p)...)
		ok, errs := validateQuantity(name, r.GetRequests()[name], p)
		allErrs = append(allErrs, errs...)
		if !ok {
			continue
		}
		req, _ := defaults.Quantity(r.GetRequests()[name])
		limV, hasLimit := r.GetLimits()[name]
		if !hasLimit {
			if !isOvercommitAllowed(name) {
				allErrs = append(allErrs, field.Required(limPath, "Limit must be set for non overcommitable resources"))
			}
			continue
		}
		lim, err := defaults.Quantity(limV)
		if err != nil {
			continue
		}
		if req.Cmp(lim) != 0 && !isOvercommitAllowed(name) {
			allErrs = append(allErrs, field.Invalid(reqPath, req.String(), fmt.Sprintf("must be equal to %s limit of %s", name, lim.String())))
		} else if req.Cmp(lim) > 0 {
			allErrs = append(allErrs, field.Invalid(reqPath, req.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, lim.String())))
		}
	}
	return allErrs
}

func validateLivenessProbe(p *corev1.Probe, fldPath *field.Path) field.ErrorList {
	if p == nil {
		return nil
	}
	allErrs := validateProbe(p, fldPath)
	if p.GetSuccessThreshold() != 0 && p.GetSuccessThreshold() != 1 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("successThreshold"), p.GetSuccessThreshold(), "must be 1"))
	}
	return allErrs
}

func validateReadinessProbe(p *corev1.Probe, fldPath *field.Path) field.ErrorList {
	if p == nil {
		return nil
	}
	allErrs := validateProbe(p, fldPath)
	if p.TerminationGracePeriodSeconds != nil {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("terminationGracePeriodSeconds"), p.GetTerminationGracePeriodSeconds(), "must not be set for readinessProbes"))
	}
	return allErrs
}

// validateProbe is Kubernetes' validateProbe: exactly one handler (exec,
// httpGet, tcpSocket, grpc), timings >= 0, terminationGracePeriodSeconds > 0.
func validateProbe(p *corev1.Probe, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	n := 0
	handler := func(name string, set bool, check func(*field.Path) field.ErrorList) {
		if !set {
			return
		}
		if n > 0 {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child(name), "may not specify more than 1 handler type"))
			return
		}
		n++
		allErrs = append(allErrs, check(fldPath.Child(name))...)
	}
	handler("exec", p.GetExec() != nil, func(fp *field.Path) field.ErrorList {
		if len(p.GetExec().GetCommand()) == 0 {
			return field.ErrorList{field.Required(fp.Child("command"), "")}
		}
		return nil
	})
	handler("httpGet", p.GetHttpGet() != nil, func(fp *field.Path) field.ErrorList { return validateHTTPGet(p.GetHttpGet(), fp) })
	handler("tcpSocket", p.GetTcpSocket() != nil, func(fp *field.Path) field.ErrorList {
		return validatePortNumOrName(p.GetTcpSocket().GetFields()["port"], fp.Child("port"))
	})
	handler("grpc", p.GetGrpc() != nil, func(fp *field.Path) field.ErrorList {
		port := int(p.GetGrpc().GetFields()["port"].GetNumberValue())
		var errs field.ErrorList
		for _, msg := range validation.IsValidPortNum(port) {
			errs = append(errs, field.Invalid(fp.Child("port"), port, msg))
		}
		return errs
	})
	if n == 0 {
		allErrs = append(allErrs, field.Required(fldPath, "must specify a handler type"))
	}
	allErrs = append(allErrs, ValidateNonnegative(int64(p.GetInitialDelaySeconds()), fldPath.Child("initialDelaySeconds"))...)
	allErrs = append(allErrs, ValidateNonnegative(int64(p.GetTimeoutSeconds()), fldPath.Child("timeoutSeconds"))...)
	allErrs = append(allErrs, ValidateNonnegative(int64(p.GetPeriodSeconds()), fldPath.Child("periodSeconds"))...)
	allErrs = append(allErrs, ValidateNonnegative(int64(p.GetSuccessThreshold()), fldPath.Child("successThreshold"))...)
	allErrs = append(allErrs, ValidateNonnegative(int64(p.GetFailureThreshold()), fldPath.Child("failureThreshold"))...)
	if p.TerminationGracePeriodSeconds != nil && p.GetTerminationGracePeriodSeconds() <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("terminationGracePeriodSeconds"), p.GetTerminationGracePeriodSeconds(), "must be greater than 0"))
	}
	return allErrs
}

func validateHTTPGet(s *structpb.Struct, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if v, ok := s.GetFields()["path"]; ok && v.GetStringValue() == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("path"), ""))
	}
	allErrs = append(allErrs, validatePortNumOrName(s.GetFields()["port"], fldPath.Child("port"))...)
	if v, ok := s.GetFields()["scheme"]; ok {
		switch v.GetStringValue() {
		case "HTTP", "HTTPS":
		default:
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("scheme"), v.GetStringValue(), []string{"HTTP", "HTTPS"}))
		}
	}
	return allErrs
}

// validatePortNumOrName is Kubernetes' ValidatePortNumOrName on an
// IntOrString Value.
func validatePortNumOrName(v *structpb.Value, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		for _, msg := range validation.IsValidPortName(k.StringValue) {
			allErrs = append(allErrs, field.Invalid(fldPath, k.StringValue, msg))
		}
	case *structpb.Value_NumberValue:
		for _, msg := range validation.IsValidPortNum(int(k.NumberValue)) {
			allErrs = append(allErrs, field.Invalid(fldPath, int(k.NumberValue), msg))
		}
	default:
		for _, msg := range validation.IsValidPortNum(0) {
			allErrs = append(allErrs, field.Invalid(fldPath, 0, msg))
		}
	}
	return allErrs
}

// validateLifecycle checks postStart and preStop handlers: exactly one of
// exec, httpGet, tcpSocket, sleep.
func validateLifecycle(lc *structpb.Struct, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, hook := range []string{"postStart", "preStop"} {
		v, ok := lc.GetFields()[hook]
		if !ok {
			continue
		}
		h := v.GetStructValue()
		p := fldPath.Child(hook)
		n := 0
		for _, k := range []string{"exec", "httpGet", "tcpSocket", "sleep"} {
			if _, set := h.GetFields()[k]; !set {
				continue
			}
			if n > 0 {
				allErrs = append(allErrs, field.Forbidden(p.Child(k), "may not specify more than 1 handler type"))
				continue
			}
			n++
			if k == "httpGet" {
				allErrs = append(allErrs, validateHTTPGet(h.GetFields()[k].GetStructValue(), p.Child(k))...)
			}
		}
		if n == 0 {
			allErrs = append(allErrs, field.Required(p, "must specify a handler type"))
		}
	}
	return allErrs
}
