package sink

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// migrationFiles holds the schema of each dialect as numbered SQL files,
// migrations/<dialect>/NNNN_name.sql, applied in order by Migrate and
// recorded in schema_migrations. A file, once released, never changes: a
// schema change is a new file.
//
//go:embed migrations/*/*.sql
var migrationFiles embed.FS

// migration is one schema version.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns dialect's migrations in version order.
func migrations(dialect string) ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/"+dialect+"/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".sql")
		num, label, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql", name)
		}
		data, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: version, name: label, sql: string(data)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations/%s: version %d appears twice", dialect, out[i].version)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("migrations/%s: none", dialect)
	}
	return out, nil
}

// pending returns the migrations of all that are not in applied, and fails
// when the database holds a version this binary does not know (it was
// migrated by a newer one).
func pending(all []migration, applied map[int]bool) ([]migration, error) {
	known := make(map[int]bool, len(all))
	for _, m := range all {
		known[m.version] = true
	}
	for v := range applied {
		if !known[v] {
			return nil, fmt.Errorf("schema version %d is unknown to this binary (latest %d): was the database migrated by a newer one?", v, all[len(all)-1].version)
		}
	}
	var out []migration
	for _, m := range all {
		if !applied[m.version] {
			out = append(out, m)
		}
	}
	return out, nil
}
