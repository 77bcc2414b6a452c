package server

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/services/core/internal/kinds"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/validation"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Secret types and the keys they require (k8s.io/api/core/v1).
const (
	SecretTypeOpaque              = "Opaque"
	SecretTypeServiceAccountToken = "kubernetes.io/service-account-token"
	SecretTypeDockercfg           = "kubernetes.io/dockercfg"
	SecretTypeDockerConfigJSON    = "kubernetes.io/dockerconfigjson"
	SecretTypeBasicAuth           = "kubernetes.io/basic-auth"
	SecretTypeSSHAuth             = "kubernetes.io/ssh-auth"
	SecretTypeTLS                 = "kubernetes.io/tls"

	ServiceAccountNameKey = "kubernetes.io/service-account.name"
	DockerConfigKey       = ".dockercfg"
	DockerConfigJSONKey   = ".dockerconfigjson"
	BasicAuthUsernameKey  = "username"
	BasicAuthPasswordKey  = "password"
	SSHAuthPrivateKey     = "ssh-privatekey"
	TLSCertKey            = "tls.crt"
	TLSPrivateKeyKey      = "tls.key"
)

// SecretResource describes core/v1 Secrets with Kubernetes' API semantics.
func SecretResource(db *store.DB, hub *watch.Hub, now func() time.Time) *crud.Resource[*corev1.Secret] {
	return &crud.Resource[*corev1.Secret]{
		Kind: kinds.Secrets, APIVersion: "v1", KindName: "Secret", Namespaced: true,
		GR: apierr.GroupResource{Resource: "secrets"}, GK: apierr.GroupKind{Kind: "Secret"},
		DB: db, Hub: hub, Now: now,
		TypeMeta: func(s *corev1.Secret) (*string, *string) { return &s.ApiVersion, &s.Kind },
		Default:  DefaultSecret,
		Validate: ValidateSecret,
		Fields:   func(s *corev1.Secret) map[string]string { return map[string]string{"type": s.GetType()} },
	}
}

// DefaultSecret is SetDefaults_Secret (type Opaque) plus what Kubernetes' v1
// conversion does with stringData: its entries are written into data (over
// data's own) and stringData itself is dropped, on create and on update.
func DefaultSecret(s *corev1.Secret) {
	if s.Type == "" {
		s.Type = SecretTypeOpaque
	}
	if len(s.StringData) > 0 && s.Data == nil {
		s.Data = make(map[string][]byte, len(s.StringData))
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}

// ValidateSecret is Kubernetes' ValidateSecret and ValidateSecretUpdate: keys are
// config keys, at most 1 MiB of data, the keys each type requires, the type
// immutable, and nothing changed once immutable is set.
func ValidateSecret(s, old *corev1.Secret, create bool) field.ErrorList {
	meta := field.NewPath("metadata")
	var errs field.ErrorList
	if create {
		errs = validation.ValidateObjectMeta(s.GetMetadata(), true, validation.NameIsDNSSubdomain, meta)
	} else {
		errs = validation.ValidateObjectMetaUpdate(s.GetMetadata(), old.GetMetadata(), meta)
		errs = append(errs, validation.ValidateImmutable(s.GetType(), old.GetType(), field.NewPath("type"))...)
		if old.GetImmutable() {
			if !s.GetImmutable() {
				errs = append(errs, field.Forbidden(field.NewPath("immutable"), immutableMsg))
			}
			if !maps.EqualFunc(s.GetData(), old.GetData(), bytesEqual) {
				errs = append(errs, field.Forbidden(field.NewPath("data"), immutableMsg))
			}
		}
	}
	dataPath := field.NewPath("data")
	size := 0
	for _, k := range slices.Sorted(maps.Keys(s.GetData())) {
		errs = append(errs, validateConfigKey(k, dataPath)...)
		size += len(s.GetData()[k])
	}
	if size > MaxDataSize {
		errs = append(errs, field.TooLong(dataPath, "", MaxDataSize))
	}
	return append(errs, validateSecretType(s, dataPath)...)
}

// validateSecretType checks the keys a Secret's type requires.
func validateSecretType(s *corev1.Secret, dataPath *field.Path) field.ErrorList {
	data := s.GetData()
	has := func(k string) bool { _, ok := data[k]; return ok }
	var errs field.ErrorList
	wellFormedJSON := func(key string) {
		if !has(key) {
			errs = append(errs, field.Required(dataPath.Key(key), ""))
			return
		}
		if err := json.Unmarshal(data[key], &map[string]any{}); err != nil {
			errs = append(errs, field.Invalid(dataPath.Key(key), "<secret contents redacted>", err.Error()))
		}
	}
	switch s.GetType() {
	case SecretTypeServiceAccountToken:
		// The token itself comes later from the token controller; the annotation is required.
		if s.GetMetadata().GetAnnotations()[ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(field.NewPath("metadata", "annotations").Key(ServiceAccountNameKey), ""))
		}
	case SecretTypeDockercfg:
		wellFormedJSON(DockerConfigKey)
	case SecretTypeDockerConfigJSON:
		wellFormedJSON(DockerConfigJSONKey)
	case SecretTypeBasicAuth:
		// Either may be empty, but one must be there.
		if !has(BasicAuthUsernameKey) && !has(BasicAuthPasswordKey) {
			errs = append(errs, field.Required(dataPath.Key(BasicAuthUsernameKey), ""), field.Required(dataPath.Key(BasicAuthPasswordKey), ""))
		}
	case SecretTypeSSHAuth:
		if len(data[SSHAuthPrivateKey]) == 0 {
			errs = append(errs, field.Required(dataPath.Key(SSHAuthPrivateKey), ""))
		}
	case SecretTypeTLS:
		if !has(TLSCertKey) {
			errs = append(errs, field.Required(dataPath.Key(TLSCertKey), ""))
		}
		if !has(TLSPrivateKeyKey) {
			errs = append(errs, field.Required(dataPath.Key(TLSPrivateKeyKey), ""))
		}
	}
	return errs
}

