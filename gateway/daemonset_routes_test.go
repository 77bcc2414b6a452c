package gateway

import (
	"fmt"
	"testing"
	"time"
)

func TestDaemonSetTable(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	created := now.Add(-90 * time.Second).Format(time.RFC3339)
	doc, err := decodeJSON([]byte(`{"kind":"DaemonSet","metadata":{"name":"node-exporter","creationTimestamp":"` + created + `"},
"spec":{"selector":{"matchLabels":{"app":"node-exporter"}},"template":{"spec":{"nodeSelector":{"disktype":"ssd"},"containers":[{"name":"c","image":"prom/node-exporter"}]}}},
"status":{"desiredNumberScheduled":3,"currentNumberScheduled":3,"numberReady":2,"updatedNumberScheduled":1,"numberAvailable":2}}`))
	if err != nil {
		t.Fatal(err)
	}
	tb := toTable(doc, now)
	want := "[node-exporter 3 3 2 1 2 disktype=ssd 90s c prom/node-exporter app=node-exporter]"
	if len(tb.Rows) != 1 || fmt.Sprint(tb.Rows[0].Cells) != want || len(tb.Rows[0].Cells) != len(tb.ColumnDefinitions) {
		t.Fatalf("table %+v, want cells %s", tb, want)
	}
}
