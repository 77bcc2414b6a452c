package simsh

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func machine() *Machine {
	return &Machine{
		Hostname: "web-1",
		Env:      []string{"PATH=/usr/bin:/bin", "HOSTNAME=web-1", "KUBERNETES_SERVICE_HOST=10.96.0.1", "GREETING=hello world"},
		Files:    map[string]string{"/etc/hostname": "web-1\n", "/etc/hosts": "127.0.0.1\tlocalhost\n10.244.1.3\tweb-1.nginx.default.svc.cluster.local\tweb-1\n"},
		Image:    "nginx:1.25.3",
		Now:      func() time.Time { return time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC) },
		Sleep:    func(context.Context, time.Duration) error { return nil },
	}
}

// TestExec: the shell's rules, as busybox's sh follows them.
func TestExec(t *testing.T) {
	cases := map[string]struct {
		argv             []string
		stdin            string
		tty              bool
		wantOut, wantErr string
		wantCode         int
		wantStartErr     bool
	}{
		"hostname":                        {argv: []string{"hostname"}, wantOut: "web-1\n"},
		"echo words":                      {argv: []string{"echo", "Hello", "Kubernetes"}, wantOut: "Hello Kubernetes\n"},
		"echo -n":                         {argv: []string{"echo", "-n", "x"}, wantOut: "x"},
		"true":                            {argv: []string{"true"}},
		"false":                           {argv: []string{"false"}, wantCode: 1},
		"sh -c exit 3":                    {argv: []string{"sh", "-c", "exit 3"}, wantCode: 3},
		"exit code of the last":           {argv: []string{"sh", "-c", "echo a; false"}, wantOut: "a\n", wantCode: 1},
		"&& skips after failure":          {argv: []string{"sh", "-c", "false && echo no || echo yes"}, wantOut: "yes\n"},
		"variables":                       {argv: []string{"sh", "-c", `echo "$GREETING" $HOSTNAME ${KUBERNETES_SERVICE_HOST}`}, wantOut: "hello world web-1 10.96.0.1\n"},
		"$? after false":                  {argv: []string{"sh", "-c", "false; echo $?"}, wantOut: "1\n"},
		"single quotes keep $":            {argv: []string{"sh", "-c", `echo '$HOSTNAME'`}, wantOut: "$HOSTNAME\n"},
		"printf":                          {argv: []string{"printf", `%s=%d\n`, "a", "1", "b", "2"}, wantOut: "a=1\nb=2\n"},
		"sleep then echo":                 {argv: []string{"sh", "-c", `sleep 5s;echo "done"`}, wantOut: "done\n"},
		"one quoted word is one name":     {argv: []string{"sh", "-c", `"sleep 5s;echo \"done\""`}, wantErr: "sh: sleep 5s;echo \"done\": not found\n", wantCode: 127},
		"unknown program in a shell":      {argv: []string{"sh", "-c", "curl web-0"}, wantErr: "sh: curl: not found\n", wantCode: 127},
		"unknown program without a shell": {argv: []string{"perl", "-v"}, wantStartErr: true},
		"cat a pod file":                  {argv: []string{"cat", "/etc/hostname"}, wantOut: "web-1\n"},
		"cat a missing file":              {argv: []string{"cat", "/nope"}, wantErr: "cat: can't open '/nope': No such file or directory\n", wantCode: 1},
		"cat stdin":                       {argv: []string{"cat"}, stdin: "abc\ndef\n", wantOut: "abc\ndef\n"},
		"printenv":                        {argv: []string{"printenv", "HOSTNAME"}, wantOut: "web-1\n"},
		"date":                            {argv: []string{"date"}, wantOut: "Mon Dec  7 10:00:00 UTC 2026\n"},
		"nginx -v in an nginx image":      {argv: []string{"nginx", "-v"}, wantErr: "nginx version: nginx/1.25.3\n"},
		"sh reads stdin":                  {argv: []string{"sh"}, stdin: "echo one\nexit 4\necho never\n", wantOut: "one\n", wantCode: 4},
		"interactive with a tty":          {argv: []string{"sh"}, tty: true, stdin: "hostname\rexit\r", wantOut: "/ # hostname\r\nweb-1\r\n/ # exit\r\n"},
		"exit is 0..255":                  {argv: []string{"sh", "-c", "exit 300"}, wantCode: 44},
		"comment":                         {argv: []string{"sh", "-c", "echo a # b"}, wantOut: "a\n"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var out, errw strings.Builder
			code, err := Exec(context.Background(), machine(), tc.argv, Streams{Stdin: strings.NewReader(tc.stdin), Stdout: &out, Stderr: &errw, TTY: tc.tty})
			if tc.wantStartErr {
				var nf ErrNotFound
				if !errors.As(err, &nf) {
					t.Fatalf("err = %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode || out.String() != tc.wantOut || errw.String() != tc.wantErr {
				t.Errorf("code %d out %q err %q, want %d %q %q", code, out.String(), errw.String(), tc.wantCode, tc.wantOut, tc.wantErr)
			}
		})
	}
}

// TestExecSleepEndsWithTheStream: a dropped stream (ctx cancelled) ends a sleep.
func TestExecSleepEndsWithTheStream(t *testing.T) {
	m := machine()
	m.Sleep = nil
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	code, _ := Exec(ctx, m, []string{"sleep", "3600"}, Streams{})
	if time.Since(start) > 5*time.Second || code == 0 {
		t.Fatalf("sleep did not end with its context: code %d after %v", code, time.Since(start))
	}
}

// TestTar: what kubectl cp runs, both ways.
func TestTar(t *testing.T) {
	m := machine()
	written := map[string]string{}
	m.WriteFile = func(p string, b []byte) error { written[p] = string(b); return nil }
	var archive, errw strings.Builder
	code, err := Exec(context.Background(), m, []string{"tar", "cf", "-", "/etc/hostname"}, Streams{Stdout: &archive, Stderr: &errw})
	if err != nil || code != 0 || errw.String() != "tar: removing leading '/' from member names\n" {
		t.Fatalf("tar c: %d %v %q", code, err, errw.String())
	}
	code, err = Exec(context.Background(), m, []string{"tar", "-xmf", "-", "-C", "/tmp"}, Streams{Stdin: strings.NewReader(archive.String())})
	if err != nil || code != 0 || written["/tmp/etc/hostname"] != "web-1\n" {
		t.Fatalf("tar x: %d %v %v", code, err, written)
	}
	var out strings.Builder
	if code, _ := Exec(context.Background(), m, []string{"cat", "/tmp/etc/hostname"}, Streams{Stdout: &out}); code != 0 || out.String() != "web-1\n" {
		t.Fatalf("cat after tar x: %d %q", code, out.String())
	}
	m.WriteFile = nil
	errw.Reset()
	if code, _ := Exec(context.Background(), m, []string{"tar", "xf", "-"}, Streams{Stdin: strings.NewReader(archive.String()), Stderr: &errw}); code != 1 {
		t.Fatalf("tar x on a read-only machine: %d", code)
	}
}

// TestNslookup: busybox 1.28's nslookup over the machine's resolver.
func TestNslookup(t *testing.T) {
	m := machine()
	m.Files["/etc/resolv.conf"] = "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"
	m.Lookup = func(_ context.Context, name string) (Answer, error) {
		switch name {
		case "10.96.0.10":
			return Answer{Name: name, Addrs: []Addr{{IP: name, Name: "kube-dns.kube-system.svc.cluster.local"}}}, nil
		case "web-0.nginx":
			return Answer{Name: name, Addrs: []Addr{{IP: "10.244.1.2", Name: "web-0.nginx.default.svc.cluster.local"}}}, nil
		}
		return Answer{}, errors.New("NXDOMAIN")
	}
	var out, errw strings.Builder
	code, _ := Exec(context.Background(), m, []string{"nslookup", "web-0.nginx"}, Streams{Stdout: &out, Stderr: &errw})
	want := "Server:    10.96.0.10\nAddress 1: 10.96.0.10 kube-dns.kube-system.svc.cluster.local\n\nName:      web-0.nginx\nAddress 1: 10.244.1.2 web-0.nginx.default.svc.cluster.local\n"
	if code != 0 || out.String() != want {
		t.Fatalf("nslookup web-0.nginx: %d\n%s\nwant\n%s", code, out.String(), want)
	}
	out.Reset()
	if code, _ := Exec(context.Background(), m, []string{"nslookup", "nope"}, Streams{Stdout: &out, Stderr: &errw}); code != 1 || !strings.Contains(errw.String(), "nslookup: can't resolve 'nope'") {
		t.Fatalf("nslookup nope: %d %q", code, errw.String())
	}
}
