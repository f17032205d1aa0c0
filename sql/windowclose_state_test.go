package sql

import (
	"context"
	"fmt"
	"testing"

	"github.com/tributary-db/tributary/storage"
)

// discardLog is a log that keeps nothing: the state test measures the
// views' memory, not the log's.
type discardLog struct{ storage.MemLog }

func (*discardLog) Append(context.Context, storage.Batch) error             { return nil }
func (*discardLog) Replay(context.Context, func(storage.Batch) error) error { return nil }
func (*discardLog) Close() error                                            { return nil }
func (*discardLog) Enqueue(storage.Batch) error                             { return nil }
func (*discardLog) WaitDurable(uint64) error                                { return nil }

// TestEmitOnWindowCloseBoundedState feeds millions of events, in big
// batches, through EMIT ON WINDOW CLOSE views and checks that their
// dataflow state stops growing: closed windows are forgotten. The table
// keeps only recent events (a retention DELETE after each batch, whose
// retractions of closed windows the views ignore), so memory stays small.
// Run with -v for the state at each checkpoint (docs/performance.md).
func TestEmitOnWindowCloseBoundedState(t *testing.T) {
	batches, batchSize := 12, 250_000 // 3 million events
	if testing.Short() {
		batches = 3
	}
	e, err := NewEngine(EngineOptions{Log: &discardLog{}, TickInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ts := &testSession{t: t, e: e, s: e.NewSession(SessionOptions{}), ctx: context.Background()}
	ts.mustExec(`CREATE TABLE events (k int, g int8, ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '5 seconds')`)
	views := map[string]string{
		"tumble_eowc": "SELECT window_start, window_end, k, count(*) AS n, sum(g) AS s FROM TUMBLE(events, ts, INTERVAL '1 second') GROUP BY window_start, window_end, k",
	}
	names := sortedKeys(views)
	for _, name := range names {
		ts.mustExec("CREATE MATERIALIZED VIEW " + name + " AS " + views[name] + " EMIT ON WINDOW CLOSE")
	}
	// One event per millisecond of event time, 100 keys.
	state := map[string][]int{}
	for b := 0; b < batches; b++ {
		lo, hi := b*batchSize, (b+1)*batchSize-1
		ts.mustExec(fmt.Sprintf(`INSERT INTO events SELECT (g %% 100)::int, g, TIMESTAMP '2026-01-01' + g * INTERVAL '1 millisecond' FROM generate_series(%d, %d) g`, lo, hi))
		ts.mustExec(fmt.Sprintf(`DELETE FROM events WHERE g < %d`, hi-20_000))
		for _, name := range names {
			o, _ := e.mu.cat.lookup("public", name)
			state[name] = append(state[name], o.Flow.StateRows())
		}
	}
	for _, name := range names {
		s := state[name]
		t.Logf("%s: state rows after each batch of %d events: %v", name, batchSize, s)
		// Bounded: after the first batch, the state never exceeds what one
		// batch's open windows need.
		for i := 1; i < len(s); i++ {
			if s[i] > s[0] {
				t.Fatalf("%s: state grows: %v", name, s)
			}
		}
		o, _ := e.mu.cat.lookup("public", name)
		if o.Flow.LateRows() != 0 {
			t.Fatalf("%s: %d late rows from in-order events", name, o.Flow.LateRows())
		}
	}
	// Every window that closed was emitted once: 1-second windows, 100 keys.
	closed := (batches*batchSize - 1 - 5000) / 1000
	if rows := ts.restoredRows(`SELECT count(*), sum(n), (SELECT count(*) FROM (SELECT DISTINCT window_start, k FROM tumble_eowc) d) FROM tumble_eowc`); rows[0] != fmt.Sprintf("%d | %d | %d", closed*100, closed*1000, closed*100) {
		t.Fatalf("tumble_eowc: %v, want %d windows of 100 keys", rows, closed)
	}

	// SESSION: bursts of 10 s of events (every 100 ms per key) separated by
	// 1 s of silence, gap 500 ms: one session per key and burst. The
	// Session operator forgets closed sessions' rows, so its state stays at
	// the open sessions' rows.
	ts.mustExec(`CREATE TABLE bursts (k int, g int8, ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '2 seconds')`)
	ts.mustExec(`CREATE MATERIALIZED VIEW session_eowc AS SELECT window_start, window_end, k, count(*) AS n FROM SESSION(bursts, ts, INTERVAL '500 milliseconds', k) GROUP BY window_start, window_end, k EMIT ON WINDOW CLOSE`)
	var sess []int
	sessBatches := batches / 3
	for b := 0; b < sessBatches; b++ {
		lo, hi := b*batchSize, (b+1)*batchSize-1
		ts.mustExec(fmt.Sprintf(`INSERT INTO bursts SELECT (g %% 100)::int, g, TIMESTAMP '2026-01-01' + g * INTERVAL '1 millisecond' + (g / 10000) * INTERVAL '1 second' FROM generate_series(%d, %d) g`, lo, hi))
		ts.mustExec(fmt.Sprintf(`DELETE FROM bursts WHERE g < %d`, hi-20_000))
		o, _ := e.mu.cat.lookup("public", "session_eowc")
		sess = append(sess, o.Flow.StateRows())
	}
	t.Logf("session_eowc: state rows after each batch of %d events: %v", batchSize, sess)
	for i := 1; i < len(sess); i++ {
		if sess[i] > 2*sess[0] {
			t.Fatalf("session_eowc: state grows: %v", sess)
		}
	}
	// Every burst but the last (still open) closed: 100 sessions of 100 events.
	bursts := sessBatches * batchSize / 10_000
	if rows := ts.restoredRows(`SELECT count(*), min(n), max(n) FROM session_eowc`); rows[0] != fmt.Sprintf("%d | 100 | 100", (bursts-1)*100) {
		t.Fatalf("session_eowc: %v, want %d sessions of 100 events", rows, (bursts-1)*100)
	}
}
