package simsh

import (
	"archive/tar"
	"bytes"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// systemDirs are the directories every simulated container has.
var systemDirs = []string{"/", "/bin", "/dev", "/etc", "/home", "/proc", "/root", "/run", "/sys", "/tmp", "/usr", "/usr/bin", "/var"}

// isDir reports whether p is a directory: a system one, or one holding a file.
func (sh *shell) isDir(p string) bool {
	p = path.Clean("/" + p)
	for _, d := range systemDirs {
		if d == p {
			return true
		}
	}
	for f := range sh.m.Files {
		if strings.HasPrefix(f, strings.TrimSuffix(p, "/")+"/") {
			return true
		}
	}
	return false
}

// abs resolves p against the working directory (/).
func abs(p string) string { return path.Clean("/" + p) }

// test is test(1)'s file and string tests.
func (sh *shell) test(args []string) int {
	ok := func(b bool) int {
		if b {
			return 0
		}
		return 1
	}
	switch len(args) {
	case 0:
		return 1
	case 1:
		return ok(args[0] != "")
	case 2:
		_, isFile := sh.m.Files[abs(args[1])]
		switch args[0] {
		case "-d":
			return ok(sh.isDir(args[1]))
		case "-f":
			return ok(isFile)
		case "-e":
			return ok(isFile || sh.isDir(args[1]))
		case "-z":
			return ok(args[1] == "")
		case "-n":
			return ok(args[1] != "")
		case "!":
			return 1 - sh.test(args[1:])
		}
	case 3:
		switch args[1] {
		case "=", "==":
			return ok(args[0] == args[2])
		case "!=":
			return ok(args[0] != args[2])
		}
	}
	sh.printf(sh.errw, "sh: test: unknown operand\n")
	return 2
}

// ls lists files and directories.
func (sh *shell) ls(args []string) int {
	var targets []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			targets = append(targets, a)
		}
	}
	if len(targets) == 0 {
		targets = []string{"/"}
	}
	code := 0
	for _, t := range targets {
		p := abs(t)
		if _, ok := sh.m.Files[p]; ok {
			io.WriteString(sh.out, t+"\n")
			continue
		}
		if !sh.isDir(p) {
			sh.printf(sh.errw, "ls: %s: No such file or directory\n", t)
			code = 1
			continue
		}
		names := map[string]bool{}
		prefix := strings.TrimSuffix(p, "/") + "/"
		for _, d := range systemDirs {
			if rest, ok := strings.CutPrefix(d, prefix); ok && rest != "" {
				names[strings.Split(rest, "/")[0]] = true
			}
		}
		for f := range sh.m.Files {
			if rest, ok := strings.CutPrefix(f, prefix); ok {
				names[strings.Split(rest, "/")[0]] = true
			}
		}
		list := make([]string, 0, len(names))
		for n := range names {
			list = append(list, n)
		}
		sort.Strings(list)
		for _, n := range list {
			io.WriteString(sh.out, n+"\n")
		}
	}
	return code
}

// tar is `tar c` of the container's files to stdout and `tar x` from stdin
// (what `kubectl cp` runs): -f - only, -C DIR, -m and -v accepted.
func (sh *shell) tar(args []string) int {
	var mode byte
	dir := "/"
	var paths []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-C" && i+1 < len(args):
			dir = abs(args[i+1])
			i++
		case a == "-":
		case strings.HasPrefix(a, "-") || i == 0:
			for _, f := range strings.TrimPrefix(a, "-") {
				switch f {
				case 'c', 'x', 't':
					mode = byte(f)
				case 'f', 'm', 'v', 'o', 'p':
				default:
					sh.printf(sh.errw, "tar: invalid option -- '%c'\n", f)
					return 1
				}
			}
		default:
			paths = append(paths, a)
		}
	}
	switch mode {
	case 'c':
		return sh.tarCreate(dir, paths)
	case 'x':
		return sh.tarExtract(dir)
	}
	sh.printf(sh.errw, "tar: need -c, -x or -t\n")
	return 1
}

func (sh *shell) tarCreate(dir string, paths []string) int {
	if len(paths) == 0 {
		sh.printf(sh.errw, "tar: empty archive\n")
		return 1
	}
	tw := tar.NewWriter(sh.out)
	code := 0
	warned := false
	for _, p := range paths {
		full := path.Join(dir, p)
		if strings.HasPrefix(p, "/") {
			full = path.Clean(p)
			if !warned {
				sh.printf(sh.errw, "tar: removing leading '/' from member names\n")
				warned = true
			}
		}
		name := strings.TrimPrefix(path.Clean(p), "/")
		var files []string
		if _, ok := sh.m.Files[full]; ok {
			files = []string{full}
		} else if sh.isDir(full) {
			prefix := strings.TrimSuffix(full, "/") + "/"
			for f := range sh.m.Files {
				if strings.HasPrefix(f, prefix) {
					files = append(files, f)
				}
			}
			sort.Strings(files)
			_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755, ModTime: time.Unix(0, 0)})
		} else {
			sh.printf(sh.errw, "tar: %s: No such file or directory\n", p)
			code = 1
			continue
		}
		for _, f := range files {
			content := sh.m.Files[f]
			member := name
			if f != full {
				member = name + "/" + strings.TrimPrefix(f, strings.TrimSuffix(full, "/")+"/")
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: member, Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0)}); err != nil {
				return 1
			}
			if _, err := io.WriteString(tw, content); err != nil {
				return 1
			}
		}
	}
	if err := tw.Close(); err != nil {
		return 1
	}
	return code
}

func (sh *shell) tarExtract(dir string) int {
	if sh.m.WriteFile == nil {
		sh.printf(sh.errw, "tar: can't open: Read-only file system\n")
		return 1
	}
	tr := tar.NewReader(sh.in)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return 0
		}
		if err != nil {
			sh.printf(sh.errw, "tar: invalid tar magic\n")
			return 1
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		var b bytes.Buffer
		if _, err := io.Copy(&b, tr); err != nil {
			sh.printf(sh.errw, "tar: short read\n")
			return 1
		}
		p := path.Join(dir, path.Clean("/"+h.Name))
		if err := sh.m.WriteFile(p, b.Bytes()); err != nil {
			sh.printf(sh.errw, "tar: %s: %v\n", strings.TrimPrefix(p, "/"), err)
			return 1
		}
		if sh.m.Files == nil {
			sh.m.Files = map[string]string{}
		}
		sh.m.Files[p] = b.String()
	}
}
