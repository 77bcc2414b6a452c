package server

import (
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/podwarden/podwarden/shared/defaults"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
)

// defaultDaemonSet applies apps/v1 SetDefaults_DaemonSet: RollingUpdate with
// maxUnavailable 1 and maxSurge 0, revisionHistoryLimit 10, and the pod defaults.
func defaultDaemonSet(ds *daemonsetv1.DaemonSet) {
	if ds.Spec == nil {
		ds.Spec = &daemonsetv1.DaemonSetSpec{}
	}
	s := ds.Spec
	if s.UpdateStrategy == nil {
		s.UpdateStrategy = &daemonsetv1.DaemonSetUpdateStrategy{}
	}
	st := s.UpdateStrategy
	if st.Type == "" {
		st.Type = "RollingUpdate"
	}
	if st.Type == "RollingUpdate" {
		if st.RollingUpdate == nil {
			st.RollingUpdate = &daemonsetv1.RollingUpdateDaemonSet{}
		}
		if st.RollingUpdate.MaxUnavailable == nil {
			st.RollingUpdate.MaxUnavailable = structpb.NewNumberValue(1)
		}
		if st.RollingUpdate.MaxSurge == nil {
			st.RollingUpdate.MaxSurge = structpb.NewNumberValue(0)
		}
	}
	if s.RevisionHistoryLimit == nil {
		v := int32(10)
		s.RevisionHistoryLimit = &v
	}
	if s.Template == nil {
		s.Template = &corev1.PodTemplateSpec{}
	}
	defaults.DefaultPodTemplateSpec(s.Template)
}
