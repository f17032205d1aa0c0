package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestDiskFullOnSmallFilesystem runs the real server on a 64 MiB tmpfs and
// fills that filesystem from outside, as another program would:
//
//   - with the reserve (--min-free-disk 16 MiB), once the free space drops
//     below it every write fails with 53100 and changes nothing, reads of
//     tables and views keep answering, and writes resume as soon as the
//     space returns;
//   - without a reserve (--min-free-disk -1), the log's own write fails
//     with ENOSPC, the process exits (a write that failed may be in
//     Pebble's memtable, so serving on would be unsafe), and a restart
//     once space returns has every acknowledged row and no part of the
//     write that failed.
//
// It needs root to mount the tmpfs and skips without it (CI runs as root).
func TestDiskFullOnSmallFilesystem(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	tmp := t.TempDir()
	mnt := filepath.Join(tmp, "fs")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	bin := buildServer(t, tmp)
	dataDir := filepath.Join(mnt, "data")
	filler := filepath.Join(mnt, "filler")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const reserve = 16 << 20
	srv := startServer(ctx, t, bin, dataDir, "--min-free-disk", fmt.Sprint(reserve))
	conn := srv.connect(ctx, t)
	for _, q := range []string{
		"CREATE TABLE t (id int8 PRIMARY KEY, p text)",
		"CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n, sum(id) AS s FROM t",
		// A source writing on its own: it waits while the disk is full
		// and resumes, exactly once, when space returns.
		"CREATE SOURCE ticks FROM LOAD GENERATOR COUNTER WITH (tick_interval = '5ms', batch_size = 3)",
		"CREATE MATERIALIZED VIEW tick_stats AS SELECT count(*) AS n, max(counter) AS m FROM ticks",
	} {
		mustExec(ctx, t, conn, q)
	}
	acked := 0 // rows 0 .. acked-1 are acknowledged
	// insert writes the next batch of n rows and returns the error.
	insert := func(conn *pgx.Conn, n int) error {
		q := fmt.Sprintf("INSERT INTO t SELECT g, 'row ' || g FROM generate_series(%d, %d) AS g", acked, acked+n-1)
		_, err := conn.Exec(ctx, q, pgx.QueryExecModeSimpleProtocol)
		if err == nil {
			acked += n
		}
		return err
	}
	for i := 0; i < 10; i++ {
		if err := insert(conn, 100); err != nil {
			t.Fatal(err)
		}
	}

	// Below the reserve: refused with 53100. The server re-reads the free
	// space at least once a second, so the writes before it notices are
	// acknowledged and must stay.
	fill(t, filler, mnt, reserve/2)
	var err error
	for err == nil {
		err = insert(conn, 10)
	}
	if t.Failed() {
		t.Fatal(srv.stderr)
	}
	wantSQLState(t, err, "53100", srv)
	if _, err := conn.Exec(ctx, "CREATE TABLE u (x int)"); err != nil {
		wantSQLState(t, err, "53100", srv)
	} else {
		t.Fatal("CREATE TABLE on a full disk succeeded")
	}
	checkRows(ctx, t, srv, conn, acked)
	waitSourceStatus(ctx, t, srv, conn, "waiting for disk space")
	full := checkTicks(ctx, t, srv, conn)

	// Space returns: the next write succeeds.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := insert(conn, 10); err != nil {
		t.Fatalf("the first write after space returned: %v", err)
	}
	mustExec(ctx, t, conn, "CREATE TABLE u (x int)")
	checkRows(ctx, t, srv, conn, acked)
	waitSourceStatus(ctx, t, srv, conn, "running")
	for checkTicks(ctx, t, srv, conn) <= full {
		// the source writes again
	}
	conn.Close(ctx)
	srv.stop(t)

	// No reserve: the disk really fills and the process exits.
	srv = startServer(ctx, t, bin, dataDir, "--min-free-disk", "-1")
	conn = srv.connect(ctx, t)
	checkRows(ctx, t, srv, conn, acked)
	fill(t, filler, mnt, 1<<20)
	failedFrom := -1
	for failedFrom < 0 {
		before := acked
		if err := insert(conn, 500); err != nil {
			failedFrom = before
		}
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.cmd.Wait() }()
	select {
	case err := <-exited:
		if err == nil {
			t.Fatalf("the server exited with status 0 after its log write failed:\n%s", srv.stderr)
		}
	case <-ctx.Done():
		srv.cmd.Process.Kill()
		t.Fatalf("the server did not exit after its log write failed:\n%s", srv.stderr)
	}
	if !strings.Contains(srv.stderr.String(), "no space left on device") {
		t.Fatalf("the server's log does not name the full disk:\n%s", srv.stderr)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	srv = startServer(ctx, t, bin, dataDir)
	defer srv.stop(t)
	conn = srv.connect(ctx, t)
	defer conn.Close(ctx)
	// The write that failed is all there or not at all (its batch may
	// have reached the log before the process exited).
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != acked && n != acked+500 {
		t.Fatalf("after the restart t has %d rows; %d were acknowledged and the failed write had 500", n, acked)
	}
	checkRows(ctx, t, srv, conn, n)
	checkTicks(ctx, t, srv, conn)
}

