// Package migrations holds the deployment service's own schema migrations (the shared
// object tables come from shared/store); none are needed yet.
package migrations

import "embed"

// FS holds NNN_name.up.sql files.
//
//go:embed *.sql
var FS embed.FS
