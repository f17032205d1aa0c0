package sql

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/storage"
)

// waitFor polls cond until it holds, failing the test after a generous
// deadline (a condition, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestTxDDLRestart: a committed transaction block's DDL and writes are one
// log batch and replay after a restart; a rolled-back one (explicitly,
// after an error, or by a closed connection) leaves nothing in the log.
func TestTxDDLRestart(t *testing.T) {
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec(`CREATE TABLE base (id int PRIMARY KEY, v text)`)
	ts.mustExec(`INSERT INTO base VALUES (1, 'one'), (2, 'two')`)
	ts.mustExec(`CREATE SCHEMA app`)

	// Committed: in another search path, with a serial column, a view over
	// a table created before, data, an index, a drop and a sequence used.
	ts.mustExec(`BEGIN`)
	ts.mustExec(`SET search_path = app, public`)
	ts.mustExec(`CREATE TABLE kept (id serial PRIMARY KEY, note text)`)
	ts.mustExec(`INSERT INTO kept (note) VALUES ('a'), ('b')`)
	ts.mustExec(`INSERT INTO base VALUES (3, 'three')`)
	ts.mustExec(`CREATE INDEX kept_note ON kept (note)`)
	ts.mustExec(`CREATE MATERIALIZED VIEW kept_join AS SELECT k.note, b.v FROM kept k JOIN base b ON b.id = k.id`)
	ts.mustExec(`CREATE TABLE temp_in_tx (x int)`)
	ts.mustExec(`INSERT INTO temp_in_tx VALUES (1)`)
	ts.mustExec(`DROP TABLE temp_in_tx`)
	ts.mustExec(`COMMIT`)
	ts.mustExec(`SET search_path = "$user", public`)

	// Rolled back explicitly.
	ts.mustExec(`BEGIN`)
	ts.mustExec(`CREATE TABLE rolled (x int)`)
	ts.mustExec(`INSERT INTO rolled VALUES (1)`)
	ts.mustExec(`DROP TABLE base CASCADE`)
	ts.mustExec(`ROLLBACK`)
	// Failed midway, then COMMIT (which rolls back).
	ts.mustExec(`BEGIN`)
	ts.mustExec(`CREATE TABLE rolled (x int)`)
	if _, err := ts.exec(`CREATE TABLE rolled (x int)`); errCode(err) != pgerror.DuplicateTable {
		t.Fatalf("duplicate CREATE TABLE: %v", err)
	}
	if res := ts.mustExec(`COMMIT`); res.Tag != "ROLLBACK" {
		t.Fatalf("COMMIT of a failed block answered %s", res.Tag)
	}
	// Left open by a connection that closes.
	other := &testSession{t: t, e: ts.e, s: ts.e.NewSession(SessionOptions{}), ctx: context.Background()}
	other.mustExec(`BEGIN`)
	other.mustExec(`CREATE TABLE rolled (x int)`)
	other.s.Close()

	queries := []string{"SELECT * FROM base", "SELECT * FROM app.kept", "SELECT * FROM app.kept_join",
		"SELECT relname FROM pg_class WHERE relname IN ('kept', 'kept_note', 'kept_join', 'kept_id_seq', 'rolled', 'temp_in_tx')"}
	before := map[string][]string{}
	for _, q := range queries {
		before[q] = ts.restoredRows(q)
	}
	if want := []string{"1 | a", "2 | b"}; !slices.Equal(before["SELECT * FROM app.kept"], want) {
		t.Fatalf("kept before restart: %v, want %v", before["SELECT * FROM app.kept"], want)
	}
	if got := before[queries[3]]; !slices.Equal(got, []string{"kept", "kept_id_seq", "kept_join", "kept_note"}) {
		t.Fatalf("objects before restart: %v", got)
	}
	ts.e.Close()

	// The log: the committed block is one batch with its catalog record and
	// its rows; nothing names the rolled-back objects.
	l, err := storage.OpenPebble(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var txBatches int
	err = l.Replay(context.Background(), func(b storage.Batch) error {
		rec := string(b.Catalog)
		if strings.Contains(rec, "rolled") {
			t.Errorf("the log holds a rolled-back record: %q", rec)
		}
		if strings.Contains(rec, "CREATE TABLE kept") {
			txBatches++
			if len(b.Entries) != 3 { // two rows of kept, one of base (temp_in_tx's went with it)
				t.Errorf("the committed block's batch has %d entries, want 3", len(b.Entries))
			}
			for _, s := range []string{"CREATE INDEX kept_note", "CREATE MATERIALIZED VIEW kept_join", "DROP TABLE temp_in_tx", "SET search_path = app, public"} {
				if !strings.Contains(rec, s) {
					t.Errorf("the committed block's record lacks %q: %q", s, rec)
				}
			}
		}
		return nil
	})
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	if txBatches != 1 {
		t.Fatalf("the committed block is in %d batches, want 1", txBatches)
	}

	ts = openTestEngine(t, dir)
	defer ts.e.Close()
	for _, q := range queries {
		if got := ts.restoredRows(q); !slices.Equal(got, before[q]) {
			t.Errorf("%s after restart:\n%s\nbefore:\n%s", q, strings.Join(got, "\n"), strings.Join(before[q], "\n"))
		}
	}
	// The serial column continues past its logged reservation, the view
	// is maintained.
	ts.mustExec(`INSERT INTO app.kept (note) VALUES ('c')`)
	ts.mustExec(`INSERT INTO base VALUES (4, 'four')`)
	if got := ts.restoredRows(`SELECT id > 2 FROM app.kept WHERE note = 'c'`); !slices.Equal(got, []string{"t"}) {
		t.Errorf("the serial column after restart: %v", got)
	}
	ts.mustExec(`UPDATE app.kept SET id = 4 WHERE note = 'c'`)
	if got := ts.restoredRows(`SELECT * FROM app.kept_join`); !slices.Equal(got, []string{"a | one", "b | two", "c | four"}) {
		t.Errorf("kept_join after restart and writes: %v", got)
	}
}

// TestTxDDLIsolation: other sessions do not see a transaction block's DDL
// before it commits; they wait at the gate, honoring statement_timeout and
// cancel, and go on once the block ends.
func TestTxDDLIsolation(t *testing.T) {
	a := newTestSession(t)
	b := &testSession{t: t, e: a.e, s: a.e.NewSession(SessionOptions{}), ctx: context.Background()}
	a.mustExec(`CREATE TABLE t (x int)`)
	a.mustExec(`INSERT INTO t VALUES (1)`)

	a.mustExec(`BEGIN`)
	a.mustExec(`INSERT INTO t VALUES (2)`)
	b.mustExec(`SELECT * FROM t`) // before a's first DDL, b is not held up
	a.mustExec(`CREATE TABLE fresh (y int)`)
	a.mustExec(`INSERT INTO fresh VALUES (10)`)

	// statement_timeout ends the wait with 57014.
	b.mustExec(`SET statement_timeout = 20`)
	if _, err := b.exec(`SELECT * FROM fresh`); errCode(err) != pgerror.QueryCanceled {
		t.Fatalf("a read during another block's DDL: %v, want 57014", err)
	}
	if _, err := b.exec(`SELECT * FROM t`); errCode(err) != pgerror.QueryCanceled {
		t.Fatalf("a read of another table during another block's DDL: %v, want 57014", err)
	}
	b.mustExec(`SET statement_timeout = 0`) // settings do not wait

	// Cancel ends the wait with 57014.
	ctx, cancel := context.WithCancel(context.Background())
	b.ctx = ctx
	done := make(chan error, 1)
	go func() { _, err := b.exec(`SELECT * FROM t`); done <- err }()
	waitFor(t, "b to wait at the gate", func() bool { return a.e.gate.waiters() == 1 })
	cancel()
	if err := <-done; errCode(err) != pgerror.QueryCanceled {
		t.Fatalf("a canceled wait: %v, want 57014", err)
	}
	b.ctx = context.Background()

	// A waiting read sees the block's work once it commits, all of it.
	rows := make(chan []string, 1)
	go func() {
		r, err := b.query(`SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM fresh)`)
		if err != nil {
			t.Error(err)
		}
		rows <- r
	}()
	waitFor(t, "b to wait at the gate", func() bool { return a.e.gate.waiters() == 1 })
	a.mustExec(`COMMIT`)
	if got := <-rows; !slices.Equal(got, []string{"2 | 1"}) {
		t.Fatalf("after COMMIT b read %v, want [2 | 1]", got)
	}

	// Two blocks creating the same name: the second waits for the first
	// and, after its ROLLBACK, succeeds.
	a.mustExec(`BEGIN`)
	a.mustExec(`CREATE TABLE contested (x int)`)
	b.mustExec(`BEGIN`)
	created := make(chan error, 1)
	go func() { _, err := b.exec(`CREATE TABLE contested (y text)`); created <- err }()
	waitFor(t, "b to wait at the gate", func() bool { return a.e.gate.waiters() == 1 })
	a.mustExec(`ROLLBACK`)
	if err := <-created; err != nil {
		t.Fatalf("CREATE after the other block rolled back: %v", err)
	}
	// Now a waits for b.
	go func() { _, err := a.exec(`SELECT * FROM contested`); created <- err }()
	waitFor(t, "a to wait at the gate", func() bool { return a.e.gate.waiters() == 1 })
	b.mustExec(`INSERT INTO contested VALUES ('b')`)
	b.mustExec(`COMMIT`)
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	if got := a.restoredRows(`SELECT * FROM contested`); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("contested: %v", got)
	}
}

