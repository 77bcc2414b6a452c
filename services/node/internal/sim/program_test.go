package sim

import (
	"reflect"
	"testing"
	"time"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func TestProgramFor(t *testing.T) {
	sh := func(script string) *corev1.Container {
		return &corev1.Container{Command: []string{"/bin/sh", "-c", script}}
	}
	cmd := sh("exit 3")
	cases := map[string]struct {
		container     *corev1.Container
		restartPolicy string
		annotations   map[string]string
		want          Program
	}{
		"no command runs forever":      {container: &corev1.Container{}, annotations: map[string]string{AnnotationExitCode: "1"}, want: Program{Forever: true}},
		"exit code only":               {container: cmd, annotations: map[string]string{AnnotationExitCode: "3"}, want: Program{ExitCode: 3}},
		"duration only":                {container: cmd, annotations: map[string]string{AnnotationDuration: "3s"}, want: Program{Duration: 3 * time.Second}},
		"both":                         {container: cmd, annotations: map[string]string{AnnotationExitCode: "1", AnnotationDuration: "1m"}, want: Program{ExitCode: 1, Duration: time.Minute}},
		"duration in seconds, no unit": {container: cmd, annotations: map[string]string{AnnotationDuration: "2"}, want: Program{Duration: 2 * time.Second}},
		"annotations beat the script": {container: sh("echo a; sleep 5; echo b; exit 1"), annotations: map[string]string{AnnotationExitCode: "0", AnnotationDuration: "1s"},
			want: Program{Duration: time.Second, Lines: []LogLine{{Text: "a"}}}},
		"script exit code": {container: cmd, want: Program{ExitCode: 3}},
		"job-fail script":  {container: sh("sleep 1;date;exit 1"), want: Program{Duration: time.Second, ExitCode: 1, Lines: []LogLine{{At: time.Second, Date: true}}}},
		"job-parallel script": {container: &corev1.Container{Command: []string{"sh", "-c", "sleep 2; echo done"}},
			want: Program{Duration: 2 * time.Second, Lines: []LogLine{{At: 2 * time.Second, Text: "done"}}}},
		"script in args": {container: &corev1.Container{Args: []string{"/bin/sh", "-c", "date; echo Hello from the Kubernetes cluster"}},
			want: Program{Lines: []LogLine{{Date: true}, {Text: "Hello from the Kubernetes cluster"}}}},
		"quotes and separators": {container: sh(`echo "a; b" && sleep 0.5 || echo 'c'; false || echo d`),
			want: Program{Duration: 500 * time.Millisecond, Lines: []LogLine{{Text: "a; b"}, {At: 500 * time.Millisecond, Text: "d"}}}},
		"a bare echo logs its arguments": {container: &corev1.Container{Command: []string{"echo", "Hello Kubernetes"}}, restartPolicy: "Never",
			want: Program{Lines: []LogLine{{Text: "Hello Kubernetes"}}}},
		"a script as one quoted word is one program name": {container: sh(`"sleep 5s;echo \"done\""`), restartPolicy: "Never",
			want: Program{ExitCode: 127, Lines: []LogLine{{Text: `sh: sleep 5s;echo "done": not found`}}}},
		"an unknown program in a script": {container: sh("echo start; curl web-0"), restartPolicy: "Never",
			want: Program{ExitCode: 127, Lines: []LogLine{{Text: "start"}, {Text: "sh: curl: not found"}}}},
		"variables from the pod": {container: &corev1.Container{Command: []string{"sh", "-c", "echo $HOSTNAME $KUBERNETES_SERVICE_HOST"}}, restartPolicy: "Never",
			want: Program{Lines: []LogLine{{Text: "web 10.96.0.1"}}}},
		"a loop is not modelled":        {container: sh("while true; do echo hi; sleep 1; done"), restartPolicy: "Always", want: Program{Forever: true}},
		"a loop is not modelled, Never": {container: sh("for i in 1 2; do echo $i; done"), restartPolicy: "Never", want: Program{Duration: ShortRun}},
		"nginx in a script runs until deleted": {container: &corev1.Container{Image: "nginx", Command: []string{"sh", "-c", "echo starting; nginx -g 'daemon off;'"}},
			want: Program{Forever: true, Lines: []LogLine{{Text: "starting"}}}},
		"the pi Job": {container: &corev1.Container{Command: []string{"perl", "-Mbignum=bpi", "-wle", "print bpi(20)"}}, restartPolicy: "Never",
			want: Program{Lines: []LogLine{{Text: "3.1415926535897932385"}}}},
		"false is the last status":      {container: sh("echo x\nfalse"), want: Program{ExitCode: 1, Lines: []LogLine{{Text: "x"}}}},
		"sleep infinity":                {container: sh("echo up; sleep infinity"), want: Program{Forever: true, Lines: []LogLine{{Text: "up"}}}},
		"sleep with unit":               {container: sh("sleep 2m"), want: Program{Duration: 2 * time.Minute}},
		"bare sleep":                    {container: &corev1.Container{Command: []string{"sleep", "3600"}}, want: Program{Duration: time.Hour}},
		"unreadable command, Never":     {container: &corev1.Container{Command: []string{"perl", "-e", "print 1"}}, restartPolicy: "Never", want: Program{Duration: ShortRun}},
		"unreadable command, OnFailure": {container: &corev1.Container{Command: []string{"perl"}}, restartPolicy: "OnFailure", want: Program{Duration: ShortRun}},
		"server command, Always":        {container: &corev1.Container{Command: []string{"nginx", "-g", "daemon off;"}}, restartPolicy: "Always", want: Program{Forever: true}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: "web", Annotations: tc.annotations}, Spec: &corev1.PodSpec{RestartPolicy: tc.restartPolicy}}
			if got := ProgramFor(p, tc.container); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ProgramFor = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestProgramScaled(t *testing.T) {
	p := Program{Duration: 2 * time.Second, Lines: []LogLine{{At: 2 * time.Second, Text: "done"}}}
	got := p.Scaled(0.01)
	if got.Duration != 20*time.Millisecond || got.Lines[0].At != 20*time.Millisecond || p.Lines[0].At != 2*time.Second {
		t.Errorf("Scaled(0.01) = %+v (original %+v)", got, p)
	}
	if !reflect.DeepEqual(p.Scaled(0), p) {
		t.Errorf("Scaled(0) changed the program")
	}
}

func TestPi(t *testing.T) {
	for n, want := range map[int]string{1: "3", 3: "3.14", 5: "3.1416", 20: "3.1415926535897932385"} {
		if got := Pi(n); got != want {
			t.Errorf("Pi(%d) = %s, want %s", n, got, want)
		}
	}
	// bpi(2000), the Job chapter's output, ends in ...5167 (rounded from ...51667...? checked below by length)
	if got := Pi(2000); len(got) != 2001 || got[:12] != "3.1415926535" {
		t.Errorf("Pi(2000) has %d characters: %.20s...", len(got), got)
	}
}
