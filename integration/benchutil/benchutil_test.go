package benchutil

import (
	"context"
	"errors"
	"net/url"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMedians(t *testing.T) {
	var a, b, c Run
	a.Add("x", 3, "s")
	a.Add("y", 10, "ms")
	b.Add("x", 1, "s")
	b.Add("y", 30, "ms")
	c.Add("x", 2, "s")
	c.Add("y", 20, "ms")
	med, per := Medians([]Run{a, b, c})
	if len(med) != 2 || med[0] != (Figure{"x", 2, "s"}) || med[1] != (Figure{"y", 20, "ms"}) {
		t.Fatalf("medians %v", med)
	}
	if !slices.Equal(per[0], []float64{3, 1, 2}) || !slices.Equal(per[1], []float64{10, 30, 20}) {
		t.Fatalf("runs %v, want them in run order", per)
	}
	if m := Median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Fatalf("median of an even count: %v", m)
	}
}

func TestFormat(t *testing.T) {
	for v, want := range map[float64]string{500: "500", 1234.6: "1235", 12.34: "12.3", 3.14159: "3.142", -199.1: "-199", 0: "0"} {
		if got := Format(v); got != want {
			t.Errorf("Format(%v) = %q, want %q", v, got, want)
		}
	}
}

// TestPostgresCPUSeconds: the server at the DSN is found (not every postgres on
// the machine), and the CPU of a backend stays counted after it disconnects.
func TestPostgresCPUSeconds(t *testing.T) {
	dsn := os.Getenv("PODWARDEN_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("PODWARDEN_TEST_POSTGRES_DSN not set (run under shared/devenv/withpg)")
	}
	u, _ := url.Parse(dsn)
	if pm, _ := postmaster(u.Port()); pm == 0 {
		t.Fatalf("no postmaster found for port %s", u.Port())
	}
	ctx := context.Background()
	before := PostgresCPUSeconds(dsn)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	for range 200 {
		if _, err := conn.Exec(ctx, "SELECT count(*) FROM generate_series(1, 20000)"); err != nil {
			t.Fatal(err)
		}
	}
	during := PostgresCPUSeconds(dsn)
	_ = conn.Close(ctx)
	// The backend exits and is reaped after the client has gone: wait for it.
	var after float64
	for range 100 {
		if after = PostgresCPUSeconds(dsn); after >= during {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if during <= before || after < during {
		t.Fatalf("postgres CPU-seconds before %v, with a busy backend %v, after it left %v", before, during, after)
	}
}

func TestListAll(t *testing.T) {
	data := []int{1, 2, 3, 4, 5, 6, 7}
	var conts []string
	got, err := ListAll(func(cont string) ([]int, string, error) {
		conts = append(conts, cont)
		i := 0
		if cont != "" {
			i, _ = strconv.Atoi(cont)
		}
		end := min(i+3, len(data))
		next := ""
		if end < len(data) {
			next = strconv.Itoa(end)
		}
		return data[i:end], next, nil
	})
	if err != nil || !slices.Equal(got, data) || !slices.Equal(conts, []string{"", "3", "6"}) {
		t.Fatalf("ListAll = %v, %v after continue tokens %q", got, err, conts)
	}
	if _, err := ListAll(func(string) ([]int, string, error) { return nil, "", errors.New("boom") }); err == nil {
		t.Fatal("an error of a page is lost")
	}
}

// TestPSSKiB: this process's proportional set size is counted, a gone process is not.
func TestPSSKiB(t *testing.T) {
	self := PSSKiB([]int{os.Getpid()})
	if self <= 0 {
		t.Fatalf("PSS of this process: %d KiB", self)
	}
	if got := PSSKiB([]int{os.Getpid(), 1 << 30}); got < self/2 || got > self*2 {
		t.Fatalf("PSS with a pid that does not exist: %d KiB, alone %d KiB", got, self)
	}
	m := SampleMemory(time.Millisecond, func() []int { return []int{os.Getpid()} })
	time.Sleep(10 * time.Millisecond)
	if peak := m.Stop(); peak <= 0 {
		t.Fatalf("peak %v MiB", peak)
	}
}