// TestTxDDLConcurrent runs blocks that create, fill, drop and roll back
// alongside autocommit writers and readers (run it with -race). Each
// committed block's table and rows are there at the end, no rolled-back
// one left anything, and a restart agrees.
func TestTxDDLConcurrent(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec(`CREATE TABLE log (w int, i int)`)
	ts.mustExec(`CREATE MATERIALIZED VIEW per_w AS SELECT w, count(*) AS n FROM log GROUP BY w`)
	const workers, rounds = 4, 15
	var wg sync.WaitGroup
	committed := make([][]string, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed + int64(w)))
			s := &testSession{t: t, e: ts.e, s: ts.e.NewSession(SessionOptions{}), ctx: context.Background()}
			defer s.s.Close()
			for r := 0; r < rounds; r++ {
				name := fmt.Sprintf("w%d_r%d", w, r)
				switch rng.Intn(4) {
				case 0: // autocommit write and read
					s.mustExec(fmt.Sprintf(`INSERT INTO log VALUES (%d, %d)`, w, r))
					s.mustExec(`SELECT count(*) FROM log`)
				case 1, 2: // a block that commits or rolls back
					s.mustExec(`BEGIN`)
					s.mustExec(fmt.Sprintf(`INSERT INTO log VALUES (%d, %d)`, w, r))
					s.mustExec(fmt.Sprintf(`CREATE TABLE %s (x int)`, name))
					s.mustExec(fmt.Sprintf(`INSERT INTO %s VALUES (%d)`, name, r))
					if rng.Intn(2) == 0 {
						s.mustExec(`COMMIT`)
						committed[w] = append(committed[w], name)
					} else {
						s.mustExec(`ROLLBACK`)
					}
				case 3: // a block that fails midway
					s.mustExec(`BEGIN`)
					s.mustExec(fmt.Sprintf(`CREATE TABLE %s (x int)`, name))
					if _, err := s.exec(`SELECT 1/0`); errCode(err) != pgerror.DivisionByZero {
						t.Errorf("1/0: %v", err)
					}
					s.mustExec(`ROLLBACK`)
				}
			}
		}(w)
	}
	wg.Wait()
	check := func(when string) {
		var want []string
		for _, c := range committed {
			want = append(want, c...)
		}
		slices.Sort(want)
		got := ts.restoredRows(`SELECT relname FROM pg_class WHERE relname LIKE 'w%\_r%' AND relkind = 'r'`)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: tables %v, want %v", when, got, want)
		}
		for _, name := range want {
			var r int
			fmt.Sscanf(name[strings.Index(name, "_r")+2:], "%d", &r)
			if got := ts.restoredRows("SELECT x FROM " + name); !slices.Equal(got, []string{fmt.Sprint(r)}) {
				t.Fatalf("%s: %s holds %v", when, name, got)
			}
		}
		if got, want := ts.restoredRows(`SELECT * FROM per_w`), ts.restoredRows(`SELECT w, count(*) FROM log GROUP BY w`); !slices.Equal(got, want) {
			t.Fatalf("%s: per_w %v, its definition %v", when, got, want)
		}
	}
	check("at the end")
	ts.e.Close()
	ts = openTestEngine(t, dir)
	defer ts.e.Close()
	check("after restart")
}

