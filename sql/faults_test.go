package sql

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/storage"
	"github.com/tributary-db/tributary/storage/faultfs"
)

// TestDiskFull fills the data directory's disk under a running engine:
// every write (INSERT, UPDATE, COMMIT, DDL) fails with 53100 and changes
// nothing, reads (views and AS OF included) keep working, and writes
// resume once space returns; a restart then shows exactly the
// acknowledged writes. The filesystem fails every write with ENOSPC while
// full, which Pebble would treat as fatal: the test passing shows that no
// write reached it.
func TestDiskFull(t *testing.T) {
	fs := faultfs.New(vfs.NewMem())
	open := func() *testSession {
		l, err := storage.OpenPebble("data", &storage.PebbleOptions{FS: fs, DiskCheckInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		e, err := NewEngine(EngineOptions{Log: l, TickInterval: -1, MaintenanceInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		return &testSession{t: t, e: e, s: e.NewSession(SessionOptions{}), ctx: context.Background()}
	}
	ts := open()
	ts.mustExec("CREATE TABLE t (k int PRIMARY KEY, v text)")
	ts.mustExec("CREATE MATERIALIZED VIEW n AS SELECT count(*) AS n, string_agg(v, ',' ORDER BY v) AS vs FROM t")
	ts.mustExec("INSERT INTO t VALUES (1, 'a')")

	fs.Full.Store(true)
	for _, q := range []string{
		"INSERT INTO t VALUES (2, 'b')",
		"UPDATE t SET v = 'changed'",
		"DELETE FROM t",
		"CREATE TABLE u (x int)",
		"CREATE MATERIALIZED VIEW m AS SELECT * FROM t",
		"DROP MATERIALIZED VIEW n",
	} {
		ts.wantError(q, pgerror.DiskFull, "disk of the data directory is full")
	}
	ts.mustExec("BEGIN")
	ts.mustExec("INSERT INTO t VALUES (3, 'c')")
	ts.wantError("COMMIT", pgerror.DiskFull, "full")
	want := map[string]string{
		"SELECT * FROM t":                "1 | a",
		"SELECT * FROM n":                "1 | a",
		"SELECT * FROM n AS OF mz_now()": "1 | a",
	}
	for q, w := range want {
		if got := ts.mustQuery2(q); got != w {
			t.Fatalf("on a full disk, %s: %q, want %q", q, got, w)
		}
	}
	ts.wantError("SELECT * FROM u", pgerror.UndefinedTable, "")

	fs.Full.Store(false)
	ts.mustExec("INSERT INTO t VALUES (2, 'b')")
	ts.mustExec("CREATE TABLE u (x int)")
	if got := ts.mustQuery2("SELECT * FROM n"); got != "2 | a,b" {
		t.Fatalf("after space returned: %q", got)
	}
	ts.e.Close()
	ts = open()
	defer ts.e.Close()
	if got := ts.mustQuery2("SELECT * FROM t"); got != "1 | a; 2 | b" {
		t.Fatalf("after restart: %q", got)
	}
	if got := ts.mustQuery2("SELECT * FROM n"); got != "2 | a,b" {
		t.Fatalf("view after restart: %q", got)
	}
}

// TestCorruptDataDirRefusesToStart damages the files of a closed data
// directory and checks that the server refuses to start, naming the damaged
// key range, instead of starting without the objects or rows it could not
// read: table files always; the WAL of a cleanly closed directory holds
// nothing needed (PebbleLog.Close flushes), so damage there must not lose
// a row. (Damage in the WAL tail of a crashed process looks like the torn
// write a crash leaves; Pebble stops there, as any WAL-based store does.)
func TestCorruptDataDirRefusesToStart(t *testing.T) {
	for _, suffix := range []string{".sst", ".log"} {
		t.Run(suffix, func(t *testing.T) {
			dir := t.TempDir()
			l, err := storage.OpenPebble(dir, &storage.PebbleOptions{MinFreeBytes: -1})
			if err != nil {
				t.Fatal(err)
			}
			e, err := NewEngine(EngineOptions{Log: l, TickInterval: -1, MaintenanceInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			ts := &testSession{t: t, e: e, s: e.NewSession(SessionOptions{}), ctx: context.Background()}
			ts.mustExec("CREATE TABLE t (k int, v text)")
			ts.mustExec("CREATE MATERIALIZED VIEW m AS SELECT count(*) FROM t")
			for i := 0; i < 50; i++ {
				ts.mustExec("INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(1, 20) g")
			}
			if suffix == ".sst" {
				if err := l.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			e.Close()
			files, _ := filepath.Glob(filepath.Join(dir, "*"+suffix))
			damaged := 0
			for _, name := range files {
				b, err := os.ReadFile(name)
				if err != nil || len(b) < 4096 {
					continue
				}
				// A few bytes in the middle of what was written (a WAL is
				// preallocated with zeros), as disk rot does: the records
				// after them are intact, so this is not a torn tail.
				end := len(b)
				for end > 0 && b[end-1] == 0 {
					end--
				}
				for i := end / 4; i < end/4+1; i++ {
					b[i] ^= 0xff
				}
				if err := os.WriteFile(name, b, 0o644); err != nil {
					t.Fatal(err)
				}
				damaged++
			}
			if damaged == 0 {
				t.Fatalf("no %s file to damage in %v", suffix, files)
			}
			l, err = storage.OpenPebble(dir, &storage.PebbleOptions{MinFreeBytes: -1})
			if err == nil {
				e, err = NewEngine(EngineOptions{Log: l, TickInterval: -1, MaintenanceInterval: -1})
				if err == nil {
					// Only a WAL that a clean shutdown left obsolete (the
					// memtables were flushed) may be damaged harmlessly:
					// then every row is still there.
					ts := &testSession{t: t, e: e, s: e.NewSession(SessionOptions{}), ctx: context.Background()}
					got := ts.mustQuery2("SELECT count(*) FROM t")
					e.Close()
					if suffix != ".log" || got != "1000" {
						t.Fatalf("the engine started on a damaged data directory, with %s rows", got)
					}
					return
				}
				l.Close()
			}
			if !strings.Contains(err.Error(), "corrupt") || pgerror.CodeOf(err) != pgerror.DataCorrupted {
				t.Fatalf("starting on a damaged data directory: %v (SQLSTATE %s), want a corruption error", err, pgerror.CodeOf(err))
			}
			t.Log(err)
		})
	}
}

// refusingLog is a MemLog that refuses catalog records while armed, as a
// log may after its space check passed (the disk filled in between).
type refusingLog struct {
	*storage.MemLog
	armed bool
}

func (l *refusingLog) Append(ctx context.Context, b storage.Batch) error {
	if l.armed && b.Catalog != nil {
		return storage.ErrDiskFull
	}
	return l.MemLog.Append(ctx, b)
}

// TestRefusedCatalogRecordLeavesNoTrace: a DDL statement changes the
// catalog before its record is appended; when the append is refused, the
// engine goes back to what the log holds, so the statement fails with the
// log's error and nothing of it is visible, and later statements work.
func TestRefusedCatalogRecordLeavesNoTrace(t *testing.T) {
	l := &refusingLog{MemLog: storage.NewMemLog()}
	e, err := NewEngine(EngineOptions{Log: l, TickInterval: -1, MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ts := &testSession{t: t, e: e, s: e.NewSession(SessionOptions{}), ctx: context.Background()}
	ts.mustExec("CREATE TABLE t (k int PRIMARY KEY)")
	ts.mustExec("CREATE MATERIALIZED VIEW n AS SELECT count(*) AS n FROM t")
	ts.mustExec("INSERT INTO t VALUES (1), (2)")
	l.armed = true
	ts.wantError("CREATE TABLE u (x int)", pgerror.DiskFull, "full")
	ts.wantError("DROP MATERIALIZED VIEW n", pgerror.DiskFull, "full")
	ts.wantError("DROP TABLE t CASCADE", pgerror.DiskFull, "full")
	l.armed = false
	ts.wantError("SELECT * FROM u", pgerror.UndefinedTable, "")
	if got := ts.mustQuery2("SELECT * FROM n"); got != "2" {
		t.Fatalf("view after refused DDL: %q", got)
	}
	ts.mustExec("INSERT INTO t VALUES (3)")
	ts.wantError("INSERT INTO t VALUES (3)", pgerror.UniqueViolation, "")
	if got := ts.mustQuery2("SELECT * FROM n"); got != "3" {
		t.Fatalf("view after a write: %q", got)
	}
	ts.mustExec("CREATE TABLE u (x int)")
}
