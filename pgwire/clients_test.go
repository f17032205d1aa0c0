package pgwire

import (
	"context"
	stdsql "database/sql"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"
)

// TestPsycopg runs the real psycopg 3 (Debian's python3-psycopg, installed
// by make deps) against an in-process server: parameters, binary results,
// COPY, named cursors, errors. It skips, saying why, where psycopg is
// missing.
func TestPsycopg(t *testing.T) {
	// Debian's python3-psycopg installs for Debian's own interpreter, which
	// another python3 earlier on PATH (pyenv) would not see.
	python, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		if python, err = exec.LookPath("python3"); err != nil {
			t.Skip("python3 is not installed")
		}
	}
	if err := exec.Command(python, "-c", "import psycopg").Run(); err != nil {
		t.Skip("psycopg is not installed (Debian package python3-psycopg)")
	}
	host, port, _ := net.SplitHostPort(startEngineServer(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "testdata/clients/psycopg_check.py",
		"host="+host+" port="+port+" user=tributary dbname=postgres sslmode=disable").CombinedOutput()
	if err != nil {
		t.Fatalf("psycopg: %v\n%s", err, out)
	}
}

// TestNodePostgres runs node-postgres (npm "pg", installed by make deps from
// testdata/clients/node) against an in-process server: named prepared
// statements, parameters, transactions, errors.
func TestNodePostgres(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH")
	}
	if _, err := os.Stat("testdata/clients/node/node_modules/pg"); err != nil {
		t.Skip("node-postgres is not installed (make deps runs npm ci in pgwire/testdata/clients/node)")
	}
	host, port, _ := net.SplitHostPort(startEngineServer(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "testdata/clients/node/check.js", host, port).CombinedOutput()
	if err != nil {
		t.Fatalf("node-postgres: %v\n%s", err, out)
	}
}

// TestLibPQ runs lib/pq through database/sql: prepared statements,
// transactions, NULLs, and an error's SQLSTATE.
func TestLibPQ(t *testing.T) {
	host, port, _ := net.SplitHostPort(startEngineServer(t))
	db, err := stdsql.Open("postgres", "host="+host+" port="+port+" user=tributary dbname=postgres sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, q := range []string{
		"CREATE TABLE kv (k text PRIMARY KEY, v int)",
		"CREATE MATERIALIZED VIEW sums AS SELECT count(*) AS n, sum(v) AS s FROM kv",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	ins, err := db.PrepareContext(ctx, "INSERT INTO kv VALUES ($1, $2)")
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range []string{"a", "b", "c"} {
		if _, err := ins.ExecContext(ctx, k, i+1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ins.ExecContext(ctx, "d", nil); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE kv SET v = v * 10 WHERE k = $1", "a"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var n int
	var s stdsql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT n, s FROM sums").Scan(&n, &s); err != nil {
		t.Fatal(err)
	}
	if n != 4 || !s.Valid || s.Int64 != 15 {
		t.Fatalf("sums = %d, %v; want 4, 15", n, s)
	}
	var v stdsql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT v FROM kv WHERE k = $1", "d").Scan(&v); err != nil || v.Valid {
		t.Fatalf("NULL value: %v, %v", v, err)
	}
	_, err = ins.ExecContext(ctx, "a", 1)
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) || pqErr.Code != "23505" {
		t.Fatalf("duplicate key: %v, want SQLSTATE 23505", err)
	}
}

// TestPgJDBC runs pgjdbc (Debian's libpostgresql-jdbc-java, with the JDK,
// installed by make deps) against an in-process server: batches,
// server-prepared statements, a transaction and DatabaseMetaData.
func TestPgJDBC(t *testing.T) {
	runJDBCCheck(t, "testdata/clients/jdbc/Check.java")
}

// runJDBCCheck runs a pgjdbc check program (a single Java source file,
// run directly as JEP 330 allows, with jvmArgs before it) against an
// in-process server, passing its host and port; it fails the test when the
// program exits non-zero. It skips when the JDK or pgjdbc is missing
// (make deps installs both).
func runJDBCCheck(t *testing.T, source string, jvmArgs ...string) {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("java is not on PATH")
	}
	const jar = "/usr/share/java/postgresql.jar"
	if _, err := os.Stat(jar); err != nil {
		t.Skip("pgjdbc is not installed (Debian package libpostgresql-jdbc-java)")
	}
	host, port, _ := net.SplitHostPort(startEngineServer(t))
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	args := append(append(jvmArgs, "-cp", jar), source, host, port)
	out, err := exec.CommandContext(ctx, java, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("pgjdbc %s: %v\n%s", source, err, out)
	}
}

// TestMigrationTools runs goose and golang-migrate (the Go module in
// testdata/clients/migrate, kept apart so that their dependencies stay out
// of Tributary's go.mod; make deps downloads them) against two in-process
// servers: migrations up, catalog and data checks, all the way down, up
// again from two concurrent migrators serialized by advisory locks.
func TestMigrationTools(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		if goTool, err = exec.LookPath("go"); err != nil {
			t.Skip("the go tool is not available")
		}
	}
	dsn := func(addr string) string {
		host, port, _ := net.SplitHostPort(addr)
		return "host=" + host + " port=" + port + " user=tributary dbname=postgres sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "test", "-count=1", "-v", ".")
	cmd.Dir = "testdata/clients/migrate"
	cmd.Env = append(os.Environ(),
		"TRIBUTARY_GOOSE_DSN="+dsn(startEngineServer(t)),
		"TRIBUTARY_MIGRATE_DSN="+dsn(startEngineServer(t)))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test in %s: %v\n%s", cmd.Dir, err, out)
	}
	for _, want := range []string{"--- PASS: TestGoose (", "--- PASS: TestGooseFailingMigration", "--- PASS: TestGolangMigrate"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("go test in %s did not report %q:\n%s", cmd.Dir, want, out)
		}
	}
}

// TestAdvisoryLockOverTheWire: a session blocked in pg_advisory_lock does
// not hold up others, a cancel request ends its wait with 57014, and the
// lock goes when its holder disconnects.
func TestAdvisoryLockOverTheWire(t *testing.T) {
	addr := startEngineServer(t)
	holder, waiter, other := connectEngine(t, addr), connectEngine(t, addr), connectEngine(t, addr)
	ctx := testCtx(t)
	mustExec(t, holder, "SELECT pg_advisory_lock(42)")
	done := make(chan error, 1)
	go func() {
		_, err := waiter.Exec(ctx, "SELECT pg_advisory_lock(42)")
		done <- err
	}()
	waitForWaiter := func() {
		for {
			var n int
			if err := other.QueryRow(ctx, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 1 {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatal("the waiter never showed in pg_locks")
			case <-time.After(time.Millisecond):
			}
		}
	}
	waitForWaiter()
	mustExec(t, other, "CREATE TABLE t (x int)") // writers are not held up
	if err := waiter.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	wantCode(t, <-done, "57014")

	go func() {
		_, err := waiter.Exec(ctx, "SELECT pg_advisory_lock(42)")
		done <- err
	}()
	waitForWaiter()
	holder.Close(ctx)
	if err := <-done; err != nil {
		t.Fatalf("lock after the holder disconnected: %v", err)
	}
	var holderPID int32
	if err := other.QueryRow(ctx, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = 42 AND granted").Scan(&holderPID); err != nil {
		t.Fatal(err)
	}
	if holderPID != int32(waiter.PgConn().PID()) {
		t.Fatalf("lock held by pid %d, want the waiter's %d", holderPID, waiter.PgConn().PID())
	}
}
