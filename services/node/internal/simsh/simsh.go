// Package simsh is the shell of a simulated container: what `kubectl exec`
// runs in a pod of the sim runtime. It follows a POSIX shell's rules for what
// it models and says so for the rest, as busybox's sh would: a program it does
// not model is `sh: X: not found` with exit code 127, and a script given as
// one quoted word is one (unknown) program name.
//
// Modelled: `sh`/`bash`/`ash`/`dash` with -c SCRIPT or reading commands from
// stdin (interactive with a prompt and line editing when there is a tty);
// commands separated by newlines, `;`, `&&` and `||`; single and double
// quotes, backslash escapes, $VAR, ${VAR}, $? and $$; the programs echo,
// printf, sleep, true, false, exit, date, hostname, cat (the pod's /etc/hosts,
// /etc/hostname, /etc/resolv.conf and stdin), env, printenv, pwd, whoami, id,
// uname and, in images that have them, `nginx -v` and `httpd -v`. Pipes,
// redirections, globs, variables assignments, conditionals and loops are not.
package simsh

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Machine is what a command sees of its container.
type Machine struct {
	// Hostname is the pod's hostname.
	Hostname string
	// Env is the container's environment (KEY=VALUE), in order.
	Env []string
	// Files are the files the container has, by absolute path.
	Files map[string]string
	// Image is the container's image (for `nginx -v`).
	Image string
	// Now is the clock of `date` (default time.Now).
	Now func() time.Time
	// Sleep waits d or until ctx ends (default: really waits).
	Sleep func(ctx context.Context, d time.Duration) error
	// Lookup resolves a name the way the pod's resolver does (the cluster
	// DNS, the pod's search path); nil: the container has no DNS.
	Lookup func(ctx context.Context, name string) (Answer, error)
	// WriteFile keeps a file the command writes (`tar x`, what `kubectl cp`
	// sends); nil: the file system is read-only.
	WriteFile func(path string, content []byte) error
	// Serve runs a server program of the image (`nginx` in an nginx image)
	// until ctx ends; nil: the container's own server already holds the port.
	Serve func(ctx context.Context) error
}

func (m *Machine) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Machine) sleep(ctx context.Context, d time.Duration) error {
	if m.Sleep != nil {
		return m.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// DateFormat is busybox's `date` output.
const DateFormat = "Mon Jan  2 15:04:05 MST 2006"

// ErrNotFound is a program the container does not have, run without a shell:
// the runtime cannot start it (Exec returns it, as containerd's exec does).
type ErrNotFound struct{ Program string }

func (e ErrNotFound) Error() string {
	return fmt.Sprintf("OCI runtime exec failed: exec failed: unable to start container process: exec: %q: executable file not found in $PATH: unknown", e.Program)
}

// Streams are a command's standard streams. Stdin may be nil (empty).
type Streams struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// TTY: the streams are a terminal (the interactive shell prompts, echoes
	// and edits lines itself, and output lines end in \r\n).
	TTY bool
}

// Exec runs argv as the container's runtime would start it: a program it has
// (a shell among them), or ErrNotFound. The int is the exit code.
func Exec(ctx context.Context, m *Machine, argv []string, s Streams) (int, error) {
	if len(argv) == 0 {
		return 0, fmt.Errorf("no command")
	}
	sh := &shell{m: m, vars: envMap(m.Env), in: bufio.NewReader(orEmpty(s.Stdin)), tty: s.TTY}
	sh.out, sh.errw = s.Stdout, s.Stderr
	if sh.out == nil {
		sh.out = io.Discard
	}
	if sh.errw == nil {
		sh.errw = io.Discard
	}
	if s.TTY {
		sh.out, sh.errw = crlf{sh.out}, crlf{sh.errw}
	}
	if !sh.has(argv[0]) {
		return 0, ErrNotFound{Program: argv[0]}
	}
	return sh.run(ctx, argv), nil
}

func orEmpty(r io.Reader) io.Reader {
	if r == nil {
		return strings.NewReader("")
	}
	return r
}

// crlf turns \n into \r\n, as a terminal's output processing (onlcr) does.
type crlf struct{ w io.Writer }

func (c crlf) Write(p []byte) (int, error) {
	if _, err := c.w.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(string(p), "\r\n", "\n"), "\n", "\r\n"))); err != nil {
		return 0, err
	}
	return len(p), nil
}

