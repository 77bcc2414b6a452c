package sim

import (
	"context"
	"math/big"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/podwarden/podwarden/services/node/internal/ipam"
	"github.com/podwarden/podwarden/services/node/internal/simsh"
	"github.com/podwarden/podwarden/services/node/internal/streams"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Annotations that script what a container with a command does.
const (
	// AnnotationExitCode is the exit code of every container with a command ("0", "1", ...).
	AnnotationExitCode = "sim.podwarden.io/exit-code"
	// AnnotationDuration is how long such a container runs before it exits ("3s", "1m").
	AnnotationDuration = "sim.podwarden.io/duration"
	// AnnotationUnready marks a pod whose readiness probe fails (InjectPodFault "unready").
	AnnotationUnready = "sim.podwarden.io/unready"
)

// ShortRun is how long a run-to-completion container (restartPolicy Never or
// OnFailure) whose command the sim cannot read runs before it succeeds.
const ShortRun = time.Second

// Program is what a container does once running: exit with ExitCode after
// Duration, or run until it is stopped (Forever). Lines are what it writes to
// its log, each At an offset from its start.
type Program struct {
	Forever  bool
	Duration time.Duration
	ExitCode int32
	Lines    []LogLine
}

// LogLine is one line a program writes. Date lines are the output of `date`:
// their text is the time they are written at.
type LogLine struct {
	At   time.Duration
	Text string
	Date bool
}

// Scaled returns the program with its duration and line offsets multiplied by
// f (the sim's time scale; f <= 0 or 1 leaves it unchanged).
func (p Program) Scaled(f float64) Program {
	if f <= 0 || f == 1 {
		return p
	}
	p.Duration = time.Duration(float64(p.Duration) * f)
	if len(p.Lines) > 0 {
		lines := make([]LogLine, len(p.Lines))
		for i, l := range p.Lines {
			l.At = time.Duration(float64(l.At) * f)
			lines[i] = l
		}
		p.Lines = lines
	}
	return p
}

// ProgramFor decides the program of a container, in this order:
//  1. no command and no args: runs until deleted (the image's server);
//  2. the pod's sim.podwarden.io/exit-code and sim.podwarden.io/duration
//     annotations, when either is set: it runs that long (default 0) and exits
//     with that code (default 0);
//  3. a command the sim's shell models (package simsh: `sh -c SCRIPT`, echo,
//     printf, sleep, true, false, date, hostname, cat of the pod's files, ...)
//     runs by a shell's rules in simulated time: what it writes is its log,
//     `sleep` takes its time, `sleep infinity` and a server (`nginx` in an
//     nginx image) run until deleted, an unknown program in a script is
//     `sh: X: not found` with exit code 127, the last status is the exit code;
//  4. `perl -Mbignum=bpi -wle 'print bpi(N)'` (the Job chapter's pi) prints pi
//     to N digits;
//  5. anything else (a program the sim does not model, or a script with
//     loops, conditionals, pipes, redirections or command substitutions): with
//     restartPolicy Always (servers) it runs until deleted; with Never or
//     OnFailure it succeeds after ShortRun.
func ProgramFor(pod *corev1.Pod, c *corev1.Container) Program {
	argv := append(append([]string{}, c.GetCommand()...), c.GetArgs()...)
	if len(argv) == 0 {
		return Program{Forever: true}
	}
	p, ok := simulate(pod, c, argv)
	if !ok {
		if digits, isPi := piCommand(argv); isPi {
			p = Program{Lines: []LogLine{{Text: Pi(digits)}}}
		} else if pod.GetSpec().GetRestartPolicy() == "Never" || pod.GetSpec().GetRestartPolicy() == "OnFailure" {
			p = Program{Duration: ShortRun}
		} else {
			p = Program{Forever: true}
		}
	}
	ann := pod.GetMetadata().GetAnnotations()
	codeStr, hasCode := ann[AnnotationExitCode]
	durStr, hasDur := ann[AnnotationDuration]
	if !hasCode && !hasDur {
		return p
	}
	p.Forever, p.ExitCode, p.Duration = false, 0, 0
	if hasCode {
		if v, err := strconv.ParseInt(codeStr, 10, 32); err == nil {
			p.ExitCode = int32(v)
		}
	}
	if hasDur {
		if d, err := time.ParseDuration(durStr); err == nil && d > 0 {
			p.Duration = d
		} else if n, err := strconv.ParseFloat(durStr, 64); err == nil && n > 0 {
			p.Duration = time.Duration(n * float64(time.Second))
		}
	}
	var lines []LogLine
	for _, l := range p.Lines {
		if l.At <= p.Duration {
			lines = append(lines, l)
		}
	}
	p.Lines = lines
	return p
}

// unmodelled finds shell syntax the sim's shell does not interpret.
var unmodelled = regexp.MustCompile(`(^|[;&|\n(]\s*)(while|for|until|if|case|function|select)\s|\$\(|\$\(\(|` + "`" + `|(^|[^|])\|([^|]|$)|[<>]`)

// simEpoch is the simulated clock's origin: `date` lines are recognised by it.
var simEpoch = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)

