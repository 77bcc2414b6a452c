package sim

import (
	"path"
	"strconv"
	"strings"
	"time"

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
//  1. no command and no args: runs until deleted;
//  2. the pod's sim.podwarden.io/exit-code and sim.podwarden.io/duration
//     annotations, when either is set: it runs that long (default 0) and exits
//     with that code (default 0);
//  3. a shell script (`sh -c '<script>'`, also bash/ash/dash, in command or
//     args): `sleep N` adds N seconds, `exit N` ends it with code N, `echo text`
//     and `date` write log lines, `false`/`true` set the status of the last
//     command, which is the exit code when the script ends without `exit`;
//     `sleep infinity` runs until deleted. Other commands take no time;
//  4. a bare `sleep N`: runs N seconds and succeeds;
//  5. any other command: with restartPolicy Always (servers) it runs until
//     deleted; with Never or OnFailure it succeeds after ShortRun.
func ProgramFor(pod *corev1.Pod, c *corev1.Container) Program {
	argv := append(append([]string{}, c.GetCommand()...), c.GetArgs()...)
	if len(argv) == 0 {
		return Program{Forever: true}
	}
	script, isScript := shellScript(argv)
	var p Program
	switch {
	case isScript:
		p = parseScript(script)
	case path.Base(argv[0]) == "sleep" && len(argv) > 1:
		p = parseScript("sleep " + argv[1])
	case pod.GetSpec().GetRestartPolicy() == "Never" || pod.GetSpec().GetRestartPolicy() == "OnFailure":
		p = Program{Duration: ShortRun}
	default:
		p = Program{Forever: true}
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

// parseScript reads the commands of a script, separated by newlines, `;`,
// `&&` or `||` (conditionals and loops are not interpreted).
func parseScript(script string) Program {
	var p Program
	var at time.Duration
	last := int32(0)
	for _, cmd := range splitCommands(script) {
		words := splitWords(cmd)
		if len(words) == 0 {
			continue
		}
		switch words[0] {
		case "sleep":
			if len(words) > 1 && words[1] == "infinity" {
				p.Forever = true
				return p
			}
			if len(words) > 1 {
				at += parseSleep(words[1])
			}
			last = 0
		case "exit":
			code := last
			if len(words) > 1 {
				if v, err := strconv.ParseInt(words[1], 10, 32); err == nil {
					code = int32(v & 0xff)
				}
			}
			p.Duration, p.ExitCode = at, code
			return p
		case "echo":
			args := words[1:]
			for len(args) > 0 && (args[0] == "-n" || args[0] == "-e" || args[0] == "-E") {
				args = args[1:]
			}
			p.Lines = append(p.Lines, LogLine{At: at, Text: strings.Join(args, " ")})
			last = 0
		case "date":
			p.Lines = append(p.Lines, LogLine{At: at, Date: true})
			last = 0
		case "false":
			last = 1
		default:
			last = 0
		}
	}
	p.Duration, p.ExitCode = at, last
	return p
}

// parseSleep reads sleep's argument: seconds, possibly fractional, or with a
// unit suffix s, m, h, d.
func parseSleep(s string) time.Duration {
	mult := time.Second
	switch {
	case strings.HasSuffix(s, "s"):
		s = strings.TrimSuffix(s, "s")
	case strings.HasSuffix(s, "m"):
		s, mult = strings.TrimSuffix(s, "m"), time.Minute
	case strings.HasSuffix(s, "h"):
		s, mult = strings.TrimSuffix(s, "h"), time.Hour
	case strings.HasSuffix(s, "d"):
		s, mult = strings.TrimSuffix(s, "d"), 24*time.Hour
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n * float64(mult))
}

// splitCommands splits a script on newlines, `;`, `&&` and `||` outside quotes.
func splitCommands(script string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	rs := []rune(script)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote = r
			cur.WriteRune(r)
		case r == ';' || r == '\n':
			out = append(out, cur.String())
			cur.Reset()
		case (r == '&' || r == '|') && i+1 < len(rs) && rs[i+1] == r:
			out = append(out, cur.String())
			cur.Reset()
			i++
		default:
			cur.WriteRune(r)
		}
	}
	return append(out, cur.String())
}

// splitWords splits a command into words, removing quotes.
func splitWords(cmd string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	in := false
	for _, r := range cmd {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}
