package server

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/shared/kindfuzz"

	autoscalerv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/autoscaler/v1"
)

// HorizontalPodAutoscaler admission keeps kindfuzz's properties for any body
// (see kindfuzz); an autoscaling/v1 body is converted to v2 first, as the
// server does, and a valid one converts back unchanged.
var hpas = kindfuzz.FromResource(Resource(nil, nil, nil), func() *autoscalerv1.HorizontalPodAutoscaler {
	return &autoscalerv1.HorizontalPodAutoscaler{}
})

func TestAdmitManifests(t *testing.T) {
	hpas.CheckManifests(t, "autoscaling/v2/HorizontalPodAutoscaler")
	for _, d := range kindfuzz.Docs("autoscaling/v1/HorizontalPodAutoscaler") {
		if got := checkV1(t, d.Data); got != kindfuzz.Admitted {
			t.Errorf("%s: got %v, want admitted", d.Name, got)
		}
	}
}

func FuzzHorizontalPodAutoscaler(f *testing.F) {
	kindfuzz.AddSeeds(f, "autoscaling/v2/HorizontalPodAutoscaler")
	f.Fuzz(func(t *testing.T, data []byte, at uint16, value string) {
		hpas.Check(t, kindfuzz.Mutate(data, at, value))
	})
}

func FuzzHorizontalPodAutoscalerV1(f *testing.F) {
	kindfuzz.AddSeeds(f, "autoscaling/v1/HorizontalPodAutoscaler")
	f.Fuzz(func(t *testing.T, data []byte, at uint16, value string) { checkV1(t, kindfuzz.Mutate(data, at, value)) })
}

func checkV1(t *testing.T, data []byte) kindfuzz.Outcome {
	v1 := &autoscalerv1.HorizontalPodAutoscalerV1{}
	if kindfuzz.Decode(data, v1) != nil {
		return kindfuzz.Undecodable
	}
	if v1.ApiVersion != APIVersionV1 || v1.Kind != Kind {
		return kindfuzz.Rejected
	}
	v2 := ToV2(v1, nil)
	b, err := protojson.Marshal(v2)
	if err != nil {
		t.Fatalf("encode the converted object: %v", err)
	}
	got := hpas.Check(t, b)
	if got == kindfuzz.Admitted {
		back := ToV1(v2)
		if !proto.Equal(back.GetSpec(), v1.GetSpec()) {
			t.Fatalf("autoscaling/v1 -> v2 -> v1 changes the spec:\nbefore: %v\nafter:  %v", v1.GetSpec(), back.GetSpec())
		}
	}
	return got
}
