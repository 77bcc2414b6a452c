// Package announce tells whoever started a process where it listens: the ports the
// kernel picked for ":0" addresses, whatever the log level. The integration harness
// starts every process so (no port picked free, then taken by another process before
// the process binds it) and reads the file back.
package announce

import (
	"fmt"
	"os"
	"strings"
)

// FileEnv names the file Addrs writes.
const FileEnv = "PODWARDEN_LISTEN_FILE"

// Addrs writes keyvals (name, address, ...) as one line of key=value pairs to the file
// $PODWARDEN_LISTEN_FILE names, atomically; without it, it does nothing.
func Addrs(keyvals ...any) error {
	path := os.Getenv(FileEnv)
	if path == "" {
		return nil
	}
	var b strings.Builder
	for i := 0; i+1 < len(keyvals); i += 2 {
		fmt.Fprintf(&b, "%v=%v ", keyvals[i], keyvals[i+1])
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.TrimSpace(b.String())+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