// SecretServer implements SecretService.
type SecretServer struct {
	corev1.UnimplementedSecretServiceServer
	R *crud.Resource[*corev1.Secret]
}

func secretRequired(s *corev1.Secret) error {
	if s == nil {
		return apierr.BadRequest("a Secret is required in the request body")
	}
	return nil
}

// CreateSecret stores a Secret.
func (s *SecretServer) CreateSecret(ctx context.Context, req *corev1.CreateSecretRequest) (*corev1.CreateSecretResponse, error) {
	if err := secretRequired(req.GetSecret()); err != nil {
		return nil, err
	}
	out, err := s.R.Create(ctx, req.GetNamespace(), req.GetSecret(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &corev1.CreateSecretResponse{Secret: out}, nil
}

// GetSecret returns one Secret.
func (s *SecretServer) GetSecret(ctx context.Context, req *corev1.GetSecretRequest) (*corev1.GetSecretResponse, error) {
	out, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &corev1.GetSecretResponse{Secret: out}, nil
}

// ListSecrets lists Secrets.
func (s *SecretServer) ListSecrets(ctx context.Context, req *corev1.ListSecretsRequest) (*corev1.ListSecretsResponse, error) {
	res, err := s.R.List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &corev1.ListSecretsResponse{ApiVersion: "v1", Kind: "SecretList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdateSecret replaces a Secret.
func (s *SecretServer) UpdateSecret(ctx context.Context, req *corev1.UpdateSecretRequest) (*corev1.UpdateSecretResponse, error) {
	if err := secretRequired(req.GetSecret()); err != nil {
		return nil, err
	}
	out, err := s.R.Update(ctx, req.GetNamespace(), req.GetName(), proto.Clone(req.GetSecret()).(*corev1.Secret), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &corev1.UpdateSecretResponse{Secret: out}, nil
}

// DeleteSecret deletes a Secret.
func (s *SecretServer) DeleteSecret(ctx context.Context, req *corev1.DeleteSecretRequest) (*corev1.DeleteSecretResponse, error) {
	st, _, err := s.R.Delete(ctx, req.GetNamespace(), req.GetName(), "", req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &corev1.DeleteSecretResponse{Status: st}, nil
}

// WatchSecrets streams Secret changes.
func (s *SecretServer) WatchSecrets(req *corev1.WatchSecretsRequest, stream corev1.SecretService_WatchSecretsServer) error {
	return s.R.ServeWatch(stream, req.GetNamespace(), req,
		func(typ string, sec *corev1.Secret) error {
			return stream.Send(&corev1.WatchSecretsResponse{Type: typ, Object: sec})
		})
}
