package gateway

import (
	"testing"
	"time"
)

func TestJobTables(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	cases := map[string]struct {
		printer printer
		obj     map[string]any
		want    []any
	}{
		"complete job": {printer: jobPrinter, obj: map[string]any{
			"metadata": map[string]any{"name": "pi", "creationTimestamp": "2026-11-22T09:59:00Z"},
			"spec":     map[string]any{"completions": float64(1), "template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "pi", "image": "perl"}}}}},
			"status": map[string]any{"succeeded": float64(1), "startTime": "2026-11-22T09:59:00Z", "completionTime": "2026-11-22T09:59:07Z",
				"conditions": []any{map[string]any{"type": "SuccessCriteriaMet", "status": "True"}, map[string]any{"type": "Complete", "status": "True"}}}},
			want: []any{"pi", "Complete", "1/1", "7s", "60s", "pi", "perl", "<none>"}},
		"running work queue": {printer: jobPrinter, obj: map[string]any{
			"metadata": map[string]any{"name": "wq", "creationTimestamp": "2026-11-22T09:59:00Z"},
			"spec":     map[string]any{"parallelism": float64(3)},
			"status":   map[string]any{"startTime": "2026-11-22T09:59:30Z"}},
			want: []any{"wq", "Running", "0/1 of 3", "30s", "60s", "", "", "<none>"}},
		"cronjob": {printer: cronJobPrinter, obj: map[string]any{
			"metadata": map[string]any{"name": "hello", "creationTimestamp": "2026-11-22T09:00:00Z"},
			"spec":     map[string]any{"schedule": "*/1 * * * *", "suspend": false},
			"status":   map[string]any{"lastScheduleTime": "2026-11-22T09:59:00Z", "active": []any{map[string]any{"name": "hello-1"}}}},
			want: []any{"hello", "*/1 * * * *", "<none>", "False", 1, "60s", "60m", "", "", "<none>"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := tc.printer.cells(tc.obj, now)
			if len(got) != len(tc.want) || len(got) != len(tc.printer.columns) {
				t.Fatalf("cells %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("cell %d (%s) = %v, want %v", i, tc.printer.columns[i].Name, got[i], tc.want[i])
				}
			}
		})
	}
}
