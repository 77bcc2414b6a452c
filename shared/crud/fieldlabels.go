package crud

import (
	"fmt"

	"k8s.io/apimachinery/pkg/fields"

	"github.com/podwarden/podwarden/shared/apierr"
)

// Field selector labels, as kube-apiserver checks them: every requirement of a
// list's, watch's or deletecollection's fieldSelector goes through the kind's
// field label conversion (Scheme.ConvertFieldLabel, backed by the funcs
// registered with AddFieldLabelConversionFunc in pkg/apis/<group>/<version>/
// conversion.go), and a label it does not take is a 400 with its words. A kind
// with no registered conversion takes metadata.name and metadata.namespace only
// (runtime.DefaultMetaV1FieldSelectorConversion): every apps/v1 kind, CronJobs,
// HPAs, ConfigMaps, Leases, ...
//
// Which value a label matches is the kind's Resource.Fields (the registry
// strategy's ToSelectableFields); a label taken here but not set there matches
// the empty string, as upstream (pods' status.podIPs).

// fieldLabels is one kind's registered conversion.
type fieldLabels struct {
	// labels it takes beyond the metadata ones; aliases map a label to the one it
	// means (pods' legacy spec.host is spec.nodeName).
	labels  []string
	aliases map[string]string
	// clusterScoped conversions take no metadata.namespace.
	clusterScoped bool
	// reject is the text of the 400 (conversions word it differently).
	reject func(label string) string
}

func notSupported(label string) string { return "field label not supported: " + label }

// fieldLabelConversions are kube-apiserver's registered conversions of the kinds
// served (pkg/apis/core/v1/conversion.go, pkg/apis/batch/v1/conversion.go).
var fieldLabelConversions = map[apierr.GroupResource]fieldLabels{
	{Resource: "pods"}: {
		labels: []string{"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
			"spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName"},
		aliases: map[string]string{"spec.host": "spec.nodeName"},
		reject:  notSupported,
	},
	{Resource: "nodes"}:                  {labels: []string{"spec.unschedulable"}, clusterScoped: true, reject: notSupported},
	{Resource: "replicationcontrollers"}: {labels: []string{"status.replicas"}, reject: notSupported},
	{Resource: "events"}: {
		labels: []string{"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
			"involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
			"reason", "reportingComponent", "source", "type"},
		reject: notSupported,
	},
	{Resource: "namespaces"}: {labels: []string{"status.phase"}, clusterScoped: true, reject: notSupported},
	{Resource: "secrets"}:    {labels: []string{"type"}, reject: notSupported},
	{Resource: "services"}:   {labels: []string{"spec.clusterIP", "spec.type"}, reject: notSupported},
	{Group: "batch", Resource: "jobs"}: {
		labels: []string{"status.successful"},
		reject: func(label string) string { return fmt.Sprintf("field label %q not supported for batchv1.Job", label) },
	},
}

// metadataOnly is runtime.DefaultMetaV1FieldSelectorConversion.
var metadataOnly = fieldLabels{reject: func(label string) string {
	return fmt.Sprintf("%q is not a known field selector: only %q, %q", label, "metadata.name", "metadata.namespace")
}}

// FieldLabelsOf lists the field selector labels kube-apiserver takes for gr, aliases
// included.
func FieldLabelsOf(gr apierr.GroupResource) []string {
	fl, ok := fieldLabelConversions[gr]
	if !ok {
		fl = metadataOnly
	}
	out := []string{"metadata.name"}
	if !fl.clusterScoped {
		out = append(out, "metadata.namespace")
	}
	out = append(out, fl.labels...)
	for a := range fl.aliases {
		out = append(out, a)
	}
	return out
}

// ConvertFieldSelector checks every label of sel against gr's conversion and
// rewrites aliases: a label the kind does not take is kube-apiserver's 400.
func ConvertFieldSelector(gr apierr.GroupResource, sel fields.Selector) (fields.Selector, error) {
	fl, ok := fieldLabelConversions[gr]
	if !ok {
		fl = metadataOnly
	}
	out, err := sel.Transform(func(label, value string) (string, string, error) {
		switch {
		case label == "metadata.name", label == "metadata.namespace" && !fl.clusterScoped:
			return label, value, nil
		case fl.aliases[label] != "":
			return fl.aliases[label], value, nil
		}
		for _, l := range fl.labels {
			if l == label {
				return label, value, nil
			}
		}
		return "", "", fmt.Errorf("%s", fl.reject(label))
	})
	if err != nil {
		return nil, apierr.BadRequest(err.Error())
	}
	return out, nil
}
