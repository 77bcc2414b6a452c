package gateway

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
)

// Answers in Kubernetes' protobuf encoding, for the clients that ask for it
// first (client-go configured with ContentType application/vnd.kubernetes.protobuf
// sends `Accept: application/vnd.kubernetes.protobuf, */*`): the JSON answer of
// the handlers below is decoded into its k8s.io/api type and encoded in the
// `k8s\0` envelope; a watch stream becomes length-prefixed metav1.WatchEvent
// frames whose objects are enveloped, as kube-apiserver sends them
// (`application/vnd.kubernetes.protobuf;stream=watch`). An answer whose kind
// the scheme lacks (Tables, metrics, sim.podwarden.io, discovery) stays JSON,
// which such clients accept too. JSON stays the default.

const mimeKubeProtobufWatch = mimeKubeProtobuf + ";stream=watch"

var (
	// kubeProtobufEncoder writes an object with the envelope.
	kubeProtobufEncoder = protobuf.NewSerializer(kubeScheme, kubeScheme)
	// kubeProtobufRaw writes a watch frame's WatchEvent without one.
	kubeProtobufRaw = protobuf.NewRawSerializer(kubeScheme, kubeScheme)
)

// prefersProtobuf reports whether Kubernetes' protobuf is the client's first
// choice (and it did not ask for a Table, which is answered in JSON).
func prefersProtobuf(accepts []string) bool {
	for _, a := range accepts {
		for _, part := range strings.Split(a, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			return mt == mimeKubeProtobuf && params["as"] == ""
		}
	}
	return false
}

// protobufAnswers re-encodes the answers of requests that prefer protobuf.
func (g *gateway) protobufAnswers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !prefersProtobuf(r.Header.Values("Accept")) || strings.HasPrefix(r.URL.Path, "/openapi/") {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodGet && (isWatchPath(r.URL.Path) || isTrue(r.URL.Query().Get("watch"))) {
			pw := &protobufWatchWriter{ResponseWriter: w}
			next.ServeHTTP(pw, r)
			pw.finish()
			return
		}
		rec := &bufferWriter{header: http.Header{}, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		body := rec.buf.Bytes()
		ct := rec.header.Get("Content-Type")
		if mt, _, _ := mime.ParseMediaType(ct); mt == mimeJSON {
			if pb, err := jsonToKubeProtobuf(body); err == nil {
				body, ct = pb, mimeKubeProtobuf
			}
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.code)
		_, _ = w.Write(body)
	})
}

// decodeKubeJSON decodes an object or list the gateway wrote as JSON into its
// k8s.io/api type (unknown fields ignored), with its apiVersion and kind.
func decodeKubeJSON(data []byte) (k8sruntime.Object, error) {
	obj, gvk, err := kubeJSONDecoder.Decode(data, nil, nil)
	if err != nil {
		return nil, err
	}
	obj.GetObjectKind().SetGroupVersionKind(*gvk)
	return obj, nil
}

// jsonToKubeProtobuf is an answer's protobuf encoding.
func jsonToKubeProtobuf(data []byte) ([]byte, error) {
	obj, err := decodeKubeJSON(data)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := kubeProtobufEncoder.Encode(obj, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// watchFrame is one watch event line, {"type":..., "object":...}, as a
// length-prefixed protobuf frame.
func watchFrame(line []byte) ([]byte, error) {
	var ev struct {
		Type   string          `json:"type"`
		Object json.RawMessage `json:"object"`
	}
	if err := json.Unmarshal(line, &ev); err != nil {
		return nil, err
	}
	obj, err := jsonToKubeProtobuf(ev.Object)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := kubeProtobufRaw.Encode(&metav1.WatchEvent{Type: ev.Type, Object: k8sruntime.RawExtension{Raw: obj}}, &buf); err != nil {
		return nil, err
	}
	frame := make([]byte, 4, 4+buf.Len())
	binary.BigEndian.PutUint32(frame, uint32(buf.Len()))
	return append(frame, buf.Bytes()...), nil
}

// protobufWatchWriter turns a JSON watch stream into protobuf frames, line by
// line, flushing each. An answer other than 200 (a refused watch: a Status) is
// re-encoded whole.
type protobufWatchWriter struct {
	http.ResponseWriter
	code    int
	pending bytes.Buffer
}

func (p *protobufWatchWriter) WriteHeader(code int) {
	if p.code != 0 {
		return
	}
	p.code = code
	if code == http.StatusOK {
		p.ResponseWriter.Header().Set("Content-Type", mimeKubeProtobufWatch)
		p.ResponseWriter.Header().Del("Content-Length")
		p.ResponseWriter.WriteHeader(code)
	}
}

func (p *protobufWatchWriter) Write(b []byte) (int, error) {
	if p.code == 0 {
		p.WriteHeader(http.StatusOK)
	}
	p.pending.Write(b)
	if p.code != http.StatusOK {
		return len(b), nil // re-encoded in finish
	}
	for {
		data := p.pending.Bytes()
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := bytes.TrimSpace(data[:i])
		if len(line) > 0 {
			if err := p.writeFrame(line); err != nil {
				return 0, err
			}
		}
		p.pending.Next(i + 1)
	}
}

func (p *protobufWatchWriter) writeFrame(line []byte) error {
	frame, err := watchFrame(line)
	if err != nil {
		// Never JSON inside a protobuf stream: the client gets an ERROR event.
		st, _ := json.Marshal(metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusFailure,
			Reason: metav1.StatusReasonInternalError, Code: http.StatusInternalServerError, Message: fmt.Sprintf("encode watch event: %v", err)})
		if frame, err = watchFrame(fmt.Appendf(nil, `{"type":"ERROR","object":%s}`, st)); err != nil {
			return err
		}
	}
	if _, err := p.ResponseWriter.Write(frame); err != nil {
		return err
	}
	if f, ok := p.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

// Flush lets the handlers below flush through this writer.
func (p *protobufWatchWriter) Flush() {
	if f, ok := p.ResponseWriter.(http.Flusher); ok && p.code == http.StatusOK {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (p *protobufWatchWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }

// finish writes what is left: the last line of a stream, or a refused watch's
// Status in protobuf.
func (p *protobufWatchWriter) finish() {
	switch {
	case p.code == 0:
		return
	case p.code == http.StatusOK:
		if line := bytes.TrimSpace(p.pending.Bytes()); len(line) > 0 {
			_ = p.writeFrame(line)
		}
	default:
		body, ct := p.pending.Bytes(), p.ResponseWriter.Header().Get("Content-Type")
		if pb, err := jsonToKubeProtobuf(body); err == nil {
			body, ct = pb, mimeKubeProtobuf
		}
		p.ResponseWriter.Header().Set("Content-Type", ct)
		p.ResponseWriter.Header().Del("Content-Length")
		p.ResponseWriter.WriteHeader(p.code)
		_, _ = p.ResponseWriter.Write(body)
	}
}