type shell struct {
	m    *Machine
	vars map[string]string
	in   *bufio.Reader
	out  io.Writer
	errw io.Writer
	tty  bool
	last int
	// exited is set by `exit`: the script stops.
	exited bool
}

func envMap(env []string) map[string]string {
	out := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = v
		}
	}
	return out
}

var shells = map[string]bool{"sh": true, "bash": true, "ash": true, "dash": true}

// programs are what every simulated container has (busybox's).
var programs = map[string]bool{
	"echo": true, "printf": true, "sleep": true, "true": true, "false": true, "date": true,
	"hostname": true, "cat": true, "env": true, "printenv": true, "pwd": true, "whoami": true, "id": true, "uname": true,
	"tar": true, "test": true, "[": true, "ls": true, "nslookup": true,
}

// Answer is what a name resolves to.
type Answer struct {
	Name  string
	Addrs []Addr
}

// Addr is one address and the name the DNS gives it ("" when none).
type Addr struct {
	IP, Name string
}

// imageName is the repository's last path element of an image reference.
func imageName(image string) string {
	repo := image
	if i := strings.Index(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return path.Base(repo)
}

// imageTag is the image's tag ("latest" when none).
func imageTag(image string) string {
	repo := image
	if i := strings.Index(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		return repo[i+1:]
	}
	return "latest"
}

// has reports whether the container has program name.
func (sh *shell) has(name string) bool {
	base := path.Base(name)
	if name != base && !strings.HasPrefix(name, "/bin/") && !strings.HasPrefix(name, "/usr/bin/") &&
		!strings.HasPrefix(name, "/usr/sbin/") && !strings.HasPrefix(name, "/usr/local/bin/") && !strings.HasPrefix(name, "/sbin/") {
		return false
	}
	if shells[base] || programs[base] {
		return true
	}
	img := imageName(sh.m.Image)
	return base == "nginx" && (img == "nginx" || strings.HasPrefix(img, "nginx-")) || base == "httpd" && img == "httpd"
}

func (sh *shell) printf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, format, args...)
}

