// Package migrate drives two migration tools, goose and golang-migrate,
// against Tributary servers that pgwire's TestMigrationTools starts (it
// passes their addresses in TRIBUTARY_GOOSE_DSN and TRIBUTARY_MIGRATE_DSN).
// It is a module of its own so that the tools' dependencies stay out of
// Tributary's go.mod.
//
// Each test migrates up (a table with a serial or identity key, an index,
// rows, a materialized view with an index), checks the objects and the data
// through the catalogs, migrates all the way down, checks that everything
// is gone, and migrates up again; concurrent migrators serialize on the
// tools' advisory locks. A goose migration that fails midway leaves the
// database unchanged (TestGooseFailingMigration).
package migrate

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-migrate/migrate/v4"
	migratepg "github.com/golang-migrate/migrate/v4/database/postgres"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	_ "github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations
var migrations embed.FS

func open(t *testing.T, env string) *sql.DB {
	t.Helper()
	dsn := os.Getenv(env)
	if dsn == "" {
		t.Skipf("%s is not set (pgwire's TestMigrationTools runs this test against a Tributary server)", env)
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// rows runs q and returns its rows, each row's columns joined by "|".
func rows(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	r, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer r.Close()
	cols, _ := r.Columns()
	var out []string
	for r.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := r.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = v.String
			if !v.Valid {
				parts[i] = "NULL"
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := r.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

func expect(t *testing.T, db *sql.DB, q string, want ...string) {
	t.Helper()
	got := rows(t, db, q)
	if want == nil {
		want = []string{}
	}
	if got == nil {
		got = []string{}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got  %q\n want %q", q, got, want)
	}
}

// userRelations lists the relations the migrations create, with kinds.
const userRelations = `SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = 'public' AND c.relname IN ('orders', 'orders_pkey', 'orders_region', 'orders_id_seq', 'by_region', 'by_region_region')
	ORDER BY c.relname`

// checkMigrated checks the objects and data of both migrations.
func checkMigrated(t *testing.T, db *sql.DB) {
	t.Helper()
	// orders_id_seq is the sequence of the serial (goose) or identity
	// (golang-migrate) key.
	expect(t, db, userRelations, "by_region|m", "by_region_region|i", "orders|r", "orders_id_seq|S", "orders_pkey|i", "orders_region|i")
	expect(t, db, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'orders' ORDER BY indexname",
		"orders_pkey|CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id)",
		"orders_region|CREATE INDEX orders_region ON public.orders USING btree (region)")
	expect(t, db, "SELECT matviewname FROM pg_matviews", "by_region")
	expect(t, db, "SELECT region, n, total FROM by_region ORDER BY region", "eu|2|15.00", "us|1|7.00")
	expect(t, db, "SELECT id, region FROM orders ORDER BY id", "1|eu", "2|eu", "3|us")
	// The key keeps counting: the table's sequence is live.
	expect(t, db, "INSERT INTO orders (region, amount) VALUES ('us', 1) RETURNING id", "4")
	expect(t, db, "SELECT n, total FROM by_region WHERE region = 'us'", "2|8.00")
	if _, err := db.Exec("DELETE FROM orders WHERE id = 4"); err != nil {
		t.Fatal(err)
	}
}

// checkGone checks that migrating down removed every object.
func checkGone(t *testing.T, db *sql.DB) {
	t.Helper()
	expect(t, db, userRelations)
	expect(t, db, "SELECT count(*) FROM pg_matviews", "0")
}

// noLocksHeld checks that no advisory lock outlived the migration.
func noLocksHeld(t *testing.T, db *sql.DB) {
	t.Helper()
	expect(t, db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", "0")
}

func newGoose(t *testing.T, db *sql.DB) *goose.Provider {
	t.Helper()
	sub, err := fs.Sub(migrations, "migrations/goose")
	if err != nil {
		t.Fatal(err)
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 60))
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGoose(t *testing.T) {
	db := open(t, "TRIBUTARY_GOOSE_DSN")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := newGoose(t, db)
	results, err := p.Up(ctx)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	if len(results) != 2 {
		t.Fatalf("up applied %d migrations, want 2", len(results))
	}
	checkMigrated(t, db)
	expect(t, db, "SELECT version_id, is_applied FROM goose_db_version ORDER BY id", "0|true", "1|true", "2|true")
	if v, err := p.GetDBVersion(ctx); err != nil || v != 2 {
		t.Fatalf("version = %d, %v; want 2", v, err)
	}
	noLocksHeld(t, db)

	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("down: %v", err)
	}
	checkGone(t, db)
	expect(t, db, "SELECT version_id FROM goose_db_version ORDER BY id", "0")
	noLocksHeld(t, db)

	// Up again, from two migrators at once: the session lock lets one
	// apply the migrations and the other find nothing left to do.
	var wg sync.WaitGroup
	applied := make([]int, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := newGoose(t, db).Up(ctx)
			applied[i], errs[i] = len(res), err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent up: %v", err)
		}
	}
	if applied[0]+applied[1] != 2 {
		t.Fatalf("concurrent up applied %v migrations, want 2 in all", applied)
	}
	checkMigrated(t, db)
	expect(t, db, "SELECT version_id FROM goose_db_version ORDER BY id", "0", "1", "2")
	noLocksHeld(t, db)
}

// TestGooseFailingMigration: a migration that fails midway leaves nothing
// behind (goose runs it in a transaction; DDL is transactional as in
// PostgreSQL): no objects, no rows, the tables it dropped are back, and the
// version stays at the last good migration.
func TestGooseFailingMigration(t *testing.T) {
	db := open(t, "TRIBUTARY_GOOSE_DSN")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sub, err := fs.Sub(migrations, "migrations/goose-failing")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithTableName("goose_failing_version"))
	if err != nil {
		t.Fatal(err)
	}
	results, err := p.Up(ctx)
	if err == nil {
		t.Fatalf("up succeeded (%d migrations), want the second to fail", len(results))
	}
	if !strings.Contains(err.Error(), "duplicate key") {
		t.Fatalf("up: %v, want a duplicate key error", err)
	}
	expect(t, db, `SELECT c.relname FROM pg_class c WHERE c.relname IN ('audit', 'audit_entry', 'audit_count', 'audit_id_seq', 'ledger', 'ledger_pkey') ORDER BY 1`,
		"ledger", "ledger_pkey")
	expect(t, db, "SELECT id, note FROM ledger ORDER BY id", "1|opening")
	if v, err := p.GetDBVersion(ctx); err != nil || v != 1 {
		t.Fatalf("version = %d, %v; want 1", v, err)
	}
	// The connection the migration ran on is usable, and the names are free.
	if _, err := db.Exec("CREATE TABLE audit (x int)"); err != nil {
		t.Fatalf("CREATE TABLE audit after the failed migration: %v", err)
	}
	if _, err := db.Exec("DROP TABLE audit"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("down: %v", err)
	}
	expect(t, db, "SELECT count(*) FROM pg_class WHERE relname = 'ledger'", "0")
}

func newMigrate(t *testing.T, db *sql.DB) *migrate.Migrate {
	t.Helper()
	src, err := iofs.New(migrations, "migrations/golang-migrate")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	drv, err := migratepg.WithConnection(context.Background(), conn, &migratepg.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "postgres", drv)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGolangMigrate(t *testing.T) {
	db := open(t, "TRIBUTARY_MIGRATE_DSN")
	m := newMigrate(t, db)
	if err := m.Up(); err != nil {
		t.Fatalf("up: %v", err)
	}
	checkMigrated(t, db)
	expect(t, db, `SELECT version, dirty FROM "public"."schema_migrations"`, "2|false")
	if v, dirty, err := m.Version(); err != nil || v != 2 || dirty {
		t.Fatalf("version = %d, %v, %v; want 2, clean", v, dirty, err)
	}
	noLocksHeld(t, db)

	if err := m.Down(); err != nil {
		t.Fatalf("down: %v", err)
	}
	checkGone(t, db)
	expect(t, db, `SELECT count(*) FROM schema_migrations`, "0")
	if _, _, err := m.Version(); !errors.Is(err, migrate.ErrNilVersion) {
		t.Fatalf("version after down: %v, want none", err)
	}
	noLocksHeld(t, db)

	// Up again, from two migrators at once: pg_advisory_lock makes the
	// second wait, and it then finds nothing to do.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = newMigrate(t, db).Up()
		}()
	}
	wg.Wait()
	noChange := 0
	for _, err := range errs {
		switch {
		case errors.Is(err, migrate.ErrNoChange):
			noChange++
		case err != nil:
			t.Fatalf("concurrent up: %v", err)
		}
	}
	if noChange != 1 {
		t.Fatalf("concurrent up: %v; want one to migrate and one to find no change", errs)
	}
	checkMigrated(t, db)
	expect(t, db, `SELECT version, dirty FROM schema_migrations`, "2|false")
	noLocksHeld(t, db)
}
