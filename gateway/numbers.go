package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// protojson writes int64 and uint64 as JSON strings ("generation": "2"); Kubernetes
// writes them as numbers. numberize rewrites a protojson document of message md,
// walking the descriptor alongside the JSON tokens, so that those fields become
// numbers again. Everything else is copied unchanged and in order (kubectl's field
// order is the declaration order, which is also protojson's). Well-known types
// (Timestamp, Value, Struct, ...) are opaque: their JSON is copied as is.
func numberize(data []byte, md protoreflect.MessageDescriptor) ([]byte, error) {
	if !hasWideInts(md) {
		return data, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	w := &numberWriter{dec: dec, out: bytes.NewBuffer(make([]byte, 0, len(data)))}
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("numberize %s: %w", md.FullName(), err)
	}
	if err := w.message(tok, md); err != nil {
		return nil, fmt.Errorf("numberize %s: %w", md.FullName(), err)
	}
	return w.out.Bytes(), nil
}

// wideInts caches, per message descriptor, whether any 64-bit integer field is
// reachable from it (most responses: yes, through ObjectMeta.generation).
var wideInts sync.Map // protoreflect.FullName -> bool

func hasWideInts(md protoreflect.MessageDescriptor) bool {
	if v, ok := wideInts.Load(md.FullName()); ok {
		return v.(bool)
	}
	found := reachesWideInt(md, map[protoreflect.FullName]bool{})
	wideInts.Store(md.FullName(), found)
	return found
}

func reachesWideInt(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if isWellKnown(md) || seen[md.FullName()] {
		return false
	}
	seen[md.FullName()] = true
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.IsMap() {
			fd = fd.MapValue()
		}
		if isWideInt(fd) {
			return true
		}
		if fd.Message() != nil && reachesWideInt(fd.Message(), seen) {
			return true
		}
	}
	return false
}

func isWideInt(fd protoreflect.FieldDescriptor) bool {
	switch fd.Kind() {
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return true
	}
	return false
}

// isWellKnown reports google.protobuf.* messages, whose JSON form is special.
func isWellKnown(md protoreflect.MessageDescriptor) bool {
	return md.ParentFile() != nil && md.ParentFile().Package() == "google.protobuf"
}

// fieldByJSONKey finds the field a JSON object key names; protojson accepts the
// JSON name and the proto name.
func fieldByJSONKey(md protoreflect.MessageDescriptor, key string) protoreflect.FieldDescriptor {
	if fd := md.Fields().ByJSONName(key); fd != nil {
		return fd
	}
	return md.Fields().ByTextName(key)
}

type numberWriter struct {
	dec *json.Decoder
	out *bytes.Buffer
}

// message writes the object that starts with tok as message md.
func (w *numberWriter) message(tok json.Token, md protoreflect.MessageDescriptor) error {
	if isWellKnown(md) || tok != json.Delim('{') {
		return w.copyValue(tok)
	}
	w.out.WriteByte('{')
	for first := true; w.dec.More(); first = false {
		key, err := w.key(first)
		if err != nil {
			return err
		}
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		fd := fieldByJSONKey(md, key)
		if fd == nil {
			err = w.copyValue(tok)
		} else {
			err = w.field(tok, fd)
		}
		if err != nil {
			return err
		}
	}
	return w.closing('}')
}

// field writes the value that starts with tok as field fd (map, list or singular).
func (w *numberWriter) field(tok json.Token, fd protoreflect.FieldDescriptor) error {
	switch {
	case fd.IsMap() && tok == json.Delim('{'):
		w.out.WriteByte('{')
		for first := true; w.dec.More(); first = false {
			if _, err := w.key(first); err != nil {
				return err
			}
			tok, err := w.dec.Token()
			if err != nil {
				return err
			}
			if err := w.singular(tok, fd.MapValue()); err != nil {
				return err
			}
		}
		return w.closing('}')
	case fd.IsList() && tok == json.Delim('['):
		w.out.WriteByte('[')
		for first := true; w.dec.More(); first = false {
			if !first {
				w.out.WriteByte(',')
			}
			tok, err := w.dec.Token()
			if err != nil {
				return err
			}
			if err := w.singular(tok, fd); err != nil {
				return err
			}
		}
		return w.closing(']')
	default:
		return w.singular(tok, fd)
	}
}

func (w *numberWriter) singular(tok json.Token, fd protoreflect.FieldDescriptor) error {
	if md := fd.Message(); md != nil {
		return w.message(tok, md)
	}
	if s, ok := tok.(string); ok && isWideInt(fd) && isInteger(s) {
		w.out.WriteString(s)
		return nil
	}
	return w.copyValue(tok)
}

func isInteger(s string) bool {
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return true
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// key reads an object key and writes it with its separators.
func (w *numberWriter) key(first bool) (string, error) {
	tok, err := w.dec.Token()
	if err != nil {
		return "", err
	}
	key, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("object key %v is not a string", tok)
	}
	if !first {
		w.out.WriteByte(',')
	}
	writeJSONString(w.out, key)
	w.out.WriteByte(':')
	return key, nil
}

func (w *numberWriter) closing(d json.Delim) error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	if tok != d {
		return fmt.Errorf("expected %v, got %v", d, tok)
	}
	w.out.WriteString(d.String())
	return nil
}

// copyValue writes the value that starts with tok unchanged.
func (w *numberWriter) copyValue(tok json.Token) error {
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			w.out.WriteByte('{')
			for first := true; w.dec.More(); first = false {
				if _, err := w.key(first); err != nil {
					return err
				}
				v, err := w.dec.Token()
				if err != nil {
					return err
				}
				if err := w.copyValue(v); err != nil {
					return err
				}
			}
			return w.closing('}')
		case '[':
			w.out.WriteByte('[')
			for first := true; w.dec.More(); first = false {
				if !first {
					w.out.WriteByte(',')
				}
				v, err := w.dec.Token()
				if err != nil {
					return err
				}
				if err := w.copyValue(v); err != nil {
					return err
				}
			}
			return w.closing(']')
		default:
			return fmt.Errorf("unexpected %v", t)
		}
	case string:
		writeJSONString(w.out, t)
	case json.Number:
		w.out.WriteString(t.String())
	case bool:
		w.out.WriteString(strconv.FormatBool(t))
	case nil:
		w.out.WriteString("null")
	default:
		return fmt.Errorf("unexpected token %T", tok)
	}
	return nil
}

// writeJSONString writes s as a JSON string without HTML escaping (like protojson).
func writeJSONString(out *bytes.Buffer, s string) {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)           // a string always encodes
	out.Truncate(out.Len() - 1) // Encode appends a newline
}

// isEmptyJSON reports a body with nothing but whitespace (or a lone null, which
// is what an empty YAML document converts to).
func isEmptyJSON(data []byte) bool {
	t := bytes.TrimSpace(data)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}