// waitSourceStatus waits until source ticks has status want.
func waitSourceStatus(ctx context.Context, t *testing.T, srv *server, conn *pgx.Conn, want string) {
	t.Helper()
	var got string
	for got != want {
		if err := conn.QueryRow(ctx, "SELECT status FROM tb_catalog.sources WHERE name = 'ticks'").Scan(&got); err != nil {
			t.Fatalf("waiting for the source to be %s (last: %s): %v\n%s", want, got, err, srv.stderr)
		}
	}
}

// checkTicks checks that source ticks holds 1..n once each, in whole
// batches of 3, and that its view agrees (one read), and returns n.
func checkTicks(ctx context.Context, t *testing.T, srv *server, conn *pgx.Conn) int64 {
	t.Helper()
	var n, distinct, hi, vn, vm int64
	err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT counter), coalesce(max(counter), 0),
		(SELECT n FROM tick_stats), (SELECT coalesce(m, 0) FROM tick_stats) FROM ticks`).Scan(&n, &distinct, &hi, &vn, &vm)
	if err != nil {
		t.Fatal(err)
	}
	if n != distinct || hi != n || n%3 != 0 || vn != n || vm != hi {
		t.Fatalf("source ticks: count %d, distinct %d, max %d, its view %d/%d: not 1..n once each in whole batches\n%s", n, distinct, hi, vn, vm, srv.stderr)
	}
	return n
}

// fill allocates a file at path that leaves about leave bytes free on the
// filesystem mounted at mnt.
func fill(t *testing.T, path, mnt string, leave int64) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	size := int64(st.Bavail)*st.Bsize - leave
	if size <= 0 {
		t.Fatalf("only %d bytes free on %s", int64(st.Bavail)*st.Bsize, mnt)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		t.Fatalf("allocating %d bytes: %v", size, err)
	}
}

func mustExec(ctx context.Context, t *testing.T, conn *pgx.Conn, q string) {
	t.Helper()
	if _, err := conn.Exec(ctx, q, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func wantSQLState(t *testing.T, err error, code string, srv *server) {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != code {
		t.Fatalf("got %v, want SQLSTATE %s; server log:\n%s", err, code, srv.stderr)
	}
}

// checkRows checks that t holds rows 0 .. n-1 and that the view agrees.
func checkRows(ctx context.Context, t *testing.T, srv *server, conn *pgx.Conn, n int) {
	t.Helper()
	want := fmt.Sprintf("%d %d", n, n*(n-1)/2)
	if got := srv.rows(ctx, t, conn, "SELECT count(*), sum(id)::int8 FROM t"); len(got) != 1 || got[0] != want {
		t.Fatalf("t: %v, want %s", got, want)
	}
	if got := srv.rows(ctx, t, conn, "SELECT n, s::int8 FROM v"); len(got) != 1 || got[0] != want {
		t.Fatalf("view v: %v, want %s", got, want)
	}
}
