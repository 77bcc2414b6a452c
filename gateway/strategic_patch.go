package gateway

import (
	"google.golang.org/protobuf/reflect/protoreflect"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// Strategic merge patch is Kubernetes' merge patch with list awareness: a list
// with a merge key (containers by name, ports by containerPort, conditions by
// type, ...) is merged element by element, and directives ($patch: delete,
// $setElementOrder/<list>, $retainKeys, $deleteFromPrimitiveList/<list>) are
// understood. kubectl depends on it: `kubectl set image` sends only the
// container's name and image, and `kubectl apply` sends $setElementOrder
// directives that a plain merge patch would store as unknown fields.
//
// The patching itself is apimachinery's (k8s.io/apimachinery/pkg/util/strategicpatch);
// what it needs is the patch metadata Kubernetes declares in k8s.io/api's struct
// tags (patchStrategy, patchMergeKey). smpSchema provides it by walking our proto
// descriptors and looking fields up in smpRules. Lists not in smpRules are
// replaced as a whole, as in Kubernetes (tolerations, command, args, ...), and
// so are lists inside google.protobuf.Struct fields (our opaque sub-objects).

// smpRule is one field's patch metadata.
type smpRule struct {
	strategies []string
	mergeKey   string // JSON name of the key of the list's elements
}

var (
	mergeBy = func(key string) smpRule { return smpRule{strategies: []string{"merge"}, mergeKey: key} }
	retain  = func(key string) smpRule { return smpRule{strategies: []string{"merge", "retainKeys"}, mergeKey: key} }
)

// smpRules copies k8s.io/api's patchStrategy/patchMergeKey tags onto our
// messages, by message full name and proto field name.
var smpRules = map[protoreflect.FullName]map[protoreflect.Name]smpRule{
	"podwarden.core.v1.ObjectMeta": {
		"owner_references": mergeBy("uid"),
		"finalizers":       mergeBy(""),
	},
	"podwarden.core.v1.PodSpec": {
		"volumes":                     retain("name"),
		"init_containers":             mergeBy("name"),
		"containers":                  mergeBy("name"),
		"ephemeral_containers":        mergeBy("name"),
		"image_pull_secrets":          mergeBy("name"),
		"host_aliases":                mergeBy("ip"),
		"topology_spread_constraints": mergeBy("topologyKey"),
		"scheduling_gates":            mergeBy("name"),
		"resource_claims":             retain("name"),
	},
	"podwarden.core.v1.Container": {
		"ports":          mergeBy("containerPort"),
		"env":            mergeBy("name"),
		"volume_mounts":  mergeBy("mountPath"),
		"volume_devices": mergeBy("devicePath"),
	},
	"podwarden.core.v1.PodStatus": {
		"conditions": mergeBy("type"),
		"pod_ips":    mergeBy("ip"),
		"host_ips":   mergeBy("ip"),
	},
	"podwarden.deployment.v1.DeploymentSpec": {
		"strategy": {strategies: []string{"retainKeys"}},
	},
	"podwarden.deployment.v1.DeploymentStatus": {
		"conditions": mergeBy("type"),
	},
	"podwarden.deployment.v1.ReplicaSetStatus": {
		"conditions": mergeBy("type"),
	},
	"podwarden.node.v1.NodeSpec": {
		"pod_cidrs": mergeBy(""),
	},
	"podwarden.node.v1.NodeStatus": {
		"conditions": mergeBy("type"),
		"addresses":  mergeBy("type"),
	},
}

// strategicMergePatch applies a strategic merge patch to the JSON object cur of
// message md.
func strategicMergePatch(cur, patch []byte, md protoreflect.MessageDescriptor) ([]byte, error) {
	return strategicpatch.StrategicMergePatchUsingLookupPatchMeta(cur, patch, smpSchema{md: md})
}

// smpSchema is strategicpatch.LookupPatchMeta over a proto descriptor: a message
// (md), the values of a proto map (mapValue), or, with both nil, an opaque value
// (well-known types, unknown fields) whose maps merge and whose lists are replaced.
type smpSchema struct {
	md       protoreflect.MessageDescriptor
	mapValue protoreflect.FieldDescriptor
}

var _ strategicpatch.LookupPatchMeta = smpSchema{}

func (s smpSchema) LookupPatchMetadataForStruct(key string) (strategicpatch.LookupPatchMeta, strategicpatch.PatchMeta, error) {
	return s.lookup(key)
}

func (s smpSchema) LookupPatchMetadataForSlice(key string) (strategicpatch.LookupPatchMeta, strategicpatch.PatchMeta, error) {
	return s.lookup(key)
}

func (s smpSchema) Name() string {
	switch {
	case s.md != nil:
		return string(s.md.FullName())
	case s.mapValue != nil:
		return "map of " + string(s.mapValue.FullName())
	}
	return "opaque"
}

func (s smpSchema) lookup(key string) (strategicpatch.LookupPatchMeta, strategicpatch.PatchMeta, error) {
	var pm strategicpatch.PatchMeta
	if s.mapValue != nil {
		return schemaOf(s.mapValue), pm, nil
	}
	if s.md == nil || isWellKnown(s.md) {
		return smpSchema{}, pm, nil
	}
	fd := fieldByJSONKey(s.md, key)
	if fd == nil {
		return smpSchema{}, pm, nil // the write will reject the unknown field
	}
	if rule, ok := smpRules[s.md.FullName()][fd.Name()]; ok {
		pm.SetPatchStrategies(rule.strategies)
		pm.SetPatchMergeKey(rule.mergeKey)
	}
	if fd.IsMap() {
		return smpSchema{mapValue: fd.MapValue()}, pm, nil
	}
	return schemaOf(fd), pm, nil
}

func schemaOf(fd protoreflect.FieldDescriptor) smpSchema {
	if md := fd.Message(); md != nil {
		return smpSchema{md: md}
	}
	return smpSchema{}
}
