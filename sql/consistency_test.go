package sql

import (
	"context"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// exec runs one statement and returns its rows.
func exec(s *Session, q string) ([]types.Row, error) {
	sts, err := s.ParseStatements(q)
	if err != nil {
		return nil, err
	}
	var rows []types.Row
	for _, st := range sts {
		p, err := s.Prepare(context.Background(), st, nil)
		if err != nil {
			return nil, err
		}
		res, err := s.Execute(context.Background(), p, nil)
		if err != nil {
			return nil, err
		}
		rows = res.Rows
	}
	return rows, nil
}

func mustExec(t *testing.T, s *Session, q string) []types.Row {
	t.Helper()
	rows, err := exec(s, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return rows
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
	e, _ := NewEngine(EngineOptions{})
	setup := e.NewSession(SessionOptions{})
	const accounts, initial = 8, 100
	mustExec(t, setup, "CREATE TABLE acct (id int PRIMARY KEY, bal int)")
	for i := 0; i < accounts; i++ {
		mustExec(t, setup, fmt.Sprintf("INSERT INTO acct VALUES (%d, %d)", i, initial))
	}
	mustExec(t, setup, "CREATE MATERIALIZED VIEW total AS SELECT sum(bal) AS s FROM acct")
	mustExec(t, setup, "CREATE MATERIALIZED VIEW balances AS SELECT id, bal FROM acct")
	const want = accounts * initial

	var wg sync.WaitGroup
	committed := make([][accounts]int, 3)
	errs := make(chan error, 16)
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed + int64(w)))
			s := e.NewSession(SessionOptions{})
			for i := 0; i < 150; i++ {
				from, to, amt := rng.Intn(accounts), rng.Intn(accounts), 1+rng.Intn(5)
				if from == to {
					continue
				}
				_, err := exec(s, fmt.Sprintf("BEGIN; UPDATE acct SET bal = bal - %d WHERE id = %d; UPDATE acct SET bal = bal + %d WHERE id = %d; COMMIT", amt, from, amt, to))
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
			s := e.NewSession(SessionOptions{})
			for n := 0; ; n++ {
				select {
				case <-done:
					if n > 0 {
						return
					}
				default:
				}
				rows, err := exec(s, "SELECT (SELECT s FROM total), (SELECT sum(bal) FROM balances), (SELECT sum(bal) FROM acct)")
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
	for _, r := range mustExec(t, setup, "SELECT id, bal FROM balances") {
		if got := int(r[1].Int()); got != expect[r[0].Int()] {
			t.Fatalf("account %d: balance %d, want %d from the committed transfers (lost update?)", r[0].Int(), got, expect[r[0].Int()])
		}
	}
}

// TestReadYourWritesAcrossSessions: once a write is acknowledged on one
// session, a SELECT on any other session sees it.
func TestReadYourWritesAcrossSessions(t *testing.T) {
	e, _ := NewEngine(EngineOptions{})
	w, r := e.NewSession(SessionOptions{}), e.NewSession(SessionOptions{})
	mustExec(t, w, "CREATE TABLE c (n int)")
	mustExec(t, w, "CREATE MATERIALIZED VIEW m AS SELECT max(n) AS n FROM c")
	acked := make(chan int)
	go func() {
		defer close(acked)
		for i := 1; i <= 200; i++ {
			if _, err := exec(w, fmt.Sprintf("INSERT INTO c VALUES (%d)", i)); err != nil {
				return
			}
			acked <- i
		}
	}()
	for i := range acked {
		rows := mustExec(t, r, "SELECT n FROM m")
		if got := rows[0][0].Int(); got < int64(i) {
			t.Fatalf("after insert %d was acknowledged, the view shows %d", i, got)
		}
	}
}
