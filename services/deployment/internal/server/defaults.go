package server

import (
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/podwarden/podwarden/shared/defaults"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

func int32p(v int32) *int32 { return &v }

// defaultDeployment applies apps/v1 SetDefaults_Deployment.
func defaultDeployment(d *deploymentv1.Deployment) {
	if d.Spec == nil {
		d.Spec = &deploymentv1.DeploymentSpec{}
	}
	s := d.Spec
	if s.Replicas == nil {
		s.Replicas = int32p(1)
	}
	if s.Strategy == nil {
		s.Strategy = &deploymentv1.DeploymentStrategy{}
	}
	if s.Strategy.Type == "" {
		s.Strategy.Type = "RollingUpdate"
	}
	if s.Strategy.Type == "RollingUpdate" {
		if s.Strategy.RollingUpdate == nil {
			s.Strategy.RollingUpdate = &deploymentv1.RollingUpdateDeployment{}
		}
		if s.Strategy.RollingUpdate.MaxUnavailable == nil {
			s.Strategy.RollingUpdate.MaxUnavailable = structpb.NewStringValue("25%")
		}
		if s.Strategy.RollingUpdate.MaxSurge == nil {
			s.Strategy.RollingUpdate.MaxSurge = structpb.NewStringValue("25%")
		}
	}
	if s.RevisionHistoryLimit == nil {
		s.RevisionHistoryLimit = int32p(10)
	}
	if s.ProgressDeadlineSeconds == nil {
		s.ProgressDeadlineSeconds = int32p(600)
	}
	defaultTemplate(&s.Template)
}

func defaultTemplate(t **corev1.PodTemplateSpec) {
	if *t == nil {
		*t = &corev1.PodTemplateSpec{}
	}
	defaults.DefaultPodTemplateSpec(*t)
}

// defaultReplicaSet applies apps/v1 SetDefaults_ReplicaSet.
func defaultReplicaSet(rs *deploymentv1.ReplicaSet) {
	if rs.Spec == nil {
		rs.Spec = &deploymentv1.ReplicaSetSpec{}
	}
	if rs.Spec.Replicas == nil {
		rs.Spec.Replicas = int32p(1)
	}
	defaultTemplate(&rs.Spec.Template)
}

// defaultReplicationController applies core/v1 SetDefaults_ReplicationController:
// an empty selector and empty labels default to the template's labels.
func defaultReplicationController(rc *deploymentv1.ReplicationController) {
	if rc.Spec == nil {
		rc.Spec = &deploymentv1.ReplicationControllerSpec{}
	}
	if rc.Spec.Replicas == nil {
		rc.Spec.Replicas = int32p(1)
	}
	defaultTemplate(&rc.Spec.Template)
	tl := rc.Spec.Template.GetMetadata().GetLabels()
	if len(rc.Spec.Selector) == 0 && len(tl) > 0 {
		rc.Spec.Selector = copyMap(tl)
	}
	if len(rc.Metadata.Labels) == 0 && len(tl) > 0 {
		rc.Metadata.Labels = copyMap(tl)
	}
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