// TestTxDDLSubscription: a running SUBSCRIBE sees nothing of a block's
// uncommitted or rolled-back DDL, and goes on after the rollback's rebuild.
func TestTxDDLSubscription(t *testing.T) {
	ts, _ := newSubscribeSession(t, EngineOptions{})
	ts.mustExec(`CREATE TABLE t (x int)`)
	ts.mustExec(`INSERT INTO t VALUES (1)`)
	ts.mustExec(`CREATE MATERIALIZED VIEW n AS SELECT count(*) AS c FROM t`)
	watcher := &testSession{t: t, e: ts.e, s: ts.e.NewSession(SessionOptions{}), ctx: context.Background()}
	sub := watcher.subscribe(`SUBSCRIBE n`)
	strip := func(rows []string) []string {
		for i, r := range rows {
			_, rows[i], _ = strings.Cut(r, " | ")
		}
		slices.Sort(rows)
		return rows
	}
	if got := strip(takeRows(t, sub, 1, 0)); !slices.Equal(got, []string{"1 | 1"}) {
		t.Fatalf("snapshot: %v", got)
	}
	ts.mustExec(`BEGIN`)
	ts.mustExec(`INSERT INTO t VALUES (2)`)
	ts.mustExec(`DROP MATERIALIZED VIEW n`)
	ts.mustExec(`CREATE MATERIALIZED VIEW n AS SELECT 42 AS c`)
	ts.e.Tick() // skipped while the block owns the gate
	ts.mustExec(`ROLLBACK`)
	ts.mustExec(`INSERT INTO t VALUES (3)`)
	if got := strip(takeRows(t, sub, 2, 0)); !slices.Equal(got, []string{"-1 | 1", "1 | 2"}) {
		t.Fatalf("after the rollback and a write: %v", got)
	}
	// A committed DROP ends it.
	ts.mustExec(`BEGIN`)
	ts.mustExec(`DROP MATERIALIZED VIEW n`)
	ts.mustExec(`COMMIT`)
	if _, err := sub.Next(context.Background(), 0, -1); errCode(err) != pgerror.UndefinedTable {
		t.Fatalf("after a committed DROP: %v, want 42P01", err)
	}
}

