package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	k8scorev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	k8sstoragev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	k8sjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
)

// mimeKubeProtobuf is Kubernetes' own protobuf encoding, which kubectl's typed
// clients send (`kubectl create namespace`, `kubectl create deployment`, ...).
const mimeKubeProtobuf = "application/vnd.kubernetes.protobuf"

// kubeScheme holds the k8s.io/api types of the groups the gateway serves.
var kubeScheme = func() *k8sruntime.Scheme {
	scheme := k8sruntime.NewScheme()
	for _, add := range []func(*k8sruntime.Scheme) error{
		k8scorev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, autoscalingv1.AddToScheme, autoscalingv2.AddToScheme,
		policyv1.AddToScheme, coordinationv1.AddToScheme, authorizationv1.AddToScheme, authenticationv1.AddToScheme,
		eventsv1.AddToScheme, k8sstoragev1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(fmt.Sprintf("kubernetes scheme: %v", err))
		}
	}
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Group: "meta.k8s.io", Version: "v1"})
	return scheme
}()

var (
	// kubeDecoder decodes Kubernetes' protobuf envelope into k8s.io/api objects.
	kubeDecoder = serializer.NewCodecFactory(kubeScheme).UniversalDeserializer()
	// kubeJSONDecoder decodes the gateway's JSON into them, ignoring the fields
	// they lack.
	kubeJSONDecoder = k8sjson.NewSerializerWithOptions(k8sjson.DefaultMetaFactory, kubeScheme, kubeScheme, k8sjson.SerializerOptions{})
)

// protobufBodies turns a Kubernetes-protobuf request body into the equivalent
// JSON (through the k8s.io/api types, whose JSON is the API's), so that the
// rest of the gateway only ever reads JSON or YAML (answers in protobuf are
// protobufAnswers').
func (g *gateway) protobufBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != mimeKubeProtobuf {
			next.ServeHTTP(w, r)
			return
		}
		data, err := io.ReadAll(r.Body)
		if err != nil {
			g.writeError(w, r, newAPIError(ReasonBadRequest, fmt.Sprintf("error reading request body: %v", err)))
			return
		}
		j, err := protobufToJSON(data)
		if err != nil {
			g.writeError(w, r, newAPIError(ReasonUnsupportedMediaType, fmt.Sprintf(
				"the body of the request could not be decoded as %s (%v) - send %s or %s", mimeKubeProtobuf, err, mimeJSON, mimeYAML)))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(j))
		r.ContentLength = int64(len(j))
		r.Header.Set("Content-Type", mimeJSON)
		next.ServeHTTP(w, r)
	})
}

func protobufToJSON(data []byte) ([]byte, error) {
	if len(data) == 0 {
		return nil, nil
	}
	obj, gvk, err := kubeDecoder.Decode(data, nil, nil)
	if err != nil {
		return nil, err
	}
	obj.GetObjectKind().SetGroupVersionKind(*gvk)
	return json.Marshal(obj)
}
