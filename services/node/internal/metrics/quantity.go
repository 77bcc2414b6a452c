package metrics

import (
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/api/resource"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/podwarden/podwarden/shared/defaults"
)

type structpbValue = structpb.Value

// cpuQuantity renders millicores like metrics-server ("5m"; nanocores are not simulated).
func cpuQuantity(milli int64) *structpb.Value {
	return defaults.QuantityValue(*resource.NewMilliQuantity(milli, resource.DecimalSI))
}

// memoryQuantity renders bytes in Ki like metrics-server ("4096Ki").
func memoryQuantity(milli int64) *structpb.Value {
	bytes := milli / 1000
	return defaults.QuantityValue(*resource.NewQuantity(bytes/1024*1024, resource.BinarySI))
}

// milliQuantity renders a custom metric value.
func milliQuantity(milli int64) *structpb.Value {
	return defaults.QuantityValue(*resource.NewMilliQuantity(milli, resource.DecimalSI))
}

func labelSet(m map[string]string) k8slabels.Set { return k8slabels.Set(m) }