// run runs one program with its arguments and returns its exit code.
func (sh *shell) run(ctx context.Context, argv []string) int {
	name := argv[0]
	if !sh.has(name) {
		sh.printf(sh.errw, "sh: %s: not found\n", name)
		return 127
	}
	args := argv[1:]
	switch base := path.Base(name); base {
	case "sh", "bash", "ash", "dash":
		return sh.shellProgram(ctx, args)
	case "echo":
		newline, escapes := true, false
		for len(args) > 0 && (args[0] == "-n" || args[0] == "-e" || args[0] == "-E" || args[0] == "-ne" || args[0] == "-en") {
			newline = newline && !strings.Contains(args[0], "n")
			escapes = escapes || strings.Contains(args[0], "e")
			args = args[1:]
		}
		text := strings.Join(args, " ")
		if escapes {
			text = unescape(text)
		}
		if newline {
			text += "\n"
		}
		io.WriteString(sh.out, text)
		return 0
	case "printf":
		if len(args) == 0 {
			sh.printf(sh.errw, "printf: usage: printf FORMAT [ARGUMENT]...\n")
			return 1
		}
		io.WriteString(sh.out, printfFormat(args[0], args[1:]))
		return 0
	case "sleep":
		if len(args) == 0 {
			sh.printf(sh.errw, "sleep: missing operand\n")
			return 1
		}
		var total time.Duration
		for _, a := range args {
			if a == "infinity" {
				total = 1<<63 - 1
				break
			}
			d, ok := ParseSleep(a)
			if !ok {
				sh.printf(sh.errw, "sleep: invalid number '%s'\n", a)
				return 1
			}
			total += d
		}
		if err := sh.m.sleep(ctx, total); err != nil {
			return 130
		}
		return 0
	case "true":
		return 0
	case "false":
		return 1
	case "date":
		io.WriteString(sh.out, sh.m.now().UTC().Format(DateFormat)+"\n")
		return 0
	case "hostname":
		io.WriteString(sh.out, sh.m.Hostname+"\n")
		return 0
	case "cat":
		if len(args) == 0 || len(args) == 1 && args[0] == "-" {
			if _, err := io.Copy(sh.out, sh.in); err != nil {
				return 1
			}
			return 0
		}
		code := 0
		for _, f := range args {
			content, ok := sh.m.Files[f]
			if !ok {
				sh.printf(sh.errw, "cat: can't open '%s': No such file or directory\n", f)
				code = 1
				continue
			}
			io.WriteString(sh.out, content)
		}
		return code
	case "env", "printenv":
		if len(args) > 0 {
			code := 0
			for _, a := range args {
				if v, ok := sh.vars[a]; ok {
					io.WriteString(sh.out, v+"\n")
				} else {
					code = 1
				}
			}
			if base == "env" {
				sh.printf(sh.errw, "env: can't execute '%s': No such file or directory\n", args[0])
				return 127
			}
			return code
		}
		keys := make([]string, 0, len(sh.vars))
		for k := range sh.vars {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			io.WriteString(sh.out, k+"="+sh.vars[k]+"\n")
		}
		return 0
	case "pwd":
		io.WriteString(sh.out, "/\n")
		return 0
	case "whoami":
		io.WriteString(sh.out, "root\n")
		return 0
	case "id":
		io.WriteString(sh.out, "uid=0(root) gid=0(root) groups=0(root)\n")
		return 0
	case "uname":
		switch {
		case len(args) == 0 || args[0] == "-s":
			io.WriteString(sh.out, "Linux\n")
		case args[0] == "-n":
			io.WriteString(sh.out, sh.m.Hostname+"\n")
		default:
			io.WriteString(sh.out, "Linux "+sh.m.Hostname+"\n")
		}
		return 0
	case "tar":
		return sh.tar(args)
	case "test", "[":
		if base == "[" {
			if len(args) == 0 || args[len(args)-1] != "]" {
				sh.printf(sh.errw, "sh: missing ]\n")
				return 2
			}
			args = args[:len(args)-1]
		}
		return sh.test(args)
	case "ls":
		return sh.ls(args)
	case "nslookup":
		return sh.nslookup(ctx, args)
	case "nginx":
		if len(args) > 0 && (args[0] == "-v" || args[0] == "-V") {
			sh.printf(sh.errw, "nginx version: nginx/%s\n", versionOf(sh.m.Image, "1.27.4"))
			return 0
		}
		if sh.m.Serve != nil {
			if err := sh.m.Serve(ctx); err != nil {
				return 130
			}
			return 0
		}
		sh.printf(sh.errw, "nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)\n")
		return 1
	case "httpd":
		if len(args) > 0 && args[0] == "-v" {
			sh.printf(sh.out, "Server version: Apache/%s (Unix)\n", versionOf(sh.m.Image, "2.4.62"))
			return 0
		}
		if sh.m.Serve != nil {
			if err := sh.m.Serve(ctx); err != nil {
				return 130
			}
			return 0
		}
		sh.printf(sh.errw, "httpd: (98)Address already in use: AH00072: make_sock: could not bind to address 0.0.0.0:80\n")
		return 1
	}
	sh.printf(sh.errw, "sh: %s: not found\n", name)
	return 127
}

// versionOf is the image tag when it is a version, else def.
func versionOf(image, def string) string {
	tag := imageTag(image)
	if tag != "" && tag[0] >= '0' && tag[0] <= '9' {
		if i := strings.IndexAny(tag, "-_"); i >= 0 {
			tag = tag[:i]
		}
		if strings.Count(tag, ".") == 1 {
			tag += ".0"
		}
		return tag
	}
	return def
}

