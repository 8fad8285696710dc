package sink

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The contract suite runs against every store.

func TestContractSQLite(t *testing.T) { runContract(t, openSQLiteStore) }

func TestContractPostgres(t *testing.T) { runContract(t, openPostgresStore) }

// openSQLiteStore opens and migrates a fresh SQLite store in a directory the
// store must create.
func openSQLiteStore(t testing.TB) Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "paredao.db")
	s, err := Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close sqlite: %v", err)
		}
	})
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return s
}

// openPostgresStore opens and migrates a store on a new database of its own.
func openPostgresStore(t testing.TB) Store {
	t.Helper()
	s, err := Open(context.Background(), newPostgresDatabase(t))
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { closeOK(t, s) }) // runs before the database is dropped
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate postgres: %v", err)
	}
	return s
}

// postgresAdminURL is the server the PostgreSQL tests create their databases
// on.
func postgresAdminURL() string {
	if u := os.Getenv("PAREDAO_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// newPostgresDatabase creates a database with a random name, drops it when
// the test ends, and returns its url. Without a server the test is skipped,
// except in CI (CI set), where it fails: CI must never pass by skipping.
func newPostgresDatabase(t testing.TB) string {
	t.Helper()
	admin := postgresAdminURL()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL unreachable (PAREDAO_TEST_DATABASE_URL): %v", err)
		}
		t.Skipf("PostgreSQL unreachable, skipping (set PAREDAO_TEST_DATABASE_URL, or run a server at 127.0.0.1:5432): %v", err)
	}
	defer func() {
		if err := conn.Close(ctx); err != nil {
			t.Error(err)
		}
	}()

	var b [6]byte
	rand.Read(b[:])
	name := "paredao_test_" + hex.EncodeToString(b[:])
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer func() {
			if err := conn.Close(ctx); err != nil {
				t.Errorf("drop database %s: %v", name, err)
			}
		}()
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", admin, err)
	}
	u.Path = "/" + name
	return u.String()
}

// TestOpenRejectsUnknownURL: a typo in PAREDAO_DATABASE_URL is an error that
// callers can tell, never a silent default.
func TestOpenRejectsUnknownURL(t *testing.T) {
	for _, u := range []string{"", "mysql://x", "sqlite:", "sqlite::memory:", "sqlite:a.db?mode=ro", "postgre://x"} {
		t.Run(u, func(t *testing.T) {
			s, err := Open(context.Background(), u)
			if !errors.Is(err, ErrUnsupportedURL) {
				if s != nil {
					closeOK(t, s)
				}
				t.Fatalf("Open(%q) = %v, want ErrUnsupportedURL", u, err)
			}
		})
	}
}

// TestSQLiteMigrationsRecorded: every embedded migration is recorded once,
// however often Migrate runs, and a reopened file keeps its data.
func TestSQLiteMigrationsRecorded(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "paredao.db")
	for range 2 {
		s, err := Open(ctx, "sqlite://"+path)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Apply(ctx, recs(count("p1", "ana", 0, at(0), 3))); err != nil {
			t.Fatal(err)
		}
		if got := total(t, s, "p1"); got != 3 {
			t.Fatalf("total = %d, want 3", got)
		}
		var n, distinct int
		if err := s.(*sqliteStore).read.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&n, &distinct); err != nil {
			t.Fatal(err)
		}
		all, _ := migrations("sqlite")
		if n != len(all) || distinct != len(all) {
			t.Fatalf("schema_migrations has %d rows (%d versions), want %d", n, distinct, len(all))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPostgresConcurrentMigrate: two processes migrating one database at once
// (two replicas starting) both succeed and apply each migration once.
func TestPostgresConcurrentMigrate(t *testing.T) {
	ctx := context.Background()
	dbURL := newPostgresDatabase(t)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		s, err := Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer closeOK(t, s)
		wg.Go(func() { errs[i] = s.Migrate(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent migrate: %v", err)
	}
	s, err := Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer closeOK(t, s)
	var rows int
	if err := s.(*postgresStore).pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	all, _ := migrations("postgres")
	if rows != len(all) {
		t.Fatalf("schema_migrations has %d rows, want %d", rows, len(all))
	}
}

// TestMigrateRefusesNewerSchema: a binary never runs against a schema a newer
// one migrated, whose meaning it does not know.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	s := openSQLiteStore(t)
	if _, err := s.(*sqliteStore).write.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err == nil {
		t.Fatal("Migrate accepted a schema version it does not know")
	}
}

// TestSQLiteSettings: the embedded store runs in WAL mode (reports read while
// a batch is written), waits on a busy database instead of failing, enforces
// foreign keys, syncs every commit (offsets are committed right after), and
// its report connections cannot write.
func TestSQLiteSettings(t *testing.T) {
	ctx := context.Background()
	s := openSQLiteStore(t).(*sqliteStore)
	for _, c := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"busy_timeout", "10000"},
		{"foreign_keys", "1"},
		{"synchronous", "2"}, // FULL
	} {
		for name, db := range map[string]interface {
			QueryRowContext(context.Context, string, ...any) *sql.Row
		}{"writer": s.write, "reader": s.read} {
			var got string
			if err := db.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("%s: PRAGMA %s = %s, want %s", name, c.pragma, got, c.want)
			}
		}
	}
	if s.write.Stats().MaxOpenConnections != 1 {
		t.Errorf("writer pool allows %d connections, want 1", s.write.Stats().MaxOpenConnections)
	}
	if _, err := s.read.ExecContext(ctx, `INSERT INTO paredoes (paredao_id) VALUES ('x')`); err == nil {
		t.Error("a report connection wrote")
	}
	if _, err := s.write.ExecContext(ctx, `INSERT INTO window_counts VALUES ('nobody', 0, 'ana', 0, 1)`); err == nil {
		t.Error("a count row without its paredão was accepted: foreign keys are off")
	}
}