// TestTxDDLDeadlock: a wait at the DDL gate joins the advisory locks'
// deadlock check, from either side of the cycle (40P01, as PostgreSQL).
func TestTxDDLDeadlock(t *testing.T) {
	a := newTestSession(t)
	b := &testSession{t: t, e: a.e, s: a.e.NewSession(SessionOptions{}), ctx: context.Background()}
	advisoryWaiters := func() int {
		a.e.locks.mu.Lock()
		defer a.e.locks.mu.Unlock()
		return len(a.e.locks.mu.waiting)
	}

	// The owner asks for a lock held by a session waiting at the gate.
	b.mustExec(`SELECT pg_advisory_lock(7)`)
	a.mustExec(`BEGIN`)
	a.mustExec(`CREATE TABLE d1 (x int)`)
	done := make(chan error, 1)
	go func() { _, err := b.exec(`SELECT 1`); done <- err }()
	waitFor(t, "b to wait at the gate", func() bool { return a.e.gate.waiters() == 1 })
	if _, err := a.exec(`SELECT pg_advisory_lock(7)`); errCode(err) != pgerror.TRDeadlockDetected {
		t.Fatalf("the owner's lock wait: %v, want 40P01", err)
	}
	a.mustExec(`ROLLBACK`)
	if err := <-done; err != nil {
		t.Fatalf("b after the owner rolled back: %v", err)
	}

	// A session holding the lock the owner waits for comes to the gate.
	a.mustExec(`BEGIN`)
	a.mustExec(`CREATE TABLE d2 (x int)`)
	go func() { _, err := a.exec(`SELECT pg_advisory_xact_lock(7)`); done <- err }()
	waitFor(t, "a to wait for the advisory lock", func() bool { return advisoryWaiters() == 1 })
	if _, err := b.exec(`SELECT 1`); errCode(err) != pgerror.TRDeadlockDetected {
		t.Fatalf("a wait at the gate closing a cycle: %v, want 40P01", err)
	}
	b.s.Close() // releases b's session lock: a goes on
	if err := <-done; err != nil {
		t.Fatalf("the owner's lock after b left: %v", err)
	}
	a.mustExec(`COMMIT`)
	if got := a.restoredRows(`SELECT count(*) FROM d2`); !slices.Equal(got, []string{"0"}) {
		t.Fatalf("d2: %v", got)
	}
}

