package gateway

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/streaming"
	restclientwatch "k8s.io/client-go/rest/watch"
)

func TestPrefersProtobuf(t *testing.T) {
	tests := map[string]struct {
		accept []string
		want   bool
	}{
		"client-go configured for protobuf": {accept: []string{"application/vnd.kubernetes.protobuf, */*"}, want: true},
		"protobuf then JSON":                {accept: []string{"application/vnd.kubernetes.protobuf,application/json"}, want: true},
		"JSON first":                        {accept: []string{"application/json, application/vnd.kubernetes.protobuf"}},
		"kubectl's Tables":                  {accept: []string{"application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json"}},
		"nothing":                           {},
		"anything":                          {accept: []string{"*/*"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := prefersProtobuf(tc.accept); got != tc.want {
				t.Errorf("prefersProtobuf(%q) = %v, want %v", tc.accept, got, tc.want)
			}
		})
	}
}

// TestWatchFramesDecodeWithClientGo: the frames are what client-go's protobuf
// watch decoder reads (length-delimited WatchEvents, enveloped objects).
func TestWatchFramesDecodeWithClientGo(t *testing.T) {
	lines := []string{
		`{"type":"ADDED","object":{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default","resourceVersion":"7"},"spec":{"replicas":2}}}`,
		`{"type":"BOOKMARK","object":{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"resourceVersion":"9","annotations":{"k8s.io/initial-events-end":"true"}}}}`,
		`{"type":"ERROR","object":{"apiVersion":"v1","kind":"Status","status":"Failure","reason":"Expired","code":410,"message":"too old resource version: 1 (5)"}}`,
	}
	var stream bytes.Buffer
	for _, l := range lines {
		frame, err := watchFrame([]byte(l))
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		stream.Write(frame)
	}
	info, ok := k8sruntime.SerializerInfoForMediaType(serializer.NewCodecFactory(kubeScheme).SupportedMediaTypes(), mimeKubeProtobuf)
	if !ok {
		t.Fatal("no protobuf serializer")
	}
	frames := info.StreamSerializer.Framer.NewFrameReader(io.NopCloser(&stream))
	dec := restclientwatch.NewDecoder(streaming.NewDecoder(frames, info.StreamSerializer.Serializer), info.Serializer)
	typ, obj, err := dec.Decode()
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := obj.(*appsv1.Deployment); typ != "ADDED" || !ok || d.Name != "web" || *d.Spec.Replicas != 2 || d.ResourceVersion != "7" {
		t.Fatalf("first event %s %#v", typ, obj)
	}
	if typ, obj, err = dec.Decode(); err != nil || typ != "BOOKMARK" || obj.(*appsv1.Deployment).Annotations["k8s.io/initial-events-end"] != "true" {
		t.Fatalf("bookmark %s %#v %v", typ, obj, err)
	}
	if typ, obj, err = dec.Decode(); err != nil || typ != "ERROR" || obj.(*metav1.Status).Code != http.StatusGone {
		t.Fatalf("error event %s %#v %v", typ, obj, err)
	}
}
