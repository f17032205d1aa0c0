package sql

import (
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// session opens another session on the test engine (one per goroutine).
func (ts *testSession) session() *testSession {
	return &testSession{t: ts.t, e: ts.e, s: ts.e.NewSession(SessionOptions{}), ctx: ts.ctx}
}

// rows runs q and returns its rows, or the error.
func (ts *testSession) rows(q string) ([]types.Row, error) {
	res, err := ts.exec(q)
	if err != nil {
		return nil, err
	}
	return res.Rows, nil
}

// TestTransfersKeepViewsConsistent runs concurrent transfer transactions
// against concurrent readers. Every transfer keeps the total balance, so
// every read of the total — through two different materialized views and
// the base table, in one statement — must see the same, constant sum: a
// read that saw half a transaction, or two views at different times, would
// not. Conflicting transfers must fail with 40001 rather than lose an
// update, so the final balances equal the sum of the committed transfers.
func TestTransfersKeepViewsConsistent(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	setup := newTestSession(t)
	const accounts, initial = 8, 100
	setup.mustExec("CREATE TABLE acct (id int PRIMARY KEY, bal int)")
	for i := 0; i < accounts; i++ {
		setup.mustExec(fmt.Sprintf("INSERT INTO acct VALUES (%d, %d)", i, initial))
	}
	setup.mustExec("CREATE MATERIALIZED VIEW total AS SELECT sum(bal) AS s FROM acct")
	setup.mustExec("CREATE MATERIALIZED VIEW balances AS SELECT id, bal FROM acct")
	const want = accounts * initial

	var wg sync.WaitGroup
	committed := make([][accounts]int, 3)
	errs := make(chan error, 16)
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed + int64(w)))
			s := setup.session()
			for i := 0; i < 150; i++ {
				from, to, amt := rng.Intn(accounts), rng.Intn(accounts), 1+rng.Intn(5)
				if from == to {
					continue
				}
				_, err := s.exec(fmt.Sprintf("BEGIN; UPDATE acct SET bal = bal - %d WHERE id = %d; UPDATE acct SET bal = bal + %d WHERE id = %d; COMMIT", amt, from, amt, to))
				switch {
				case err == nil:
					committed[w][from] -= amt
					committed[w][to] += amt
				case pgerror.CodeOf(err) == pgerror.TRSerializationFailure:
					// Lost the race to a concurrent transfer: nothing applied.
				default:
					errs <- fmt.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}(w)
	}
	done := make(chan struct{})
	var readers sync.WaitGroup
	for r := 0; r < 2; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			s := setup.session()
			for n := 0; ; n++ {
				select {
				case <-done:
					if n > 0 {
						return
					}
				default:
				}
				rows, err := s.rows("SELECT (SELECT s FROM total), (SELECT sum(bal) FROM balances), (SELECT sum(bal) FROM acct)")
				if err != nil {
					errs <- err
					return
				}
				for i, d := range rows[0] {
					if d.Int() != want {
						errs <- fmt.Errorf("read %d: column %d saw total %d, want %d (row %v)", n, i, d.Int(), want, rows[0])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var expect [accounts]int
	for i := range expect {
		expect[i] = initial
		for w := range committed {
			expect[i] += committed[w][i]
		}
	}
	for _, r := range setup.mustExec("SELECT id, bal FROM balances").Rows {
		if got := int(r[1].Int()); got != expect[r[0].Int()] {
			t.Fatalf("account %d: balance %d, want %d from the committed transfers (lost update?)", r[0].Int(), got, expect[r[0].Int()])
		}
	}
}

// TestReadYourWritesAcrossSessions: once a write is acknowledged on one
// session, a SELECT on any other session sees it.
func TestReadYourWritesAcrossSessions(t *testing.T) {
	w := newTestSession(t)
	r := w.session()
	w.mustExec("CREATE TABLE c (n int)")
	w.mustExec("CREATE MATERIALIZED VIEW m AS SELECT max(n) AS n FROM c")
	acked := make(chan int)
	go func() {
		defer close(acked)
		for i := 1; i <= 200; i++ {
			if _, err := w.exec(fmt.Sprintf("INSERT INTO c VALUES (%d)", i)); err != nil {
				return
			}
			acked <- i
		}
	}()
	for i := range acked {
		rows := r.mustExec("SELECT n FROM m").Rows
		if got := rows[0][0].Int(); got < int64(i) {
			t.Fatalf("after insert %d was acknowledged, the view shows %d", i, got)
		}
	}
}
