// Package kinds names the object kinds the autoscaler service stores in its schema.
package kinds

import (
	"github.com/podwarden/podwarden/shared/store"

	autoscalerv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/autoscaler/v1"
)

// HPAs are the HorizontalPodAutoscalers (stored as autoscaling/v2).
var HPAs = store.Kind[*autoscalerv1.HorizontalPodAutoscaler]{Name: "HorizontalPodAutoscaler", Watch: true,
	New: func() *autoscalerv1.HorizontalPodAutoscaler { return &autoscalerv1.HorizontalPodAutoscaler{} }}
