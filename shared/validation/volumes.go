package validation

import (
	"path"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// validateVolumes is Kubernetes' ValidateVolumes for the modelled sources:
// names required, DNS-1123 labels and unique; at most one source
// ("may not specify more than 1 volume type"; none is accepted: defaulting
// makes it an emptyDir); persistentVolumeClaim.claimName required. It
// returns the valid volumes by name: a mount of an invalid volume is "Not found".
func validateVolumes(volumes []*corev1.Volume, fldPath *field.Path) (map[string]*corev1.Volume, field.ErrorList) {
	var allErrs field.ErrorList
	vols := make(map[string]*corev1.Volume, len(volumes))
	for i, v := range volumes {
		idxPath := fldPath.Index(i)
		namePath := idxPath.Child("name")
		el := validateVolumeSource(v, idxPath)
		if v.GetName() == "" {
			el = append(el, field.Required(namePath, ""))
		} else {
			el = append(el, validateDNS1123Label(v.GetName(), namePath)...)
		}
		if _, dup := vols[v.GetName()]; dup {
			el = append(el, field.Duplicate(namePath, v.GetName()))
		}
		if len(el) == 0 {
			vols[v.GetName()] = v
		} else {
			allErrs = append(allErrs, el...)
		}
	}
	return vols, allErrs
}

func validateVolumeSource(v *corev1.Volume, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	sources := []struct {
		name string
		set  bool
	}{
		{"hostPath", v.GetHostPath() != nil},
		{"emptyDir", v.GetEmptyDir() != nil},
		{"secret", v.GetSecret() != nil},
		{"nfs", v.GetNfs() != nil},
		{"persistentVolumeClaim", v.GetPersistentVolumeClaim() != nil},
		{"downwardAPI", v.GetDownwardApi() != nil},
		{"configMap", v.GetConfigMap() != nil},
		{"projected", v.GetProjected() != nil},
		{"csi", v.GetCsi() != nil},
		{"ephemeral", v.GetEphemeral() != nil},
		{"image", v.GetImage() != nil},
	}
	n := 0
	for _, s := range sources {
		if !s.set {
			continue
		}
		if n > 0 {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child(s.name), "may not specify more than 1 volume type"))
			continue
		}
		n++
		switch s.name {
		case "persistentVolumeClaim":
			if v.GetPersistentVolumeClaim().GetClaimName() == "" {
				allErrs = append(allErrs, field.Required(fldPath.Child("persistentVolumeClaim", "claimName"), ""))
			}
		case "hostPath":
			allErrs = append(allErrs, validateHostPath(v.GetHostPath(), fldPath.Child("hostPath"))...)
		}
	}
	return allErrs
}

func validateHostPath(s *structpb.Struct, fldPath *field.Path) field.ErrorList {
	p := s.GetFields()["path"].GetStringValue()
	if p == "" {
		return field.ErrorList{field.Required(fldPath.Child("path"), "")}
	}
	return validatePathNoBacksteps(p, fldPath.Child("path"))
}

// validateVolumeMounts is Kubernetes' ValidateVolumeMounts: name required
// and naming a valid pod volume, mountPath required and unique, subPath a
// relative path without "..", subPath and subPathExpr exclusive,
// mountPropagation None/HostToContainer/Bidirectional.
func validateVolumeMounts(mounts []*corev1.VolumeMount, vols map[string]*corev1.Volume, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	mountpoints := map[string]bool{}
	for i, m := range mounts {
		idxPath := fldPath.Index(i)
		if m.GetName() == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("name"), ""))
		}
		if _, ok := vols[m.GetName()]; !ok {
			allErrs = append(allErrs, field.NotFound(idxPath.Child("name"), m.GetName()))
		}
		if m.GetMountPath() == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("mountPath"), ""))
		}
		if mountpoints[m.GetMountPath()] {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("mountPath"), m.GetMountPath(), "must be unique"))
		}
		mountpoints[m.GetMountPath()] = true
		if m.GetSubPath() != "" {
			// Kubernetes reports these on the list path, not the item's.
			allErrs = append(allErrs, validateLocalDescendingPath(m.GetSubPath(), fldPath.Child("subPath"))...)
		}
		if m.GetSubPathExpr() != "" {
			if m.GetSubPath() != "" {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("subPathExpr"), m.GetSubPathExpr(), "subPathExpr and subPath are mutually exclusive"))
			}
			allErrs = append(allErrs, validateLocalDescendingPath(m.GetSubPathExpr(), fldPath.Child("subPathExpr"))...)
		}
		if m.MountPropagation != nil {
			switch m.GetMountPropagation() {
			case "None", "HostToContainer", "Bidirectional":
			default:
				allErrs = append(allErrs, field.NotSupported(fldPath.Child("mountPropagation"), m.GetMountPropagation(),
					[]string{"Bidirectional", "HostToContainer", "None"}))
			}
		}
	}
	return allErrs
}

func validateLocalDescendingPath(p string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if path.IsAbs(p) {
		allErrs = append(allErrs, field.Invalid(fldPath, p, "must be a relative path"))
	}
	return append(allErrs, validatePathNoBacksteps(p, fldPath)...)
}

func validatePathNoBacksteps(p string, fldPath *field.Path) field.ErrorList {
	for _, item := range strings.Split(filepath.ToSlash(p), "/") {
		if item == ".." {
			return field.ErrorList{field.Invalid(fldPath, p, "must not contain '..'")}
		}
	}
	return nil
}
