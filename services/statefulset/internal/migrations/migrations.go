// Package migrations holds the statefulset service's own schema migrations (the
// shared object tables come from shared/store).
package migrations

import "embed"

// FS holds NNN_name.up.sql files.
//
//go:embed *.sql
var FS embed.FS
