package quota

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/api/resource"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// AnnotationLimitRanger is the annotation the LimitRanger puts on a pod whose
// resources it set.
const AnnotationLimitRanger = "kubernetes.io/limit-ranger"

// ApplyLimitRanges is the LimitRanger admission plugin on a new pod: for each
// LimitRange (in order), the defaults of its Container items (default limits,
// defaultRequest requests) fill what each container leaves unset (the
// annotation says which), then the pod is checked against the min, max and
// maxLimitRequestRatio of its Container and Pod items. The error lists every
// violation in Kubernetes' words.
func ApplyLimitRanges(ranges []*corev1.LimitRange, p *corev1.Pod) error {
	var errs []error
	for _, lr := range ranges {
		defaultContainers(lr, p)
		errs = append(errs, validatePod(lr, p)...)
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New("[" + strings.Join(msgs, ", ") + "]")
}

// defaultContainers is defaultContainerResourceRequirements + mergePodResourceRequirements.
func defaultContainers(lr *corev1.LimitRange, p *corev1.Pod) {
	var limits, requests map[string]*structpb.Value
	for _, it := range lr.GetSpec().GetLimits() {
		if it.GetType() == LimitTypeContainer {
			limits, requests = it.GetDefault(), it.GetDefaultRequest()
		}
	}
	if len(limits) == 0 && len(requests) == 0 {
		return
	}
	var notes []string
	merge := func(c *corev1.Container, what string) {
		if c.Resources == nil {
			c.Resources = &corev1.ResourceRequirements{}
		}
		fill := func(dst *map[string]*structpb.Value, src map[string]*structpb.Value) []string {
			var set []string
			for _, k := range slices.Sorted(maps.Keys(src)) {
				if _, ok := (*dst)[k]; ok {
					continue
				}
				if *dst == nil {
					*dst = map[string]*structpb.Value{}
				}
				(*dst)[k] = proto.Clone(src[k]).(*structpb.Value)
				set = append(set, k)
			}
			return set
		}
		if set := fill(&c.Resources.Requests, requests); len(set) > 0 {
			notes = append(notes, fmt.Sprintf("%s request for %s %s", strings.Join(set, ", "), what, c.GetName()))
		}
		if set := fill(&c.Resources.Limits, limits); len(set) > 0 {
			notes = append(notes, fmt.Sprintf("%s limit for %s %s", strings.Join(set, ", "), what, c.GetName()))
		}
	}
	for _, c := range p.GetSpec().GetContainers() {
		merge(c, "container")
	}
	for _, c := range p.GetSpec().GetInitContainers() {
		merge(c, "init container")
	}
	if len(notes) == 0 {
		return
	}
	m := p.GetMetadata()
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[AnnotationLimitRanger] = "LimitRanger plugin set: " + strings.Join(notes, "; ")
}

// validatePod is PodValidateLimitFunc.
func validatePod(lr *corev1.LimitRange, p *corev1.Pod) []error {
	var errs []error
	check := func(typ string, it *corev1.LimitRangeItem, req, lim List) {
		for _, k := range slices.Sorted(maps.Keys(it.GetMin())) {
			if err := minConstraint(typ, k, FromProto(it.GetMin())[k], req, lim); err != nil {
				errs = append(errs, err)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(it.GetMax())) {
			if err := maxConstraint(typ, k, FromProto(it.GetMax())[k], req, lim); err != nil {
				errs = append(errs, err)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(it.GetMaxLimitRequestRatio())) {
			if err := ratioConstraint(typ, k, FromProto(it.GetMaxLimitRequestRatio())[k], req, lim); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, it := range lr.GetSpec().GetLimits() {
		switch it.GetType() {
		case LimitTypeContainer:
			for _, c := range p.GetSpec().GetContainers() {
				check(LimitTypeContainer, it, FromProto(c.GetResources().GetRequests()), FromProto(c.GetResources().GetLimits()))
			}
		case LimitTypePod:
			check(LimitTypePod, it, PodRequests(p), PodLimits(p))
		}
	}
	return errs
}

// enforcedValues is requestLimitEnforcedValues: milli-units when nothing overflows.
func enforcedValues(req, lim, enf resource.Quantity) (r, l, e int64) {
	r, l, e = req.Value(), lim.Value(), enf.Value()
	if r <= resource.MaxMilliValue && l <= resource.MaxMilliValue && e <= resource.MaxMilliValue {
		r, l, e = req.MilliValue(), lim.MilliValue(), enf.MilliValue()
	}
	return r, l, e
}

func minConstraint(typ, name string, enforced resource.Quantity, request, limit List) error {
	req, hasReq := request[name]
	lim, hasLim := limit[name]
	r, l, e := enforcedValues(req, lim, enforced)
	switch {
	case !hasReq:
		return fmt.Errorf("minimum %s usage per %s is %s.  No request is specified", name, typ, enforced.String())
	case r < e:
		return fmt.Errorf("minimum %s usage per %s is %s, but request is %s", name, typ, enforced.String(), req.String())
	case hasLim && l < e:
		return fmt.Errorf("minimum %s usage per %s is %s, but limit is %s", name, typ, enforced.String(), lim.String())
	}
	return nil
}

func maxConstraint(typ, name string, enforced resource.Quantity, request, limit List) error {
	req, hasReq := request[name]
	lim, hasLim := limit[name]
	r, l, e := enforcedValues(req, lim, enforced)
	switch {
	case !hasLim:
		return fmt.Errorf("maximum %s usage per %s is %s.  No limit is specified", name, typ, enforced.String())
	case l > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but limit is %s", name, typ, enforced.String(), lim.String())
	case hasReq && r > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, typ, enforced.String(), req.String())
	}
	return nil
}

func ratioConstraint(typ, name string, enforced resource.Quantity, request, limit List) error {
	req, hasReq := request[name]
	lim, hasLim := limit[name]
	r, l, _ := enforcedValues(req, lim, enforced)
	if !hasReq || r == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", name, typ, enforced.String())
	}
	if !hasLim || l == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", name, typ, enforced.String())
	}
	observed := float64(l) / float64(r)
	shown := observed
	maxRatio := float64(enforced.Value())
	if enforced.Value() <= resource.MaxMilliValue {
		observed *= 1000
		maxRatio = float64(enforced.MilliValue())
	}
	if observed > maxRatio {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but provided ratio is %f", name, typ, enforced.String(), shown)
	}
	return nil
}