// shellProgram is `sh [-c SCRIPT [NAME [ARG...]]]`, or commands from stdin.
func (sh *shell) shellProgram(ctx context.Context, args []string) int {
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-c" && !strings.Contains(args[0], "c") {
		args = args[1:] // -e, -x, -i, -l: accepted, not modelled
	}
	if len(args) > 0 && strings.HasPrefix(args[0], "-") && strings.Contains(args[0], "c") {
		if len(args) < 2 {
			sh.printf(sh.errw, "sh: -c requires an argument\n")
			return 2
		}
		child := sh.child()
		return child.script(ctx, args[1])
	}
	if len(args) > 0 {
		if _, ok := sh.m.Files[args[0]]; !ok {
			sh.printf(sh.errw, "sh: can't open '%s': No such file or directory\n", args[0])
			return 2
		}
		return sh.child().script(ctx, sh.m.Files[args[0]])
	}
	return sh.child().interactive(ctx)
}

func (sh *shell) child() *shell {
	vars := make(map[string]string, len(sh.vars))
	for k, v := range sh.vars {
		vars[k] = v
	}
	return &shell{m: sh.m, vars: vars, in: sh.in, out: sh.out, errw: sh.errw, tty: sh.tty}
}

// script runs a whole script and returns its exit status.
func (sh *shell) script(ctx context.Context, src string) int {
	for _, c := range SplitCommands(src) {
		if sh.exited || ctx.Err() != nil {
			break
		}
		if c.Op == "&&" && sh.last != 0 || c.Op == "||" && sh.last == 0 {
			continue
		}
		sh.command(ctx, c.Text)
	}
	return sh.last
}

// command runs one simple command.
func (sh *shell) command(ctx context.Context, text string) {
	words, err := sh.words(text)
	if err != nil {
		sh.printf(sh.errw, "sh: syntax error: %v\n", err)
		sh.last = 2
		return
	}
	if len(words) == 0 {
		return
	}
	if words[0] == "exit" {
		code := sh.last
		if len(words) > 1 {
			v, err := strconv.Atoi(words[1])
			if err != nil {
				sh.printf(sh.errw, "sh: exit: Illegal number: %s\n", words[1])
				v = 2
			}
			code = v & 0xff
		}
		sh.last, sh.exited = code, true
		return
	}
	if words[0] == "export" {
		for _, w := range words[1:] {
			if k, v, ok := strings.Cut(w, "="); ok {
				sh.vars[k] = v
			}
		}
		sh.last = 0
		return
	}
	sh.last = sh.run(ctx, words)
}

// interactive reads commands from stdin until EOF or `exit`; with a tty it
// prompts, echoes what is typed and edits the line (backspace, ^C, ^D).
func (sh *shell) interactive(ctx context.Context) int {
	prompt := "/ # "
	for !sh.exited && ctx.Err() == nil {
		var line string
		var eof bool
		if sh.tty {
			io.WriteString(sh.out, prompt)
			line, eof = sh.readTTYLine()
		} else {
			l, err := sh.in.ReadString('\n')
			line, eof = strings.TrimRight(l, "\r\n"), err != nil
			if eof && l == "" {
				break
			}
		}
		sh.script(ctx, line)
		if eof {
			break
		}
	}
	if sh.tty && !sh.exited {
		io.WriteString(sh.out, "\n")
	}
	return sh.last
}

// readTTYLine is a terminal's line discipline: it echoes, handles backspace,
// ^C (drops the line) and ^D (end of input on an empty line).
func (sh *shell) readTTYLine() (string, bool) {
	var buf []byte
	for {
		b, err := sh.in.ReadByte()
		if err != nil {
			return string(buf), true
		}
		switch b {
		case '\r', '\n':
			io.WriteString(sh.out, "\n")
			return string(buf), false
		case 0x7f, 0x08:
			if len(buf) > 0 {
				buf = buf[:len(buf)-1]
				io.WriteString(sh.out, "\b \b")
			}
		case 0x03:
			io.WriteString(sh.out, "^C\n")
			buf = buf[:0]
			return "", false
		case 0x04:
			if len(buf) == 0 {
				return "", true
			}
		default:
			if b >= 0x20 || b == '\t' {
				buf = append(buf, b)
				sh.out.Write([]byte{b})
			}
		}
	}
}