// TestTxDDLGateQueue: a block waiting to take the gate holds back
// statements that come after it, so that a steady stream of statements
// cannot keep it out; the earlier statement inside finishes first.
func TestTxDDLGateQueue(t *testing.T) {
	a := newTestSession(t)
	inside := &testSession{t: t, e: a.e, s: a.e.NewSession(SessionOptions{}), ctx: context.Background()}
	later := &testSession{t: t, e: a.e, s: a.e.NewSession(SessionOptions{}), ctx: context.Background()}
	a.mustExec(`CREATE TABLE q (x int)`)
	active := func() int {
		a.e.gate.mu.Lock()
		defer a.e.gate.mu.Unlock()
		return a.e.gate.mu.active
	}
	a.mustExec(`BEGIN`)
	sts, err := a.s.ParseStatements(`CREATE TABLE q2 (x int)`)
	if err != nil {
		t.Fatal(err)
	}
	create, err := a.s.Prepare(a.ctx, sts[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	sts, err = inside.s.ParseStatements(`SELECT count(*) FROM q`)
	if err != nil {
		t.Fatal(err)
	}
	read, err := inside.s.Prepare(inside.ctx, sts[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	// A statement inside the gate, held up on the engine lock.
	a.e.mu.Lock()
	insideDone := make(chan error, 1)
	go func() { _, err := inside.s.Execute(inside.ctx, read, nil); insideDone <- err }()
	waitFor(t, "a statement inside the gate", func() bool { return active() == 1 })
	ownerDone := make(chan error, 1)
	go func() { _, err := a.s.Execute(a.ctx, create, nil); ownerDone <- err }()
	waitFor(t, "the block to wait for the gate", func() bool { return a.e.gate.waiters() == 1 })
	laterDone := make(chan error, 1)
	go func() { _, err := later.exec(`SELECT count(*) FROM q`); laterDone <- err }()
	waitFor(t, "the later statement to queue", func() bool { return a.e.gate.waiters() == 2 })
	a.e.mu.Unlock()
	if err := <-insideDone; err != nil {
		t.Fatal(err)
	}
	if err := <-ownerDone; err != nil {
		t.Fatal(err)
	}
	if !a.e.gate.owned() || a.e.gate.waiters() != 1 {
		t.Fatalf("after the block took the gate: owned %v, waiters %d; want the later statement still waiting", a.e.gate.owned(), a.e.gate.waiters())
	}
	a.mustExec(`COMMIT`)
	if err := <-laterDone; err != nil {
		t.Fatal(err)
	}
}
