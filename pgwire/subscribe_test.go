package pgwire

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/tributary-db/tributary/sql/pgerror"
)

// subscribeCtx bounds every wait for rows that must come.
func subscribeCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// nextRow reads one streamed row as text values.
func nextRow(t *testing.T, rr *pgconn.ResultReader) []string {
	t.Helper()
	if !rr.NextRow() {
		_, err := rr.Close()
		t.Fatalf("the subscription ended: %v", err)
	}
	var out []string
	for _, v := range rr.Values() {
		if v == nil {
			out = append(out, "NULL")
		} else {
			out = append(out, string(v))
		}
	}
	return out
}

func TestSubscribeSimpleProtocolAndCancel(t *testing.T) {
	addr := startEngineServer(t)
	sub, writer := connectEngine(t, addr), connectEngine(t, addr)
	mustExec(t, writer, `CREATE TABLE t (k int, v text)`)
	mustExec(t, writer, `CREATE MATERIALIZED VIEW m AS SELECT k, v FROM t WHERE k > 0`)
	mustExec(t, writer, `INSERT INTO t VALUES (1, 'a')`)
	ctx := subscribeCtx(t)

	mrr := sub.PgConn().Exec(ctx, `SUBSCRIBE m WITH (PROGRESS)`)
	if !mrr.NextResult() {
		t.Fatalf("no result: %v", mrr.Close())
	}
	rr := mrr.ResultReader()
	var names []string
	for _, f := range rr.FieldDescriptions() {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "mz_timestamp,mz_progressed,mz_diff,k,v" {
		t.Fatalf("columns %s", got)
	}
	snap := nextRow(t, rr)
	if strings.Join(snap[1:], "|") != "f|1|1|a" {
		t.Fatalf("snapshot row %v", snap)
	}
	if p := nextRow(t, rr); p[1] != "t" || p[0] <= snap[0] && len(p[0]) == len(snap[0]) {
		t.Fatalf("progress row %v after %v", p, snap)
	}
	// Rows arrive while the statement runs, as another connection writes.
	mustExec(t, writer, `INSERT INTO t VALUES (2, 'b'), (-1, 'x')`)
	if got := nextRow(t, rr); strings.Join(got[1:], "|") != "f|1|2|b" {
		t.Fatalf("change row %v", got)
	}
	if p := nextRow(t, rr); p[1] != "t" {
		t.Fatalf("progress row %v", p)
	}
	// A cancel request ends it with 57014; the connection stays usable.
	if err := sub.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	for rr.NextRow() {
	}
	_, err := rr.Close()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != string(pgerror.QueryCanceled) {
		t.Fatalf("after cancel: %v", err)
	}
	mrr.Close()
	if got := queryText(t, sub, `SELECT count(*) FROM m`); strings.Join(got, ",") != "2" {
		t.Fatalf("after the subscription: %v", got)
	}
}

func TestSubscribeExtendedProtocol(t *testing.T) {
	addr := startEngineServer(t)
	sub, writer := connectEngine(t, addr), connectEngine(t, addr)
	mustExec(t, writer, `CREATE TABLE t (k int)`)
	mustExec(t, writer, `INSERT INTO t VALUES (1)`)
	ctx := subscribeCtx(t)
	rows, err := sub.Query(ctx, `SUBSCRIBE (SELECT k * 10 AS k10 FROM t WHERE k > $1)`, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 2 && rows.Next() {
		var ts, diff, k10 int64
		if err := rows.Scan(&ts, &diff, &k10); err != nil {
			t.Fatal(err)
		}
		got = append(got, strconv.FormatInt(diff, 10)+"|"+strconv.FormatInt(k10, 10))
		if len(got) == 1 {
			mustExec(t, writer, `INSERT INTO t VALUES (2)`)
		}
	}
	if strings.Join(got, ",") != "1|10,1|20" {
		t.Fatalf("rows %v (%v)", got, rows.Err())
	}
	if err := sub.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	var pe *pgconn.PgError
	if !errors.As(rows.Err(), &pe) || pe.Code != string(pgerror.QueryCanceled) {
		t.Fatalf("after cancel: %v", rows.Err())
	}
	if got := queryText(t, sub, `SELECT count(*) FROM t`); strings.Join(got, ",") != "2" {
		t.Fatalf("after the subscription: %v", got)
	}
	// UP TO ends the statement: the rows before it, then CommandComplete
	// once the timeline passes it (here: at the next write).
	rows, err = sub.Query(ctx, `SUBSCRIBE t UP TO mz_now() + INTERVAL '1 millisecond'`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		if n++; n == 2 {
			mustExec(t, writer, `INSERT INTO t VALUES (3)`)
		}
	}
	if rows.Err() != nil || n != 2 || rows.CommandTag().String() != "SUBSCRIBE" {
		t.Fatalf("UP TO: %d rows, %v, %q", n, rows.Err(), rows.CommandTag())
	}
}

// stopAfterWriter receives COPY data; after each line it calls onLine,
// and after n lines it cancels the copy's context.
type stopAfterWriter struct {
	mu     sync.Mutex
	lines  []string
	buf    string
	n      int
	onLine func(i int)
	cancel context.CancelFunc
}

func (w *stopAfterWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf += string(p)
	for {
		line, rest, ok := strings.Cut(w.buf, "\n")
		if !ok {
			break
		}
		w.buf = rest
		w.lines = append(w.lines, line)
		if len(w.lines) == w.n {
			w.cancel()
		} else if w.onLine != nil {
			w.onLine(len(w.lines))
		}
	}
	return len(p), nil
}

func TestCopySubscribeToStdout(t *testing.T) {
	addr := startEngineServer(t)
	sub, writer := connectEngine(t, addr), connectEngine(t, addr)
	mustExec(t, writer, `CREATE TABLE t (k int, v text)`)
	mustExec(t, writer, `INSERT INTO t VALUES (1, 'a b')`)
	ctx, cancel := context.WithCancel(subscribeCtx(t))
	w := &stopAfterWriter{n: 3, cancel: cancel}
	// Each row received makes the next one: another connection writes.
	next := make(chan int, 10)
	w.onLine = func(i int) { next <- i + 1 }
	writes := make(chan error, 1)
	go func() {
		var err error
		for i := range next {
			if _, e := writer.Exec(ctx, `INSERT INTO t VALUES ($1, 'x')`, i); e != nil && err == nil && ctx.Err() == nil {
				err = e
			}
		}
		writes <- err
	}()
	_, err := sub.PgConn().CopyTo(ctx, w, `COPY (SUBSCRIBE t) TO STDOUT`)
	if err == nil {
		t.Fatal("COPY (SUBSCRIBE) ended by itself")
	}
	close(next)
	if err := <-writes; err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.lines) != 3 {
		t.Fatalf("lines %q (%v)", w.lines, err)
	}
	var tail []string
	for _, l := range w.lines {
		f := strings.Split(l, "\t")
		if len(f) != 4 {
			t.Fatalf("line %q", l)
		}
		tail = append(tail, strings.Join(f[1:], "|"))
	}
	if got := strings.Join(tail, ","); got != "1|1|a b,1|2|x,1|3|x" {
		t.Fatalf("rows %s", got)
	}
}

func TestSubscribeCursorOverTheWire(t *testing.T) {
	addr := startEngineServer(t)
	conn := connectEngine(t, addr)
	mustExec(t, conn, `CREATE TABLE t (k int)`)
	mustExec(t, conn, `INSERT INTO t VALUES (1), (2)`)
	mustExec(t, conn, `BEGIN`)
	mustExec(t, conn, `DECLARE c CURSOR FOR SUBSCRIBE t`)
	var got []string
	for _, r := range queryText(t, conn, `FETCH ALL c`) {
		got = append(got, r[strings.Index(r, "|"):])
	}
	if strings.Join(got, ",") != "|1|1,|1|2" {
		t.Fatalf("FETCH ALL: %v", got)
	}
	if rows := queryText(t, conn, `FETCH 5 c WITH (timeout = '10ms')`); len(rows) != 0 {
		t.Fatalf("FETCH with nothing new: %v", rows)
	}
	mustExec(t, conn, `COMMIT`)
}

// TestSubscribeEndsOnTerminate: a client that sends Terminate while a
// SUBSCRIBE streams (with no change coming) gets its connection closed;
// the processor does not wait for a row to notice.
func TestSubscribeEndsOnTerminate(t *testing.T) {
	addr := startEngineServer(t)
	writer := connectEngine(t, addr)
	mustExec(t, writer, `CREATE TABLE t (k int)`)
	mustExec(t, writer, `INSERT INTO t VALUES (1)`)
	_, fe := rawStartup(t, addr)
	fe.Send(&pgproto3.Query{String: `SUBSCRIBE t`})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := msg.(*pgproto3.DataRow); ok {
			break
		}
	}
	fe.Send(&pgproto3.Terminate{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := fe.Receive(); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("want the server to close the connection, got %v", err)
			}
			return
		}
	}
}
