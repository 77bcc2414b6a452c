package server

import (
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/shared/defaults"
	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/validation"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

var (
	metaPath = field.NewPath("metadata")
	specPath = field.NewPath("spec")
)

// specUpdateForbiddenMsg is Kubernetes' (1.35+) text for a change to an
// immutable StatefulSet spec field. Kubernetes reports it once, at spec;
// podwarden reports it at each changed field.
const specUpdateForbiddenMsg = "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', " +
	"'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"

// validateStatefulSet is apps' ValidateStatefulSet (create) and
// ValidateStatefulSetUpdate (update: old is the stored object) with
// Kubernetes' field paths and messages. It expects a defaulted object.
// Where podwarden is stricter than Kubernetes, the check says so.
func validateStatefulSet(ss, old *statefulsetv1.StatefulSet, create bool) field.ErrorList {
	update := !create && old != nil
	// A StatefulSet's name becomes its pods' hostnames: a DNS label. An update
	// does not re-check it (it cannot change, and Kubernetes once allowed
	// subdomains).
	nameFn := validation.NameIsDNSLabel
	if update {
		nameFn = func(string, bool) []string { return nil }
	}
	errs := validation.ValidateObjectMeta(ss.GetMetadata(), true, nameFn, metaPath)
	errs = append(errs, validateStatefulSetSpec(ss.GetSpec(), !update)...)
	if update {
		errs = append(errs, validateStatefulSetSpecUpdate(ss.GetSpec(), old.GetSpec())...)
	}
	return errs
}

// validateStatefulSetSpec is ValidateStatefulSetSpec. The claim templates and
// the serviceName format are checked on create only (they are immutable;
// Kubernetes skips them on update too).
func validateStatefulSetSpec(s *statefulsetv1.StatefulSetSpec, create bool) field.ErrorList {
	var errs field.ErrorList
	pmpPath := specPath.Child("podManagementPolicy")
	switch s.GetPodManagementPolicy() {
	case "":
		errs = append(errs, field.Required(pmpPath, ""))
	case podManagementOrderedReady, podManagementParallel:
	default:
		errs = append(errs, field.Invalid(pmpPath, s.GetPodManagementPolicy(),
			fmt.Sprintf("must be '%s' or '%s'", podManagementOrderedReady, podManagementParallel)))
	}
	errs = append(errs, validateUpdateStrategy(s.GetUpdateStrategy(), specPath.Child("updateStrategy"))...)
	if p := s.GetPersistentVolumeClaimRetentionPolicy(); p != nil {
		rp := specPath.Child("persistentVolumeClaimRetentionPolicy")
		errs = append(errs, validateRetentionPolicyType(p.GetWhenDeleted(), rp.Child("whenDeleted"))...)
		errs = append(errs, validateRetentionPolicyType(p.GetWhenScaled(), rp.Child("whenScaled"))...)
	}
	if create {
		errs = append(errs, validateClaimTemplates(s.GetVolumeClaimTemplates(), specPath.Child("volumeClaimTemplates"))...)
	}
	errs = append(errs, validation.ValidateNonnegative(int64(s.GetReplicas()), specPath.Child("replicas"))...)
	errs = append(errs, validation.ValidateNonnegative(int64(s.GetMinReadySeconds()), specPath.Child("minReadySeconds"))...)
	if o := s.GetOrdinals(); o != nil {
		errs = append(errs, validation.ValidateNonnegative(int64(o.GetStart()), specPath.Child("ordinals", "start"))...)
	}
	// Kubernetes does not check revisionHistoryLimit on StatefulSets; a
	// negative limit means nothing, so podwarden rejects it as it does for
	// Deployments and DaemonSets.
	if s.RevisionHistoryLimit != nil {
		errs = append(errs, validation.ValidateNonnegative(int64(s.GetRevisionHistoryLimit()), specPath.Child("revisionHistoryLimit"))...)
	}
	errs = append(errs, validateServiceName(s.GetServiceName(), create)...)

	selPath := specPath.Child("selector")
	var sel k8slabels.Selector = k8slabels.Nothing() // a nil selector matches no template, as in Kubernetes
	if s.GetSelector() == nil {
		errs = append(errs, field.Required(selPath, ""))
	} else {
		errs = append(errs, validation.ValidateNonEmptySelector(s.GetSelector(), "statefulset", selPath)...)
		sel = nil // unparsable: its errors are reported above, the template is checked without it
		if parsed, err := labels.FromProto(s.GetSelector()); err == nil {
			sel = parsed
		}
	}
	tPath := specPath.Child("template")
	// Kubernetes validates the template with its claim templates counted as
	// volumes, so a volumeMount may name a claim template.
	errs = append(errs, validation.ValidatePodTemplateSpecForStatefulSet(s.GetTemplate(), sel, claimNames(s), tPath)...)
	if t := s.GetTemplate(); t != nil {
		errs = append(errs, validation.ValidateRestartPolicyIn(t, []string{defaults.RestartPolicyAlways}, tPath)...)
		errs = append(errs, validation.ValidateNoActiveDeadline(t, "StatefulSet", tPath)...)
	}
	return errs
}

// validateServiceName: Kubernetes made serviceName optional in 1.33 (pods of
// a StatefulSet without one get no per-pod DNS records) and checks a set
// name as a DNS-1123 label on create (it becomes the pods' subdomain).
// podwarden requires it: its cluster DNS names pods
// <pod>.<serviceName>.<namespace>.svc.cluster.local and has no other source
// for that name.
func validateServiceName(name string, create bool) field.ErrorList {
	p := specPath.Child("serviceName")
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	if !create {
		return nil
	}
	var errs field.ErrorList
	for _, msg := range k8svalidation.IsDNS1123Label(name) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	return errs
}

// validateUpdateStrategy is the updateStrategy part of ValidateStatefulSetSpec.
func validateUpdateStrategy(st *statefulsetv1.StatefulSetUpdateStrategy, fldPath *field.Path) field.ErrorList {
	ruPath := fldPath.Child("rollingUpdate")
	switch st.GetType() {
	case "":
		return field.ErrorList{field.Required(fldPath, "")}
	case strategyOnDelete:
		if st.GetRollingUpdate() != nil {
			return field.ErrorList{field.Invalid(ruPath, jsonValue(st.GetRollingUpdate()),
				fmt.Sprintf("only allowed for updateStrategy '%s'", strategyRollingUpdate))}
		}
	case strategyRollingUpdate:
		if ru := st.GetRollingUpdate(); ru != nil {
			return validateRollingUpdate(ru, ruPath)
		}
	default:
		return field.ErrorList{field.Invalid(fldPath, jsonValue(st),
			fmt.Sprintf("must be '%s' or '%s'", strategyRollingUpdate, strategyOnDelete))}
	}
	return nil
}

// validateRollingUpdate is validateRollingUpdateStatefulSet: partition >= 0;
// maxUnavailable an integer >= 0 or a percentage, not 0, at most 100%.
func validateRollingUpdate(ru *statefulsetv1.RollingUpdateStatefulSetStrategy, fldPath *field.Path) field.ErrorList {
	errs := validation.ValidateNonnegative(int64(ru.GetPartition()), fldPath.Child("partition"))
	mu := ru.GetMaxUnavailable()
	if mu == nil {
		return errs
	}
	muPath := fldPath.Child("maxUnavailable")
	errs = append(errs, validation.ValidateIntOrPercent(mu, muPath)...)
	if _, err := validation.ToIntOrString(mu); err == nil && validation.IntOrPercentValue(mu) == 0 {
		errs = append(errs, field.Invalid(muPath, intOrStringValue(mu), "cannot be 0"))
	}
	return append(errs, validation.ValidateNotMoreThan100Percent(mu, muPath)...)
}

func validateRetentionPolicyType(policy string, fldPath *field.Path) field.ErrorList {
	switch policy {
	case retentionRetain, retentionDelete:
		return nil
	}
	return field.ErrorList{field.NotSupported(fldPath, policy, []string{retentionRetain, retentionDelete})}
}

// validateClaimTemplates checks each volumeClaimTemplate's spec as a claim's
// (Kubernetes 1.34+ does; older releases only failed when the controller
// created the claims). podwarden also checks the template's name: it is the
// name of a pod volume (a DNS-1123 label, unique) and the prefix of the
// claims' names; and its labels and annotations.
func validateClaimTemplates(templates []*statefulsetv1.PersistentVolumeClaim, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, c := range templates {
		idx := fldPath.Index(i)
		namePath := idx.Child("metadata", "name")
		name := c.GetMetadata().GetName()
		switch {
		case name == "":
			errs = append(errs, field.Required(namePath, ""))
		case seen[name]:
			errs = append(errs, field.Duplicate(namePath, name))
		default:
			for _, msg := range k8svalidation.IsDNS1123Label(name) {
				errs = append(errs, field.Invalid(namePath, name, msg))
			}
		}
		seen[name] = true
		errs = append(errs, validation.ValidateLabels(c.GetMetadata().GetLabels(), idx.Child("metadata", "labels"))...)
		errs = append(errs, validation.ValidateAnnotations(c.GetMetadata().GetAnnotations(), idx.Child("metadata", "annotations"))...)
		errs = append(errs, validatePVCSpec(c.GetSpec(), idx.Child("spec"))...)
	}
	return errs
}

// claimNames are the names of the claim templates: the controller adds one pod
// volume of each name.
func claimNames(s *statefulsetv1.StatefulSetSpec) []string {
	var names []string
	for _, c := range s.GetVolumeClaimTemplates() {
		if n := c.GetMetadata().GetName(); n != "" {
			names = append(names, n)
		}
	}
	return names
}

// validateStatefulSetSpecUpdate is the immutability half of
// ValidateStatefulSetUpdate: only replicas, ordinals, template,
// updateStrategy, revisionHistoryLimit, persistentVolumeClaimRetentionPolicy
// and minReadySeconds may change. Each other changed field is named.
func validateStatefulSetSpecUpdate(s, old *statefulsetv1.StatefulSetSpec) field.ErrorList {
	var errs field.ErrorList
	forbid := func(child string) {
		errs = append(errs, field.Forbidden(specPath.Child(child), specUpdateForbiddenMsg))
	}
	if !proto.Equal(s.GetSelector(), old.GetSelector()) {
		forbid("selector")
	}
	if s.GetServiceName() != old.GetServiceName() {
		forbid("serviceName")
	}
	if !claimTemplatesEqual(s.GetVolumeClaimTemplates(), old.GetVolumeClaimTemplates()) {
		forbid("volumeClaimTemplates")
	}
	if s.GetPodManagementPolicy() != old.GetPodManagementPolicy() {
		forbid("podManagementPolicy")
	}
	// Any field the proto gains later is immutable until listed here.
	rest, oldRest := proto.Clone(orEmptySpec(s)).(*statefulsetv1.StatefulSetSpec), proto.Clone(orEmptySpec(old)).(*statefulsetv1.StatefulSetSpec)
	for _, x := range []*statefulsetv1.StatefulSetSpec{rest, oldRest} {
		x.Replicas, x.Ordinals, x.Template, x.UpdateStrategy, x.RevisionHistoryLimit = nil, nil, nil, nil, nil
		x.PersistentVolumeClaimRetentionPolicy, x.MinReadySeconds = nil, 0
		x.Selector, x.ServiceName, x.VolumeClaimTemplates, x.PodManagementPolicy = nil, "", nil, ""
	}
	if !proto.Equal(rest, oldRest) {
		errs = append(errs, field.Forbidden(specPath, specUpdateForbiddenMsg))
	}
	return errs
}

func claimTemplatesEqual(a, b []*statefulsetv1.PersistentVolumeClaim) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func orEmptySpec(s *statefulsetv1.StatefulSetSpec) *statefulsetv1.StatefulSetSpec {
	if s == nil {
		return &statefulsetv1.StatefulSetSpec{}
	}
	return s
}

// validatePVC is core's ValidatePersistentVolumeClaim (create) and
// ValidatePersistentVolumeClaimUpdate (update: old is the stored claim, whose
// status the update carries).
func validatePVC(pvc, old *statefulsetv1.PersistentVolumeClaim, create bool) field.ErrorList {
	errs := validation.ValidateObjectMeta(pvc.GetMetadata(), true, validation.NameIsDNSSubdomain, metaPath)
	errs = append(errs, validatePVCSpec(pvc.GetSpec(), specPath)...)
	if create || old == nil {
		return errs
	}
	return append(errs, validatePVCUpdate(pvc, old)...)
}

// validatePVCSpec is ValidatePersistentVolumeClaimSpec: at least one access
// mode, each supported; a valid selector; a storage request > 0; storage and
// volume attributes class names DNS subdomains; volumeMode Block or
// Filesystem; dataSource and dataSourceRef well formed and equal.
func validatePVCSpec(spec *statefulsetv1.PersistentVolumeClaimSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	modesPath := fldPath.Child("accessModes")
	if len(spec.GetAccessModes()) == 0 {
		errs = append(errs, field.Required(modesPath, "at least 1 access mode is required"))
	}
	if spec.GetSelector() != nil {
		errs = append(errs, validation.ValidateLabelSelector(spec.GetSelector(), fldPath.Child("selector"))...)
	}
	errs = append(errs, validation.ValidateAccessModes(spec.GetAccessModes(), modesPath)...)
	storagePath := fldPath.Child("resources").Key("storage")
	if v, ok := spec.GetResources().GetRequests()["storage"]; !ok {
		errs = append(errs, field.Required(storagePath, ""))
	} else {
		errs = append(errs, validation.ValidatePositiveQuantity(v, storagePath)...)
	}
	if spec.StorageClassName != nil && spec.GetStorageClassName() != "" {
		errs = append(errs, validateClassName(spec.GetStorageClassName(), fldPath.Child("storageClassName"))...)
	}
	if spec.VolumeMode != nil {
		errs = append(errs, validateVolumeMode(spec.GetVolumeMode(), fldPath.Child("volumeMode"))...)
	}
	if ds := spec.GetDataSource(); ds != nil {
		errs = append(errs, validateDataSource(ds, fldPath.Child("dataSource"))...)
	}
	if ref := spec.GetDataSourceRef(); ref != nil {
		errs = append(errs, validateDataSource(ref, fldPath.Child("dataSourceRef"))...)
		if ds := spec.GetDataSource(); ds != nil && !dataSourcesEqual(ds, ref) {
			errs = append(errs, field.Invalid(fldPath, fldPath.Child("dataSource").String(), "must match dataSourceRef"))
		}
	}
	if spec.VolumeAttributesClassName != nil && spec.GetVolumeAttributesClassName() != "" {
		errs = append(errs, validateClassName(spec.GetVolumeAttributesClassName(), fldPath.Child("volumeAttributesClassName"))...)
	}
	return errs
}

// validateClassName is ValidateClassName: a DNS-1123 subdomain.
func validateClassName(name string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.NameIsDNSSubdomain(name, false) {
		errs = append(errs, field.Invalid(fldPath, name, msg))
	}
	return errs
}

func validateVolumeMode(mode string, fldPath *field.Path) field.ErrorList {
	if mode == volumeModeBlock || mode == volumeModeFilesystem {
		return nil
	}
	return field.ErrorList{field.NotSupported(fldPath, mode, []string{volumeModeBlock, volumeModeFilesystem})}
}

// validateDataSource is validateDataSource / validateDataSourceRef (a typed
// object reference): name and kind required; with no apiGroup the kind is
// PersistentVolumeClaim; an apiGroup is a DNS subdomain.
func validateDataSource(ref *structpb.Struct, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	name, kind, group := stringField(ref, "name"), stringField(ref, "kind"), stringField(ref, "apiGroup")
	if name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), ""))
	}
	if kind == "" {
		errs = append(errs, field.Required(fldPath.Child("kind"), ""))
	}
	if group == "" && kind != "PersistentVolumeClaim" {
		errs = append(errs, field.Invalid(fldPath, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"))
	}
	if group != "" {
		for _, msg := range k8svalidation.IsDNS1123Subdomain(group) {
			errs = append(errs, field.Invalid(fldPath.Child("apiGroup"), group, msg))
		}
	}
	return errs
}

func dataSourcesEqual(ds, ref *structpb.Struct) bool {
	for _, k := range []string{"apiGroup", "kind", "name"} {
		if stringField(ds, k) != stringField(ref, k) {
			return false
		}
	}
	return true
}

// validatePVCUpdate is the immutability half of
// ValidatePersistentVolumeClaimUpdate: the spec may not change, except that
// volumeName may be set once, storageClassName may be set when it was unset
// (or moved from the beta annotation), a bound claim's storage request may
// change (shrinking only down to more than status.capacity, as with
// RecoverVolumeExpansionFailure, GA in 1.34), and volumeAttributesClassName
// may change but not back to unset or "".
func validatePVCUpdate(pvc, old *statefulsetv1.PersistentVolumeClaim) field.ErrorList {
	var errs field.ErrorList
	spec := proto.Clone(orEmptyClaimSpec(pvc.GetSpec())).(*statefulsetv1.PersistentVolumeClaimSpec)
	oldSpec := proto.Clone(orEmptyClaimSpec(old.GetSpec())).(*statefulsetv1.PersistentVolumeClaimSpec)
	if old.GetSpec().GetVolumeName() == "" {
		oldSpec.VolumeName = spec.VolumeName
	}
	oldAnn, newAnn := old.GetMetadata().GetAnnotations(), pvc.GetMetadata().GetAnnotations()
	oldSC, newSC := old.GetSpec().StorageClassName, pvc.GetSpec().StorageClassName
	if storageClassUpgradeFromAnnotation(oldAnn, newAnn, oldSC, newSC) {
		spec.StorageClassName = nil
	} else {
		if newAnn[betaStorageClassAnnotation] != oldAnn[betaStorageClassAnnotation] {
			errs = append(errs, field.Invalid(metaPath.Child("annotations", betaStorageClassAnnotation),
				newAnn[betaStorageClassAnnotation], validation.FieldImmutableErrorMsg))
		}
		if storageClassUpgradeFromNil(oldAnn, oldSC, newSC) {
			spec.StorageClassName = oldSpec.StorageClassName
		}
	}
	if pvc.GetStatus().GetPhase() == claimBound && spec.GetResources().GetRequests() != nil {
		if v, ok := old.GetSpec().GetResources().GetRequests()["storage"]; ok {
			spec.Resources.Requests["storage"] = v
		} else {
			delete(spec.Resources.Requests, "storage")
		}
	}
	spec.VolumeAttributesClassName = oldSpec.VolumeAttributesClassName
	if !proto.Equal(spec, oldSpec) {
		// Kubernetes appends a Go diff of the two specs to this message.
		errs = append(errs, field.Forbidden(specPath,
			"spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"))
	}
	newSize, err1 := defaults.Quantity(pvc.GetSpec().GetResources().GetRequests()["storage"])
	oldSize, err2 := defaults.Quantity(old.GetSpec().GetResources().GetRequests()["storage"])
	statusSize, err3 := defaults.Quantity(old.GetStatus().GetCapacity()["storage"])
	if err1 == nil && err2 == nil && err3 == nil && newSize.Cmp(oldSize) < 0 && newSize.Cmp(statusSize) <= 0 {
		errs = append(errs, field.Forbidden(specPath.Child("resources", "requests", "storage"), "field can not be less than status.capacity"))
	}
	// Kubernetes reports this one at "volumeMode", without the spec prefix.
	if pvc.GetSpec().GetVolumeMode() != old.GetSpec().GetVolumeMode() {
		errs = append(errs, field.Invalid(specPath.Child("volumeMode"), pvc.GetSpec().GetVolumeMode(), validation.FieldImmutableErrorMsg))
	}
	if oldVAC := old.GetSpec().VolumeAttributesClassName; oldVAC != nil {
		vacPath := specPath.Child("volumeAttributesClassName")
		switch newVAC := pvc.GetSpec().VolumeAttributesClassName; {
		case newVAC == nil:
			errs = append(errs, field.Forbidden(vacPath, "update from non-nil value to nil is forbidden"))
		case *newVAC == "" && *oldVAC != "":
			errs = append(errs, field.Forbidden(vacPath, "update from non-nil value to an empty string is forbidden"))
		}
	}
	return errs
}

// storageClassUpgradeFromAnnotation: the old claim named its class in the beta
// annotation only and the new one names the same class in storageClassName.
func storageClassUpgradeFromAnnotation(oldAnn, newAnn map[string]string, oldSC, newSC *string) bool {
	oldClass, oldHas := oldAnn[betaStorageClassAnnotation]
	newClass, newHas := newAnn[betaStorageClassAnnotation]
	return oldHas && oldSC == nil && newSC != nil && *newSC == oldClass && (!newHas || newClass == oldClass)
}

// storageClassUpgradeFromNil: a class is set where none was (how the
// retroactive default storage class assignment updates a claim).
func storageClassUpgradeFromNil(oldAnn map[string]string, oldSC, newSC *string) bool {
	oldClass, oldHas := oldAnn[betaStorageClassAnnotation]
	return newSC != nil && oldSC == nil && (!oldHas || *newSC == oldClass)
}

func orEmptyClaimSpec(s *statefulsetv1.PersistentVolumeClaimSpec) *statefulsetv1.PersistentVolumeClaimSpec {
	if s == nil {
		return &statefulsetv1.PersistentVolumeClaimSpec{}
	}
	return s
}

// validatePV is core's ValidatePersistentVolume (create) and
// ValidatePersistentVolumeUpdate (update).
func validatePV(pv, old *statefulsetv1.PersistentVolume, create bool) field.ErrorList {
	errs := validation.ValidateObjectMeta(pv.GetMetadata(), false, validation.NameIsDNSSubdomain, metaPath)
	errs = append(errs, validatePVSpec(pv.GetSpec(), specPath)...)
	if create || old == nil {
		return errs
	}
	return append(errs, validatePVUpdate(pv.GetSpec(), old.GetSpec())...)
}

// hostPathTypes are HostPathType's values, sorted as Kubernetes lists them.
var hostPathTypes = []string{"", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"}

// validatePVSpec is ValidatePersistentVolumeSpec for the modelled sources
// (hostPath, nfs, local, csi): access modes required and supported; capacity
// with exactly one resource, storage, > 0; reclaim policy Retain, Delete or
// Recycle; node affinity with required terms (and mandatory for local);
// exactly one source ("must specify a volume type"); storage class a DNS
// subdomain; volumeMode Block or Filesystem.
func validatePVSpec(s *statefulsetv1.PersistentVolumeSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	modesPath := fldPath.Child("accessModes")
	if len(s.GetAccessModes()) == 0 {
		errs = append(errs, field.Required(modesPath, ""))
	}
	errs = append(errs, validation.ValidateAccessModes(s.GetAccessModes(), modesPath)...)
	errs = append(errs, validateCapacity(s.GetCapacity(), fldPath.Child("capacity"))...)
	if rp := s.GetPersistentVolumeReclaimPolicy(); rp != "" && rp != reclaimRetain && rp != reclaimDelete && rp != reclaimRecycle {
		errs = append(errs, field.NotSupported(fldPath.Child("persistentVolumeReclaimPolicy"), rp, []string{reclaimDelete, reclaimRecycle, reclaimRetain}))
	}
	affinitySet, affErrs := validateVolumeNodeAffinity(s.GetNodeAffinity(), fldPath.Child("nodeAffinity"))
	errs = append(errs, affErrs...)
	sources := []struct {
		name     string
		src      *structpb.Struct
		validate func(*structpb.Struct, *field.Path) field.ErrorList
	}{
		{"hostPath", s.GetHostPath(), validateHostPathSource},
		{"nfs", s.GetNfs(), validateNFSSource},
		{"local", s.GetLocal(), validateLocalSource},
		{"csi", s.GetCsi(), validateCSISource},
	}
	n := 0
	for _, src := range sources {
		if src.src == nil {
			continue
		}
		if n > 0 {
			errs = append(errs, field.Forbidden(fldPath.Child(src.name), "may not specify more than 1 volume type"))
			continue
		}
		n++
		errs = append(errs, src.validate(src.src, fldPath.Child(src.name))...)
		if src.name == "local" && !affinitySet {
			errs = append(errs, field.Required(fldPath.Child("nodeAffinity"), "Local volume requires node affinity"))
		}
	}
	if n == 0 {
		errs = append(errs, field.Required(fldPath, "must specify a volume type"))
	}
	if hp := s.GetHostPath(); hp != nil && path.Clean(stringField(hp, "path")) == "/" && s.GetPersistentVolumeReclaimPolicy() == reclaimRecycle {
		errs = append(errs, field.Forbidden(fldPath.Child("persistentVolumeReclaimPolicy"), "may not be 'recycle' for a hostPath mount of '/'"))
	}
	if sc := s.GetStorageClassName(); sc != "" {
		errs = append(errs, validateClassName(sc, fldPath.Child("storageClassName"))...)
	}
	if s.VolumeMode != nil {
		errs = append(errs, validateVolumeMode(s.GetVolumeMode(), fldPath.Child("volumeMode"))...)
	}
	return errs
}

// validateCapacity: required, exactly {storage}, each quantity valid and > 0.
func validateCapacity(capacity map[string]*structpb.Value, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(capacity) == 0 {
		errs = append(errs, field.Required(fldPath, ""))
	}
	if _, ok := capacity["storage"]; !ok || len(capacity) > 1 {
		var shown map[string]any // null when empty, as Kubernetes shows it
		for k, v := range capacity {
			if shown == nil {
				shown = map[string]any{}
			}
			shown[k] = v.AsInterface()
		}
		errs = append(errs, field.NotSupported(fldPath, shown, []string{"storage"}))
	}
	keys := make([]string, 0, len(capacity))
	for k := range capacity {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := fldPath.Key(k)
		if q, err := defaults.Quantity(capacity[k]); err == nil && q.Value() < 0 {
			errs = append(errs, field.Invalid(p, q.Value(), "must be a valid resource quantity"))
		}
		errs = append(errs, validation.ValidatePositiveQuantity(capacity[k], p)...)
	}
	return errs
}

// validateVolumeNodeAffinity: when set, required node selector terms are
// mandatory and valid. It reports whether node affinity is set.
func validateVolumeNodeAffinity(na *structpb.Struct, fldPath *field.Path) (bool, field.ErrorList) {
	if na == nil {
		return false, nil
	}
	reqPath := fldPath.Child("required")
	req, ok := na.GetFields()["required"]
	if !ok || req.GetStructValue() == nil {
		return true, field.ErrorList{field.Required(reqPath, "must specify required node constraints")}
	}
	sel := &corev1.NodeSelector{}
	b, err := protojson.Marshal(req)
	if err == nil {
		err = protojson.Unmarshal(b, sel)
	}
	if err != nil {
		return true, field.ErrorList{field.Invalid(reqPath, req.AsInterface(), err.Error())}
	}
	return true, validation.ValidateNodeSelector(sel, reqPath)
}

func validateHostPathSource(s *structpb.Struct, fldPath *field.Path) field.ErrorList {
	p := stringField(s, "path")
	if p == "" {
		return field.ErrorList{field.Required(fldPath.Child("path"), "")}
	}
	errs := validateNoBacksteps(p, fldPath.Child("path"))
	if t, ok := s.GetFields()["type"]; ok {
		typ := t.GetStringValue()
		found := false
		for _, known := range hostPathTypes {
			found = found || typ == known
		}
		if !found {
			errs = append(errs, field.NotSupported(fldPath.Child("type"), typ, hostPathTypes))
		}
	}
	return errs
}

func validateNFSSource(s *structpb.Struct, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if stringField(s, "server") == "" {
		errs = append(errs, field.Required(fldPath.Child("server"), ""))
	}
	p := stringField(s, "path")
	if p == "" {
		errs = append(errs, field.Required(fldPath.Child("path"), ""))
	}
	if !path.IsAbs(p) {
		errs = append(errs, field.Invalid(fldPath.Child("path"), p, "must be an absolute path"))
	}
	return errs
}

func validateLocalSource(s *structpb.Struct, fldPath *field.Path) field.ErrorList {
	p := stringField(s, "path")
	if p == "" {
		return field.ErrorList{field.Required(fldPath.Child("path"), "")}
	}
	return validateNoBacksteps(p, fldPath.Child("path"))
}

// validateCSISource is validateCSIPersistentVolumeSource: the driver is a
// DNS subdomain of at most 63 characters; volumeHandle is required.
func validateCSISource(s *structpb.Struct, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	driver, driverPath := stringField(s, "driver"), fldPath.Child("driver")
	if driver == "" {
		errs = append(errs, field.Required(driverPath, ""))
	}
	if len(driver) > 63 {
		errs = append(errs, field.TooLong(driverPath, driver, 63))
	}
	for _, msg := range k8svalidation.IsDNS1123Subdomain(strings.ToLower(driver)) {
		errs = append(errs, field.Invalid(driverPath, driver, msg))
	}
	if stringField(s, "volumeHandle") == "" {
		errs = append(errs, field.Required(fldPath.Child("volumeHandle"), ""))
	}
	return errs
}

func validateNoBacksteps(p string, fldPath *field.Path) field.ErrorList {
	for _, item := range strings.Split(p, "/") {
		if item == ".." {
			return field.ErrorList{field.Invalid(fldPath, p, "must not contain '..'")}
		}
	}
	return nil
}

// validatePVUpdate is the immutability half of ValidatePersistentVolumeUpdate:
// the volume source (except adding a CSI controllerExpandSecretRef),
// volumeMode and a set nodeAffinity may not change. Kubernetes reports the
// last two at "volumeMode" and "nodeAffinity"; podwarden at their spec paths.
func validatePVUpdate(s, old *statefulsetv1.PersistentVolumeSpec) field.ErrorList {
	var errs field.ErrorList
	newCSI := s.GetCsi()
	if old.GetCsi() != nil && newCSI != nil {
		if _, had := old.GetCsi().GetFields()["controllerExpandSecretRef"]; !had {
			newCSI = proto.Clone(newCSI).(*structpb.Struct)
			delete(newCSI.Fields, "controllerExpandSecretRef")
		}
	}
	if !proto.Equal(s.GetHostPath(), old.GetHostPath()) || !proto.Equal(s.GetNfs(), old.GetNfs()) ||
		!proto.Equal(s.GetLocal(), old.GetLocal()) || !proto.Equal(newCSI, old.GetCsi()) {
		// Kubernetes appends a Go diff of the two sources to this message.
		errs = append(errs, field.Forbidden(specPath.Child("persistentvolumesource"), "spec.persistentvolumesource is immutable after creation"))
	}
	if s.GetVolumeMode() != old.GetVolumeMode() {
		errs = append(errs, field.Invalid(specPath.Child("volumeMode"), s.GetVolumeMode(), validation.FieldImmutableErrorMsg))
	}
	if old.GetNodeAffinity() != nil && !proto.Equal(s.GetNodeAffinity(), old.GetNodeAffinity()) {
		errs = append(errs, field.Invalid(specPath.Child("nodeAffinity"), jsonValue(s.GetNodeAffinity()),
			validation.FieldImmutableErrorMsg+", except for updating from beta label to GA"))
	}
	return errs
}

func stringField(s *structpb.Struct, key string) string {
	return s.GetFields()[key].GetStringValue()
}

// jsonValue shows a message in an error as its Kubernetes JSON (null when unset).
func jsonValue(m proto.Message) any {
	if m == nil || !m.ProtoReflect().IsValid() {
		return json.RawMessage("null")
	}
	b, err := protojson.Marshal(m)
	if err != nil {
		return fmt.Sprint(m)
	}
	return json.RawMessage(b)
}

// intOrStringValue shows an IntOrString as Kubernetes does: 0 or "0%".
func intOrStringValue(v *structpb.Value) any {
	if s, ok := v.GetKind().(*structpb.Value_StringValue); ok {
		return s.StringValue
	}
	return int64(v.GetNumberValue())
}