// simulate runs argv in the sim's shell in simulated time; ok is false when
// the shell does not model it.
func simulate(pod *corev1.Pod, c *corev1.Container, argv []string) (Program, bool) {
	if script, isScript := shellScript(argv); isScript && unmodelled.MatchString(script) {
		return Program{}, false
	}
	var p Program
	var at time.Duration
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := &simsh.Machine{
		Hostname: streams.Hostname(pod),
		Env:      streams.Env(pod, c, streams.DefaultPath, ipam.KubernetesServiceIP),
		Files:    streams.Files(pod, ipam.DNSServiceIP),
		Image:    c.GetImage(),
		Now:      func() time.Time { return simEpoch.Add(at) },
		Sleep: func(ctx context.Context, d time.Duration) error {
			if d >= foreverSleep {
				p.Forever = true
				cancel()
				return context.Canceled
			}
			at += d
			return nil
		},
		Serve: func(context.Context) error {
			p.Forever = true
			cancel()
			return context.Canceled
		},
	}
	out := &logWriter{at: func() time.Duration { return at }}
	code, err := simsh.Exec(ctx, m, argv, simsh.Streams{Stdout: out, Stderr: out})
	if err != nil {
		return Program{}, false
	}
	out.flush()
	p.Lines = out.lines
	if p.Forever {
		return p, true
	}
	p.Duration, p.ExitCode = at, int32(code)
	return p, true
}

// foreverSleep is a sleep the sim treats as endless (`sleep infinity`, or
// longer than a century).
const foreverSleep = 100 * 365 * 24 * time.Hour

// logWriter turns what a simulated program writes into log lines stamped with
// the simulated time they are completed at; `date`'s output becomes a Date line.
type logWriter struct {
	at      func() time.Duration
	partial strings.Builder
	lines   []LogLine
}

func (w *logWriter) Write(b []byte) (int, error) {
	for _, r := range string(b) {
		if r != '\n' {
			w.partial.WriteRune(r)
			continue
		}
		w.line()
	}
	return len(b), nil
}

func (w *logWriter) line() {
	at := w.at()
	text := w.partial.String()
	w.partial.Reset()
	if text == simEpoch.Add(at).Format(simsh.DateFormat) {
		w.lines = append(w.lines, LogLine{At: at, Date: true})
		return
	}
	w.lines = append(w.lines, LogLine{At: at, Text: text})
}

func (w *logWriter) flush() {
	if w.partial.Len() > 0 {
		w.line()
	}
}

// piCommand recognises `perl -Mbignum=bpi -wle 'print bpi(N)'`.
func piCommand(argv []string) (int, bool) {
	if path.Base(argv[0]) != "perl" {
		return 0, false
	}
	joined := strings.Join(argv[1:], " ")
	m := piRE.FindStringSubmatch(joined)
	if m == nil || !strings.Contains(joined, "bignum") {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 1 || n > 100000 {
		return 0, false
	}
	return n, true
}

var piRE = regexp.MustCompile(`print\s+bpi\((\d+)\)`)

// Pi is pi to n significant digits, rounded, as Perl's bignum bpi(n) prints it.
func Pi(n int) string {
	// Machin: pi = 16 atan(1/5) - 4 atan(1/239), in fixed point with guard digits.
	guard := 10
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n+guard)), nil)
	atan := func(x int64) *big.Int {
		sum := new(big.Int)
		term := new(big.Int).Div(scale, big.NewInt(x))
		x2 := big.NewInt(x * x)
		for k := int64(0); term.Sign() != 0; k++ {
			t := new(big.Int).Div(term, big.NewInt(2*k+1))
			if k%2 == 0 {
				sum.Add(sum, t)
			} else {
				sum.Sub(sum, t)
			}
			term.Div(term, x2)
		}
		return sum
	}
	pi := new(big.Int).Mul(atan(5), big.NewInt(16))
	pi.Sub(pi, new(big.Int).Mul(atan(239), big.NewInt(4)))
	// Round to n significant digits: pi has n+guard decimals and one integer digit.
	div := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(guard+1)), nil)
	half := new(big.Int).Div(div, big.NewInt(2))
	pi.Add(pi, half)
	pi.Div(pi, div)
	digits := pi.String()
	if n == 1 {
		return digits
	}
	return digits[:1] + "." + digits[1:]
}

// shellScript finds `<shell> -c <script>` in argv.
func shellScript(argv []string) (string, bool) {
	for i := 0; i+2 < len(argv); i++ {
		switch path.Base(argv[i]) {
		case "sh", "bash", "ash", "dash", "zsh":
			if argv[i+1] == "-c" || argv[i+1] == "-ec" || argv[i+1] == "-ce" {
				return argv[i+2], true
			}
		}
	}
	return "", false
}