// Command is one command of a script and the operator before it.
type Command struct {
	// Op is "", ";" , "&&" or "||": how it depends on the previous command.
	Op   string
	Text string
}

// SplitCommands splits a script into its commands on newlines, `;`, `&&` and
// `||` outside quotes; `#` starts a comment.
func SplitCommands(script string) []Command {
	var out []Command
	var cur strings.Builder
	op := ""
	var quote rune
	rs := []rune(script)
	flush := func(next string) {
		out = append(out, Command{Op: op, Text: cur.String()})
		cur.Reset()
		op = next
	}
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote != 0:
			if r == '\\' && quote == '"' && i+1 < len(rs) {
				cur.WriteRune(r)
				i++
				cur.WriteRune(rs[i])
				continue
			}
			if r == quote {
				quote = 0
			}
			cur.WriteRune(r)
		case r == '\\' && i+1 < len(rs):
			cur.WriteRune(r)
			i++
			cur.WriteRune(rs[i])
		case r == '\'' || r == '"':
			quote = r
			cur.WriteRune(r)
		case r == '#' && (i == 0 || rs[i-1] == ' ' || rs[i-1] == '\t' || rs[i-1] == '\n' || rs[i-1] == ';'):
			for i+1 < len(rs) && rs[i+1] != '\n' {
				i++
			}
		case r == ';' || r == '\n':
			flush(";")
		case (r == '&' || r == '|') && i+1 < len(rs) && rs[i+1] == r:
			flush(string([]rune{r, r}))
			i++
		default:
			cur.WriteRune(r)
		}
	}
	flush("")
	var kept []Command
	for _, c := range out {
		if strings.TrimSpace(c.Text) != "" || c.Op == "&&" || c.Op == "||" {
			kept = append(kept, c)
		}
	}
	return kept
}

// words splits a command into words: quotes removed, variables expanded,
// backslash escapes applied.
func (sh *shell) words(cmd string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in := false
	rs := []rune(cmd)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\'':
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j == len(rs) {
				return nil, fmt.Errorf("unterminated quoted string")
			}
			cur.WriteString(string(rs[i+1 : j]))
			i, in = j, true
		case r == '"':
			j := i + 1
			var q strings.Builder
			for ; j < len(rs) && rs[j] != '"'; j++ {
				switch {
				case rs[j] == '\\' && j+1 < len(rs) && strings.ContainsRune("\"\\$`", rs[j+1]):
					j++
					q.WriteRune(rs[j])
				case rs[j] == '$':
					v, n := sh.expand(rs[j:])
					q.WriteString(v)
					j += n - 1
				default:
					q.WriteRune(rs[j])
				}
			}
			if j == len(rs) {
				return nil, fmt.Errorf("unterminated quoted string")
			}
			cur.WriteString(q.String())
			i, in = j, true
		case r == '\\' && i+1 < len(rs):
			i++
			cur.WriteRune(rs[i])
			in = true
		case r == '$':
			v, n := sh.expand(rs[i:])
			cur.WriteString(v)
			i += n - 1
			in = in || v != "" || n == 1
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
	return out, nil
}

// expand reads a $-expansion at the start of rs: its value and how many runes it took.
func (sh *shell) expand(rs []rune) (string, int) {
	if len(rs) < 2 {
		return "$", 1
	}
	switch rs[1] {
	case '?':
		return strconv.Itoa(sh.last), 2
	case '$':
		return "1", 2
	case '{':
		end := 2
		for end < len(rs) && rs[end] != '}' {
			end++
		}
		if end == len(rs) {
			return "$", 1
		}
		return sh.vars[string(rs[2:end])], end + 1
	}
	end := 1
	for end < len(rs) && (rs[end] == '_' || rs[end] >= 'a' && rs[end] <= 'z' || rs[end] >= 'A' && rs[end] <= 'Z' || end > 1 && rs[end] >= '0' && rs[end] <= '9') {
		end++
	}
	if end == 1 {
		return "$", 1
	}
	return sh.vars[string(rs[1:end])], end
}

