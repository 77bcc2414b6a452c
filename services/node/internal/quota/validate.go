package quota

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/shared/defaults"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// standardQuotaResources are the names without a "/" a quota may limit
// (helper.IsStandardQuotaResourceName).
var standardQuotaResources = []string{Pods, "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
	"persistentvolumeclaims", "services.nodeports", "services.loadbalancers", CPU, Memory, Ephemeral,
	RequestsCPU, RequestsMemory, "requests.storage", "requests.ephemeral-storage", LimitsCPU, LimitsMemory, "limits.ephemeral-storage"}

// integerResources are counted in whole numbers (helper.IsIntegerResourceName).
var integerResources = []string{Pods, "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
	"persistentvolumeclaims", "services.nodeports", "services.loadbalancers"}

func isIntegerResource(n string) bool {
	return slices.Contains(integerResources, n) || strings.HasPrefix(n, "count/")
}

func isStandardQuotaResource(n string) bool {
	if slices.Contains(standardQuotaResources, n) {
		return true
	}
	for _, p := range []string{"hugepages-", "requests.hugepages-", "limits.hugepages-"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

// validateQuantities checks a resource list: each quantity parses and is not
// negative ("must be greater than or equal to 0"), a count is whole, and each
// name is one a quota knows when quotaNames is set.
func validateQuantities(m map[string]*structpb.Value, fp *field.Path, quotaNames bool) field.ErrorList {
	var errs field.ErrorList
	for _, k := range slices.Sorted(maps.Keys(m)) {
		p := fp.Key(k)
		if quotaNames && !strings.Contains(k, "/") && !isStandardQuotaResource(k) {
			errs = append(errs, field.Invalid(p, k, "must be a standard resource for quota"))
		}
		q, err := defaults.Quantity(m[k])
		if err != nil {
			errs = append(errs, field.Invalid(p, m[k].AsInterface(), err.Error()))
			continue
		}
		if q.Sign() < 0 {
			errs = append(errs, field.Invalid(p, q.String(), "must be greater than or equal to 0"))
		}
		if quotaNames && isIntegerResource(k) && q.MilliValue()%1000 != 0 {
			errs = append(errs, field.Invalid(p, q.String(), "must be an integer"))
		}
	}
	return errs
}

// ValidateResourceQuotaSpec is ValidateResourceQuotaSpec: hard's names and
// quantities, the scopes and the scope selector.
func ValidateResourceQuotaSpec(spec *corev1.ResourceQuotaSpec) field.ErrorList {
	fp := field.NewPath("spec")
	errs := validateQuantities(spec.GetHard(), fp.Child("hard"), true)
	for i, s := range spec.GetScopes() {
		if !slices.Contains(Scopes, s) {
			errs = append(errs, field.Invalid(fp.Child("scopes").Index(i), s, "unsupported scope"))
		}
	}
	sel := fp.Child("scopeSelector", "matchExpressions")
	for i, e := range spec.GetScopeSelector().GetMatchExpressions() {
		ep := sel.Index(i)
		if !slices.Contains(Scopes, e.GetScopeName()) {
			errs = append(errs, field.Invalid(ep.Child("scopeName"), e.GetScopeName(), "unsupported scope"))
		}
		switch e.GetOperator() {
		case "In", "NotIn":
			if len(e.GetValues()) == 0 {
				errs = append(errs, field.Required(ep.Child("values"), "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"))
			}
		case "Exists", "DoesNotExist":
			if len(e.GetValues()) > 0 {
				errs = append(errs, field.Invalid(ep.Child("values"), e.GetValues(), "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"))
			}
		default:
			errs = append(errs, field.NotSupported(ep.Child("operator"), e.GetOperator(), []string{"In", "NotIn", "Exists", "DoesNotExist"}))
		}
	}
	return errs
}

// The LimitRange types.
const (
	LimitTypePod       = "Pod"
	LimitTypeContainer = "Container"
	LimitTypePVC       = "PersistentVolumeClaim"
)

// DefaultLimitRange is SetDefaults_LimitRangeItem: a Container item's default
// limit is its max when unset, and its default request the default limit, else
// the min.
func DefaultLimitRange(lr *corev1.LimitRange) {
	for _, it := range lr.GetSpec().GetLimits() {
		if it.GetType() != LimitTypeContainer {
			continue
		}
		if it.Default == nil {
			it.Default = map[string]*structpb.Value{}
		}
		if it.DefaultRequest == nil {
			it.DefaultRequest = map[string]*structpb.Value{}
		}
		for k, v := range it.GetMax() {
			if _, ok := it.Default[k]; !ok {
				it.Default[k] = v
			}
		}
		for k, v := range it.Default {
			if _, ok := it.DefaultRequest[k]; !ok {
				it.DefaultRequest[k] = v
			}
		}
		for k, v := range it.GetMin() {
			if _, ok := it.DefaultRequest[k]; !ok {
				it.DefaultRequest[k] = v
			}
		}
		for _, m := range []map[string]*structpb.Value{it.Max, it.Min, it.Default, it.DefaultRequest, it.MaxLimitRequestRatio} {
			defaults.NormalizeQuantities(m)
		}
	}
}

// ValidateLimitRangeSpec is ValidateLimitRange's spec part (after defaulting):
// a known type, quantities not negative, no default for a Pod item, and
// min <= defaultRequest <= default <= max, ratios at least 1 and at most max/min.
func ValidateLimitRangeSpec(spec *corev1.LimitRangeSpec) field.ErrorList {
	var errs field.ErrorList
	fp := field.NewPath("spec", "limits")
	for i, it := range spec.GetLimits() {
		ip := fp.Index(i)
		switch it.GetType() {
		case LimitTypePod, LimitTypeContainer, LimitTypePVC:
		default:
			errs = append(errs, field.NotSupported(ip.Child("type"), it.GetType(), []string{LimitTypeContainer, LimitTypePod, LimitTypePVC}))
		}
		for _, part := range []struct {
			name string
			m    map[string]*structpb.Value
		}{{"max", it.GetMax()}, {"min", it.GetMin()}, {"default", it.GetDefault()}, {"defaultRequest", it.GetDefaultRequest()}, {"maxLimitRequestRatio", it.GetMaxLimitRequestRatio()}} {
			errs = append(errs, validateQuantities(part.m, ip.Child(part.name), false)...)
		}
		if it.GetType() == LimitTypePod {
			if len(it.GetDefault()) > 0 {
				errs = append(errs, field.Forbidden(ip.Child("default"), "may not be specified when `type` is 'Pod'"))
			}
			if len(it.GetDefaultRequest()) > 0 {
				errs = append(errs, field.Forbidden(ip.Child("defaultRequest"), "may not be specified when `type` is 'Pod'"))
			}
		}
		minL, maxL, def, defReq, ratio := FromProto(it.GetMin()), FromProto(it.GetMax()), FromProto(it.GetDefault()), FromProto(it.GetDefaultRequest()), FromProto(it.GetMaxLimitRequestRatio())
		keys := map[string]bool{}
		for _, l := range []List{minL, maxL, def, defReq, ratio} {
			for k := range l {
				keys[k] = true
			}
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			mn, hasMin := minL[k]
			mx, hasMax := maxL[k]
			d, hasDef := def[k]
			dr, hasDefReq := defReq[k]
			r, hasRatio := ratio[k]
			bad := func(part string, q resource.Quantity, msg string) {
				errs = append(errs, field.Invalid(ip.Child(part).Key(k), q.String(), msg))
			}
			if hasMin && hasMax && mn.Cmp(mx) > 0 {
				bad("min", mn, fmt.Sprintf("min value %s is greater than max value %s", mn.String(), mx.String()))
			}
			if hasDefReq && hasMin && mn.Cmp(dr) > 0 {
				bad("defaultRequest", dr, fmt.Sprintf("min value %s is greater than default request value %s", mn.String(), dr.String()))
			}
			if hasDefReq && hasMax && dr.Cmp(mx) > 0 {
				bad("defaultRequest", dr, fmt.Sprintf("default request value %s is greater than max value %s", dr.String(), mx.String()))
			}
			if hasDefReq && hasDef && dr.Cmp(d) > 0 {
				bad("defaultRequest", dr, fmt.Sprintf("default request value %s is greater than default limit value %s", dr.String(), d.String()))
			}
			if hasDef && hasMin && mn.Cmp(d) > 0 {
				bad("default", d, fmt.Sprintf("min value %s is greater than default value %s", mn.String(), d.String()))
			}
			if hasDef && hasMax && d.Cmp(mx) > 0 {
				bad("default", d, fmt.Sprintf("default value %s is greater than max value %s", d.String(), mx.String()))
			}
			if hasRatio && r.Cmp(*resource.NewQuantity(1, resource.DecimalSI)) < 0 {
				bad("maxLimitRequestRatio", r, fmt.Sprintf("ratio %s is less than 1", r.String()))
			}
			if hasRatio && hasMin && hasMax && mn.Sign() > 0 {
				rv, minV, maxV := float64(r.MilliValue())/1000, mn.MilliValue(), mx.MilliValue()
				if limit := float64(maxV) / float64(minV); rv > limit {
					bad("maxLimitRequestRatio", r, fmt.Sprintf("ratio %s is greater than max/min = %f", r.String(), limit))
				}
			}
		}
	}
	return errs
}
