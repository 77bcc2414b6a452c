package gateway

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var timestampName = (&timestamppb.Timestamp{}).ProtoReflect().Descriptor().FullName()

// wholeSeconds returns msg with every Timestamp cut to whole seconds: Kubernetes'
// metav1.Time is RFC 3339 with second precision on the wire ("2026-11-22T10:23:28Z"),
// while the services may keep sub-second times. msg itself is not changed.
func wholeSeconds(msg proto.Message) proto.Message {
	if !hasSubSecond(msg.ProtoReflect()) {
		return msg
	}
	c := proto.Clone(msg)
	truncate(c.ProtoReflect())
	return c
}

func hasSubSecond(m protoreflect.Message) bool {
	found := false
	walkTimestamps(m, func(ts protoreflect.Message) bool {
		if ts.Get(ts.Descriptor().Fields().ByName("nanos")).Int() != 0 {
			found = true
		}
		return !found
	})
	return found
}

func truncate(m protoreflect.Message) {
	walkTimestamps(m, func(ts protoreflect.Message) bool {
		ts.Clear(ts.Descriptor().Fields().ByName("nanos"))
		return true
	})
}

// walkTimestamps calls fn for every Timestamp reachable from m until fn returns false.
func walkTimestamps(m protoreflect.Message, fn func(protoreflect.Message) bool) bool {
	if m.Descriptor().FullName() == timestampName {
		return fn(m)
	}
	ok := true
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len() && ok; i++ {
				ok = walkTimestamps(l.Get(i).Message(), fn)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				ok = walkTimestamps(mv.Message(), fn)
				return ok
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			ok = walkTimestamps(v.Message(), fn)
		}
		return ok
	})
	return ok
}