// unescape applies echo -e's and printf's backslash escapes.
func unescape(s string) string {
	r := strings.NewReplacer(`\n`, "\n", `\t`, "\t", `\\`, `\`, `\r`, "\r", `\a`, "\a", `\b`, "\b", `\e`, "\x1b", `\v`, "\v", `\f`, "\f")
	return r.Replace(s)
}

// printfFormat is printf(1): %s, %d, %i, %x, %o, %c, %f, %b and %% with
// widths, the format reused while arguments remain.
func printfFormat(format string, args []string) string {
	var b strings.Builder
	for first := true; first || len(args) > 0; first = false {
		used := false
		fs := []rune(unescape(format))
		for i := 0; i < len(fs); i++ {
			if fs[i] != '%' || i+1 == len(fs) {
				b.WriteRune(fs[i])
				continue
			}
			j := i + 1
			for j < len(fs) && strings.ContainsRune("-+ #0123456789.", fs[j]) {
				j++
			}
			if j == len(fs) {
				b.WriteString(string(fs[i:]))
				break
			}
			spec, verb := string(fs[i+1:j]), fs[j]
			i = j
			if verb == '%' {
				b.WriteRune('%')
				continue
			}
			arg := ""
			if len(args) > 0 {
				arg, args, used = args[0], args[1:], true
			}
			switch verb {
			case 'd', 'i':
				n, _ := strconv.ParseInt(arg, 10, 64)
				fmt.Fprintf(&b, "%"+spec+"d", n)
			case 'x', 'X', 'o':
				n, _ := strconv.ParseInt(arg, 10, 64)
				fmt.Fprintf(&b, "%"+spec+string(verb), n)
			case 'f', 'e', 'g':
				f, _ := strconv.ParseFloat(arg, 64)
				fmt.Fprintf(&b, "%"+spec+string(verb), f)
			case 'c':
				if arg != "" {
					b.WriteString(string([]rune(arg)[:1]))
				}
			case 'b':
				b.WriteString(unescape(arg))
			default:
				fmt.Fprintf(&b, "%"+spec+"s", arg)
			}
		}
		if !used {
			break
		}
	}
	return b.String()
}

// ParseSleep reads sleep's argument: seconds, possibly fractional, with an
// optional unit suffix s, m, h or d.
func ParseSleep(s string) (time.Duration, bool) {
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
		return 0, false
	}
	return time.Duration(n * float64(mult)), true
}

// nslookup is busybox 1.28's (the StatefulSet tutorial's dns-test image): the
// cluster DNS server, then the name's addresses with their names.
func (sh *shell) nslookup(ctx context.Context, args []string) int {
	var names []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			names = append(names, a)
		}
	}
	if len(names) == 0 {
		sh.printf(sh.errw, "BusyBox v1.28.4 multi-call binary.\n\nUsage: nslookup [HOST] [SERVER]\n")
		return 1
	}
	server := ""
	for _, line := range strings.Split(sh.m.Files["/etc/resolv.conf"], "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "nameserver" {
			server = f[1]
			break
		}
	}
	if sh.m.Lookup == nil || server == "" {
		sh.printf(sh.errw, "nslookup: can't resolve '(null)': Name does not resolve\n")
		return 1
	}
	srv, err := sh.m.Lookup(ctx, server)
	serverName := ""
	if err == nil && len(srv.Addrs) > 0 {
		serverName = " " + srv.Addrs[0].Name
	}
	sh.printf(sh.out, "Server:    %s\nAddress 1: %s%s\n\n", server, server, strings.TrimRight(serverName, " "))
	ans, err := sh.m.Lookup(ctx, names[0])
	if err != nil || len(ans.Addrs) == 0 {
		sh.printf(sh.errw, "nslookup: can't resolve '%s'\n", names[0])
		return 1
	}
	sh.printf(sh.out, "Name:      %s\n", names[0])
	for i, a := range ans.Addrs {
		line := fmt.Sprintf("Address %d: %s", i+1, a.IP)
		if a.Name != "" {
			line += " " + a.Name
		}
		io.WriteString(sh.out, line+"\n")
	}
	return 0
}
