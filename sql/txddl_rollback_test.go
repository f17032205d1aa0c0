package sql

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/sql/types"
	"github.com/tributary-db/tributary/storage"
)

// engineDump describes what an engine holds: every object (id, kind,
// name, columns, its indexes with their users, its rows), the schemas and
// the next id, so that two engines can be compared.
func engineDump(t *testing.T, e *Engine) string {
	t.Helper()
	e.mu.RLock()
	defer e.mu.RUnlock()
	c := e.mu.cat
	var ids []dataflow.CollectionID
	for id := range c.ids {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var sb strings.Builder
	fmt.Fprintf(&sb, "next id %d\n", c.nextID)
	var schemas []string
	for name, sc := range c.schemas {
		schemas = append(schemas, fmt.Sprintf("%s=%d", name, sc.oid))
	}
	slices.Sort(schemas)
	fmt.Fprintf(&sb, "schemas %v\n", schemas)
	for _, id := range ids {
		o := c.ids[id]
		fmt.Fprintf(&sb, "%d %s %s.%s cols=%d", o.ID, o.Kind, o.Schema, o.Name, len(o.Columns))
		for _, x := range o.indexes {
			fmt.Fprintf(&sb, " index(%s %v users=%d)", x.name, x.cols, x.users)
		}
		if o.Data != nil {
			var rows []string
			for _, u := range o.Data.Snapshot() {
				rows = append(rows, fmt.Sprintf("%s x%d", renderRows([]types.Row{u.Row})[0], u.Diff))
			}
			slices.Sort(rows)
			fmt.Fprintf(&sb, " rows=%v", rows)
		}
		if o.Seq != nil {
			// Not its current value: a replay resumes after the values
			// reserved in the log (sequence.go), whichever were handed out.
			fmt.Fprintf(&sb, " seq=%+v owned by %q", o.Seq.seqDef, o.Seq.ownedBy)
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

// TestRollbackOfAddedObjects runs random transaction blocks that create
// tables, views, materialized views (whose joins take shared arrangements
// of the tables that existed before), indexes, schemas and sequences,
// write, fail halfway or not, and mostly roll back; some also drop or
// alter what existed, which rolls back by rebuilding from the log. After
// every block the engine must hold exactly what an engine replaying its log
// holds: the same objects under the same ids, the same indexes with the
// same users, the same rows.
func TestRollbackOfAddedObjects(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	log := storage.NewMemLog()
	e, err := NewEngine(EngineOptions{Log: log, TickInterval: -1, MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ts := &testSession{t: t, e: e, s: e.NewSession(SessionOptions{}), ctx: context.Background()}
	ts.mustExec(`CREATE TABLE base1 (id int PRIMARY KEY, k int, v text)`)
	ts.mustExec(`CREATE TABLE base2 (k int PRIMARY KEY, label text)`)
	ts.mustExec(`INSERT INTO base1 SELECT g, g % 7, 'v' || g FROM generate_series(1, 50) g`)
	ts.mustExec(`INSERT INTO base2 SELECT g, 'label ' || g FROM generate_series(0, 6) g`)
	ts.mustExec(`CREATE MATERIALIZED VIEW base_mv AS SELECT d.label, count(*) AS n FROM base1 b JOIN base2 d ON b.k = d.k GROUP BY d.label`)
	ts.mustExec(`CREATE VIEW base_v AS SELECT * FROM base1 WHERE k > 3`)
	ts.mustExec(`CREATE SEQUENCE base_seq`)
	fast, rebuilt := 0, 0
	n := 0
	for round := 0; round < 40; round++ {
		ts.mustExec(`BEGIN`)
		var tables []string
		addsOnly := true
		for k := 1 + rng.IntN(5); k > 0; k-- {
			n++
			var q string
			switch r := rng.IntN(12); {
			case r < 2:
				q = fmt.Sprintf(`CREATE TABLE t%d (id serial PRIMARY KEY, k int, v text UNIQUE)`, n)
				tables = append(tables, fmt.Sprintf("t%d", n))
			case r < 4:
				q = fmt.Sprintf(`CREATE MATERIALIZED VIEW mv%d AS SELECT b.k, count(*) AS n, max(d.label) AS l FROM base1 b JOIN base2 d ON b.k = d.k GROUP BY b.k`, n)
			case r == 4 && len(tables) > 0:
				tb := tables[rng.IntN(len(tables))]
				q = fmt.Sprintf(`CREATE MATERIALIZED VIEW mv%d AS SELECT b.v, x.id FROM %s x JOIN base1 b ON b.k = x.k`, n, tb)
			case r == 5 && len(tables) > 0:
				q = fmt.Sprintf(`CREATE INDEX ON %s (k)`, tables[rng.IntN(len(tables))])
			case r == 6:
				q = fmt.Sprintf(`CREATE SCHEMA s%d; CREATE TABLE s%d.x (a int); CREATE VIEW v%d AS SELECT * FROM base_v`, n, n, n)
			case r == 7:
				q = fmt.Sprintf(`CREATE SEQUENCE seq%d; SELECT nextval('seq%d')`, n, n)
			case r == 8:
				q = fmt.Sprintf(`INSERT INTO base1 VALUES (%d, 3, 'in block')`, 1000+n)
			case r == 9 && len(tables) > 0:
				q = fmt.Sprintf(`INSERT INTO %s (k, v) VALUES (%d, 'w%d')`, tables[rng.IntN(len(tables))], n%7, n)
			case r == 10:
				// Fails after taking shared arrangements of base1 and base2.
				q = fmt.Sprintf(`CREATE MATERIALIZED VIEW bad%d AS SELECT b.k / (d.k - d.k) FROM base1 b JOIN base2 d ON b.k = d.k`, n)
			default:
				if rng.IntN(3) == 0 {
					// Changes what existed: rolled back by a rebuild.
					q = `CREATE INDEX ON base1 (v)`
					addsOnly = false
				} else {
					q = fmt.Sprintf(`CREATE VIEW v%d AS SELECT k FROM base1`, n)
				}
			}
			if _, err := ts.exec(q); err != nil {
				break // the block failed: only ROLLBACK is left
			}
		}
		before := engineDump(t, e)
		if rng.IntN(5) == 0 {
			ts.exec(`COMMIT`)
		} else {
			ts.mustExec(`ROLLBACK`)
			if addsOnly {
				fast++
			} else {
				rebuilt++
			}
		}
		_ = before
		replayed, err := NewEngine(EngineOptions{Log: &readOnlyLog{log}, TickInterval: -1, MaintenanceInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		got, want := engineDump(t, e), engineDump(t, replayed)
		replayed.Close()
		if got != want {
			t.Fatalf("round %d: after the block the engine holds\n%s\nbut its log replays to\n%s", round, got, want)
		}
	}
	t.Logf("%d rollbacks removed what they added, %d rebuilt from the log", fast, rebuilt)
	if fast == 0 {
		t.Fatal("no rollback took the fast path")
	}
}

// readOnlyLog is a log an engine replays but never writes to.
type readOnlyLog struct{ *storage.MemLog }

func (l *readOnlyLog) Close() error { return nil }

// BenchmarkRollbackDDL measures ROLLBACK of a transaction block that
// created a table and a materialized view over a 200k-row table under a
// view (the shape of a failed migration), on the in-memory log: it removes
// what the block added, where it rebuilt the whole engine from the log:
//
//	timeout 900 go test -run XXX -bench RollbackDDL -benchtime 20x ./sql/
func BenchmarkRollbackDDL(b *testing.B) {
	ts := openBenchEngine(b, "")
	ts.mustExec("CREATE TABLE events (id int8 PRIMARY KEY, k int, v int)")
	ts.mustExec("CREATE MATERIALIZED VIEW per_k AS SELECT k, count(*) AS n, sum(v) AS s FROM events GROUP BY k")
	ts.mustExec("INSERT INTO events SELECT g, g % 1000, g % 777 FROM generate_series(1, 200000) AS g")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ts.mustExec("BEGIN")
		ts.mustExec("CREATE TABLE added (id int PRIMARY KEY, k int)")
		ts.mustExec("CREATE MATERIALIZED VIEW added_join AS SELECT a.id, e.v FROM added a JOIN events e ON e.k = a.k")
		b.StartTimer()
		ts.mustExec("ROLLBACK")
	}
}
