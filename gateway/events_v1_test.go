package gateway

import (
	"encoding/json"
	"testing"
)

func TestEventsV1Translation(t *testing.T) {
	core := `{"apiVersion":"v1","kind":"Event","metadata":{"name":"e"},"involvedObject":{"kind":"Deployment","name":"web"},"message":"m","reportingComponent":"ctl","source":{"component":"ctl"},"firstTimestamp":"2026-12-07T10:00:00Z","lastTimestamp":"2026-12-07T10:01:00Z","count":3,"reason":"R","type":"Normal","series":{"count":2}}`
	got := eventsV1Answer([]byte(core))
	var v1 map[string]any
	if err := json.Unmarshal(got, &v1); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"apiVersion": "events.k8s.io/v1", "note": "m", "reportingController": "ctl", "deprecatedCount": float64(3),
		"deprecatedFirstTimestamp": "2026-12-07T10:00:00Z", "deprecatedLastTimestamp": "2026-12-07T10:01:00Z", "reason": "R"} {
		if v1[k] != want {
			t.Errorf("%s = %v, want %v", k, v1[k], want)
		}
	}
	for _, gone := range []string{"involvedObject", "message", "reportingComponent", "source", "count"} {
		if _, ok := v1[gone]; ok {
			t.Errorf("%s still there", gone)
		}
	}
	if get(v1, "regarding", "name") != "web" || get(v1, "deprecatedSource", "component") != "ctl" || get(v1, "series", "count") != float64(2) {
		t.Errorf("translated %s", got)
	}
	eventFromV1(v1)
	back, _ := json.Marshal(v1)
	var a, b map[string]any
	_ = json.Unmarshal(back, &a)
	_ = json.Unmarshal([]byte(core), &b)
	if mustJSON(t, a) != mustJSON(t, b) {
		t.Errorf("round trip %s, want %s", back, core)
	}
	list := eventsV1Answer([]byte(`{"apiVersion":"v1","kind":"EventList","items":[{"message":"m"}]}`))
	if string(list) != `{"apiVersion":"events.k8s.io/v1","items":[{"note":"m"}],"kind":"EventList"}` {
		t.Errorf("list %s", list)
	}
	status := `{"kind":"Status","apiVersion":"v1","code":404}`
	if string(eventsV1Answer([]byte(status))) != status {
		t.Error("a Status was changed")
	}
	if got := eventsV1FieldSelector("regarding.name=web,reportingController=ctl,deprecatedSource=x"); got != "involvedObject.name=web,reportingComponent=ctl,source=x" {
		t.Errorf("field selector %q", got)
	}
	if got := string(eventsV1Patch([]byte(`{"series":{"count":2},"note":"n"}`))); got != `{"message":"n","series":{"count":2}}` {
		t.Errorf("merge patch %s", got)
	}
	if got := string(eventsV1Patch([]byte(`[{"op":"replace","path":"/regarding/name","value":"x"}]`))); got != `[{"op":"replace","path":"/involvedObject/name","value":"x"}]` {
		t.Errorf("JSON patch %s", got)
	}
}
