package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// decodeError turns a protojson decoding failure of a body into kube-apiserver's
// wording, naming the offending field by its full path:
//
//	Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.replica"
//
// protojson itself only names the last path element of an unknown field.
func decodeError(data []byte, md protoreflect.MessageDescriptor, err error) error {
	kind := string(md.Name())
	var doc any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	version := "v1"
	if dec.Decode(&doc) == nil {
		if obj, ok := doc.(map[string]any); ok {
			if av, ok := obj["apiVersion"].(string); ok && av != "" {
				version = av[strings.LastIndex(av, "/")+1:]
			}
		}
		if unknown := unknownFields(doc, md, ""); len(unknown) > 0 {
			quoted := make([]string, len(unknown))
			for i, f := range unknown {
				quoted[i] = fmt.Sprintf("unknown field %q", f)
			}
			return fmt.Errorf("%s in version %q cannot be handled as a %s: strict decoding error: %s",
				kind, version, kind, strings.Join(quoted, ", "))
		}
	}
	return fmt.Errorf("%s in version %q cannot be handled as a %s: %s", kind, version, kind, protoErrorText(err))
}

// protoErrorText strips protobuf-go's "proto:" prefix (which it writes with a
// regular or a non-breaking space, at random, to discourage matching on it).
func protoErrorText(err error) string {
	s := err.Error()
	for _, p := range []string{"proto: ", "proto:\u00a0"} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

// unknownFields lists the paths of the object keys in doc that message md does
// not have, in Kubernetes' notation (spec.template.spec.containers[0].imagee).
// Values whose JSON type does not fit the field are left for protojson to report.
func unknownFields(doc any, md protoreflect.MessageDescriptor, path string) []string {
	obj, ok := doc.(map[string]any)
	if !ok || isWellKnown(md) {
		return nil
	}
	var out []string
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := joinPath(path, k)
		fd := fieldByJSONKey(md, k)
		if fd == nil {
			out = append(out, p)
			continue
		}
		switch v := obj[k].(type) {
		case map[string]any:
			switch {
			case fd.IsMap() && fd.MapValue().Message() != nil:
				vkeys := make([]string, 0, len(v))
				for mk := range v {
					vkeys = append(vkeys, mk)
				}
				slices.Sort(vkeys)
				for _, mk := range vkeys {
					out = append(out, unknownFields(v[mk], fd.MapValue().Message(), p+"."+mk)...)
				}
			case !fd.IsMap() && !fd.IsList() && fd.Message() != nil:
				out = append(out, unknownFields(v, fd.Message(), p)...)
			}
		case []any:
			if fd.IsList() && fd.Message() != nil {
				for i, e := range v {
					out = append(out, unknownFields(e, fd.Message(), fmt.Sprintf("%s[%d]", p, i))...)
				}
			}
		}
	}
	return out
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
