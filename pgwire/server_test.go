package pgwire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"
)

type testServer struct {
	srv  *Server
	env  *fakeEnv
	addr string
}

// startServer serves the fake session on 127.0.0.1:0 until the test ends.
func startServer(t *testing.T) *testServer {
	t.Helper()
	env := newFakeEnv()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Options{NewSession: env.newSession})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve returned %v after Close, want nil", err)
		}
	})
	return &testServer{srv: srv, env: env, addr: ln.Addr().String()}
}

func testCtx(t *testing.T) context.Context {
	// A guard against a hung test, not a timing assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (ts *testServer) connString() string {
	return fmt.Sprintf("postgres://tributary@%s/postgres?sslmode=disable", ts.addr)
}

func (ts *testServer) connect(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(testCtx(t), ts.connString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func wantCode(t *testing.T, err error, code string) *pgconn.PgError {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("got error %v, want a PgError %s", err, code)
	}
	if pe.Code != code {
		t.Fatalf("got %s %q, want SQLSTATE %s", pe.Code, pe.Message, code)
	}
	return pe
}

func selectOne(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	var v int32
	if err := conn.QueryRow(testCtx(t), "SELECT 1").Scan(&v); err != nil || v != 1 {
		t.Fatalf("SELECT 1: %d, %v", v, err)
	}
}

func TestSimpleQueryTwoStatements(t *testing.T) {
	ts := startServer(t)
	conn := ts.connect(t)
	results, err := conn.PgConn().Exec(testCtx(t), "SELECT 1; gen 3").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 {
		t.Fatalf("got %d results, want 2", len(results))
	}
	if got := results[0].CommandTag.String(); got != "SELECT 1" {
		t.Errorf("tag 0 = %q", got)
	}
	if got := string(results[0].Rows[0][0]); got != "1" {
		t.Errorf("row 0 = %q", got)
	}
	var rows []string
	for _, r := range results[1].Rows {
		rows = append(rows, string(r[0]))
	}
	if got := strings.Join(rows, ","); got != "0,1,2" || results[1].CommandTag.String() != "SELECT 3" {
		t.Errorf("gen 3 = %q %q", got, results[1].CommandTag)
	}
	if f := results[1].FieldDescriptions; len(f) != 1 || f[0].Name != "n" || f[0].DataTypeOID != pgtype.Int8OID || f[0].Format != 0 {
		t.Errorf("fields = %+v", f)
	}
	// Empty query string.
	results, err = conn.PgConn().Exec(testCtx(t), " ; ").ReadAll()
	if err != nil || len(results) != 1 || len(results[0].Rows) != 0 {
		t.Fatalf("empty query: %v %v", results, err)
	}
}

func TestExtendedTextAndBinaryParams(t *testing.T) {
	ts := startServer(t)
	conn := ts.connect(t)
	pg := conn.PgConn()
	ctx := testCtx(t)

	// Text in, text out; OIDs left for the server to infer.
	res := pg.ExecParams(ctx, "params int8 text numeric", [][]byte{[]byte("42"), []byte("hi"), nil}, nil, nil, nil).Read()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if got := fmt.Sprintf("%q", res.Rows[0]); got != `["42" "hi" ""]` || res.Rows[0][2] != nil {
		t.Errorf("text row = %s (NULL=%v)", got, res.Rows[0][2] == nil)
	}

	// Binary in, binary out, one format code for all.
	i8 := binary.BigEndian.AppendUint64(nil, uint64(1<<40+3))
	i4 := binary.BigEndian.AppendUint32(nil, 7)
	res = pg.ExecParams(ctx, "params int8 int4", [][]byte{i8, i4}, []uint32{pgtype.Int8OID, 0}, []int16{1}, []int16{1}).Read()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if string(res.Rows[0][0]) != string(i8) || string(res.Rows[0][1]) != string(i4) {
		t.Errorf("binary row = %x", res.Rows[0])
	}
	if res.FieldDescriptions[0].Format != 1 {
		t.Errorf("format = %d, want 1", res.FieldDescriptions[0].Format)
	}

	// Mixed per-parameter formats: text int8, binary text.
	res = pg.ExecParams(ctx, "params int8 text", [][]byte{[]byte("-5"), []byte("x")}, nil, []int16{0, 1}, []int16{0, 1}).Read()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if string(res.Rows[0][0]) != "-5" || string(res.Rows[0][1]) != "x" {
		t.Errorf("mixed row = %q", res.Rows[0])
	}

	// A malformed text parameter is a statement error, not a closed connection.
	res = pg.ExecParams(ctx, "params int4", [][]byte{[]byte("abc")}, nil, nil, nil).Read()
	wantCode(t, res.Err, "22P02")
	res = pg.ExecParams(ctx, "params int4", [][]byte{{1, 2}}, nil, []int16{1}, nil).Read()
	wantCode(t, res.Err, "22P03")
	selectOne(t, conn)
}

// TestPgxTypes runs every binary-capable type through pgx's own codecs, an
// implementation independent of ours, in both directions.
func TestPgxTypes(t *testing.T) {
	ts := startServer(t)
	conn := ts.connect(t)
	ctx := testCtx(t)

	ts0 := time.Date(1999, 12, 31, 23, 59, 58, 123456000, time.UTC)
	num := pgtype.Numeric{Int: big.NewInt(-1234567), Exp: -3, Valid: true}
	var (
		b     bool
		i2    int16
		i8    int64
		f8    float64
		n     pgtype.Numeric
		s     string
		by    []byte
		d     time.Time
		tstz  time.Time
		iv    pgtype.Interval
		u     pgtype.UUID
		js    map[string]any
		tm    pgtype.Time
		nulls *int64
	)
	uuid := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	err := conn.QueryRow(ctx, "params bool int2 int8 float8 numeric text bytea date timestamptz interval uuid jsonb time int8",
		true, int16(-3), int64(1)<<50, 2.5, num, "héllo", []byte{0, 255}, ts0, ts0,
		pgtype.Interval{Months: 13, Days: -2, Microseconds: 5, Valid: true}, pgtype.UUID{Bytes: uuid, Valid: true},
		map[string]any{"a": 1}, pgtype.Time{Microseconds: 3600e6, Valid: true}, nil,
	).Scan(&b, &i2, &i8, &f8, &n, &s, &by, &d, &tstz, &iv, &u, &js, &tm, &nulls)
	if err != nil {
		t.Fatal(err)
	}
	if !b || i2 != -3 || i8 != 1<<50 || f8 != 2.5 || s != "héllo" || string(by) != "\x00\xff" || nulls != nil {
		t.Errorf("scalars: %v %v %v %v %q %x %v", b, i2, i8, f8, s, by, nulls)
	}
	if n.Int.Cmp(big.NewInt(-1234567)) != 0 || n.Exp != -3 {
		// pgx may normalise the representation; compare values.
		want := new(big.Rat).SetFrac(big.NewInt(-1234567), big.NewInt(1000))
		got := new(big.Rat).SetInt(n.Int)
		if n.Exp < 0 {
			got.Quo(got, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-n.Exp)), nil)))
		} else {
			got.Mul(got, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n.Exp)), nil)))
		}
		if got.Cmp(want) != 0 {
			t.Errorf("numeric = %v e%d", n.Int, n.Exp)
		}
	}
	if !d.Equal(time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC)) || !tstz.Equal(ts0) {
		t.Errorf("date %v timestamptz %v", d, tstz)
	}
	if iv.Months != 13 || iv.Days != -2 || iv.Microseconds != 5 || u.Bytes != uuid || js["a"] != float64(1) || tm.Microseconds != 3600e6 {
		t.Errorf("interval %+v uuid %x json %v time %+v", iv, u.Bytes, js, tm)
	}

	// Every type of the result row, decoded by pgx from binary and from text.
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		rows, err := conn.Query(ctx, "types", mode)
		if err != nil {
			t.Fatal(err)
		}
		vals, err := pgx.CollectExactlyOneRow(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
		if err != nil {
			t.Fatalf("mode %v: %v", mode, err)
		}
		got := fmt.Sprint(vals)
		if mode == pgx.QueryExecModeCacheStatement {
			t.Logf("binary: %s", got)
		}
		if !strings.Contains(got, "héllo") || !strings.Contains(got, "-9007199254740993") || !strings.Contains(got, "4000000000") {
			t.Errorf("mode %v: %s", mode, got)
		}
	}
}

func TestDescribe(t *testing.T) {
	ts := startServer(t)
	conn := ts.connect(t)
	sd, err := conn.PgConn().Prepare(testCtx(t), "s1", "params int8 text", nil)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sd.ParamOIDs) != fmt.Sprint([]uint32{pgtype.Int8OID, pgtype.TextOID}) {
		t.Errorf("param OIDs = %v", sd.ParamOIDs)
	}
	if len(sd.Fields) != 2 || sd.Fields[1].Name != "p2" || sd.Fields[1].DataTypeOID != pgtype.TextOID {
		t.Errorf("fields = %+v", sd.Fields)
	}
	// Declared parameter types win over inference.
	sd, err = conn.PgConn().Prepare(testCtx(t), "s2", "params int8", []uint32{pgtype.Int4OID})
	if err != nil || sd.ParamOIDs[0] != pgtype.Int4OID {
		t.Fatalf("declared type: %v %v", sd, err)
	}
	// A statement without rows describes as NoData.
	sd, err = conn.PgConn().Prepare(testCtx(t), "s3", "notice", nil)
	if err != nil || sd.Fields != nil || len(sd.ParamOIDs) != 0 {
		t.Fatalf("notice: %+v %v", sd, err)
	}
	_, err = conn.PgConn().Prepare(testCtx(t), "s1", "SELECT 1", nil)
	wantCode(t, err, "42P05")
	_, err = conn.PgConn().Prepare(testCtx(t), "", "SELECT 1; SELECT 1", nil)
	pe := wantCode(t, err, "42601")
	if pe.Message != "cannot insert multiple commands into a prepared statement" {
		t.Errorf("message %q", pe.Message)
	}
	selectOne(t, conn)
}

// frontend gives raw protocol access to a pgx connection; the connection
// must be at ReadyForQuery and is usable again after the exchange.
type frontend struct {
	t  *testing.T
	fe *pgproto3.Frontend
}

func (f frontend) flush() {
	f.t.Helper()
	if err := f.fe.Flush(); err != nil {
		f.t.Fatal(err)
	}
}

// expect receives messages and compares their types (and, for a few, their
// contents) with want, written as short strings.
func (f frontend) expect(want ...string) {
	f.t.Helper()
	for _, w := range want {
		msg, err := f.fe.Receive()
		if err != nil {
			f.t.Fatalf("waiting for %s: %v", w, err)
		}
		if got := describeMsg(msg); got != w {
			f.t.Fatalf("got %s, want %s", got, w)
		}
	}
}

func describeMsg(msg pgproto3.BackendMessage) string {
	switch m := msg.(type) {
	case *pgproto3.DataRow:
		return "D" + fmt.Sprintf("%q", m.Values)
	case *pgproto3.CommandComplete:
		return "C " + string(m.CommandTag)
	case *pgproto3.ErrorResponse:
		return "E " + m.Severity + " " + m.Code
	case *pgproto3.ReadyForQuery:
		return "Z" + string(m.TxStatus)
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", msg), "*pgproto3.")
}

func TestPortalSuspended(t *testing.T) {
	ts := startServer(t)
	conn := ts.connect(t)
	f := frontend{t, conn.PgConn().Frontend()}
	f.fe.SendParse(&pgproto3.Parse{Query: "gen 5"})
	f.fe.SendBind(&pgproto3.Bind{})
	f.fe.SendDescribe(&pgproto3.Describe{ObjectType: 'P'})
	f.fe.SendExecute(&pgproto3.Execute{MaxRows: 2})
	f.flush()
	// Flushed at PortalSuspended, before any Sync.
	f.expect("ParseComplete", "BindComplete", "RowDescription", `D["0"]`, `D["1"]`, "PortalSuspended")
	before := ts.env.executes.Load()
	f.fe.SendExecute(&pgproto3.Execute{MaxRows: 2})
	f.fe.SendExecute(&pgproto3.Execute{})
	f.fe.SendSync(&pgproto3.Sync{})
	f.flush()
	f.expect(`D["2"]`, `D["3"]`, "PortalSuspended", `D["4"]`, "C SELECT 1", "ZI")
	if n := ts.env.executes.Load(); n != before {
		t.Errorf("resuming re-executed the statement (%d executions, want %d)", n, before)
	}
	// The portal is gone after Sync outside a transaction block.
	f.fe.SendExecute(&pgproto3.Execute{})
	f.fe.SendSync(&pgproto3.Sync{})
	f.flush()
	f.expect("E ERROR 34000", "ZI")
	selectOne(t, conn)
}

func TestErrorRecovery(t *testing.T) {
	ts := startServer(t)
	conn := ts.connect(t)
	ctx := testCtx(t)

	// Simple protocol: the error skips the rest of the message.
	before := ts.env.executes.Load()
	results, err := conn.PgConn().Exec(ctx, "SELECT 1; error; SELECT 1").ReadAll()
	pe := wantCode(t, err, "22012")
	if pe.Detail != "the detail" || pe.Hint != "the hint" || pe.Position != 3 || pe.Severity != "ERROR" {
		t.Errorf("error fields: %+v", pe)
	}
	if len(results) != 1 || results[0].CommandTag.String() != "SELECT 1" {
		t.Errorf("results before the error: %+v", results)
	}
	if n := ts.env.executes.Load() - before; n != 2 {
		t.Errorf("%d statements executed, want 2", n)
	}
	_, err = conn.PgConn().Exec(ctx, "parse error").ReadAll()
	if pe := wantCode(t, err, "42601"); pe.Position != 7 {
		t.Errorf("position %d", pe.Position)
	}
	selectOne(t, conn)

	// Extended protocol: everything up to Sync is discarded.
	f := frontend{t, conn.PgConn().Frontend()}
	f.fe.SendParse(&pgproto3.Parse{Query: "error"})
	f.fe.SendBind(&pgproto3.Bind{})
	f.fe.SendExecute(&pgproto3.Execute{})
	f.fe.SendParse(&pgproto3.Parse{Name: "after", Query: "SELECT 1"})
	f.fe.SendBind(&pgproto3.Bind{PreparedStatement: "after"})
	f.fe.SendExecute(&pgproto3.Execute{})
	f.fe.SendSync(&pgproto3.Sync{})
	f.flush()
	f.expect("ParseComplete", "BindComplete", "E ERROR 22012", "ZI")
	// "after" was never parsed.
	f.fe.SendBind(&pgproto3.Bind{PreparedStatement: "after"})
	f.fe.SendSync(&pgproto3.Sync{})
	f.flush()
	f.expect("E ERROR 26000", "ZI")

	// A panic is an internal error for that statement only.
	_, err = conn.Exec(ctx, "panic")
	wantCode(t, err, "XX000")
	selectOne(t, conn)
}

func TestCancelRequest(t *testing.T) {
	ts := startServer(t)
	conn := ts.connect(t)
	other := ts.connect(t)
	ctx := testCtx(t)

	done := make(chan error, 1)
	go func() {
		_, err := conn.Exec(ctx, "block")
		done <- err
	}()
	select {
	case <-ts.env.started:
	case <-ctx.Done():
		t.Fatal("statement did not start")
	}
	// The other connection is not blocked by the running statement.
	selectOne(t, other)
	if err := conn.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	wantCode(t, <-done, "57014")
	selectOne(t, conn)
}

func TestCloseWithRunningStatement(t *testing.T) {
	ts := startServer(t)
	conn := ts.connect(t)
	ctx := testCtx(t)
	done := make(chan error, 1)
	go func() {
		_, err := conn.Exec(ctx, "block")
		done <- err
	}()
	<-ts.env.started
	if err := ts.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("statement succeeded across Server.Close")
	}
	if n := ts.env.closed.Load(); n != 1 {
		t.Errorf("%d sessions closed, want 1", n)
	}
}

// dialStartup opens a connection by hand and sends a startup message for
// user; the caller reads the server's answer.
func dialStartup(t *testing.T, addr, user string) (net.Conn, *pgproto3.Frontend) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(30 * time.Second)) // hang guard only
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{"user": user}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	return nc, fe
}

// rawStartup opens a connection by hand and completes startup.
func rawStartup(t *testing.T, addr string) (net.Conn, *pgproto3.Frontend) {
	t.Helper()
	nc, fe := dialStartup(t, addr, "u")
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			return nc, fe
		}
	}
}

// expectFatal reads until the server closes the connection and checks that
// the last message was a FATAL ErrorResponse with code.
func expectFatal(t *testing.T, fe *pgproto3.Frontend, code string) {
	t.Helper()
	var last pgproto3.BackendMessage
	for {
		msg, err := fe.Receive()
		if err != nil {
			if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
				t.Fatalf("want the server to close the connection, got %v", err)
			}
			break
		}
		last = msg
	}
	e, ok := last.(*pgproto3.ErrorResponse)
	if !ok || e.Code != code || e.Severity != "FATAL" {
		t.Fatalf("last message %#v, want FATAL %s", last, code)
	}
}

func TestGarbageStartup(t *testing.T) {
	ts := startServer(t)
	good := ts.connect(t)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"protocol 2.0", binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 8), 2<<16)},
		{"protocol 4.0", binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 8), 4<<16)},
		{"short", binary.BigEndian.AppendUint32(nil, 3)},
		{"unterminated params", append(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 12), 3<<16), "user"...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(30 * time.Second)) // hang guard only
			if _, err := nc.Write(tc.data); err != nil {
				t.Fatal(err)
			}
			expectFatal(t, pgproto3.NewFrontend(nc, nc), "08P01")
			selectOne(t, good)
		})
	}
	// SSL is declined with 'N' and the startup continues in the clear.
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 8), 80877103))
	var b [1]byte
	if _, err := io.ReadFull(nc, b[:]); err != nil || b[0] != 'N' {
		t.Fatalf("SSLRequest answer %q %v", b, err)
	}
	// pgx with sslmode=prefer goes through the same path.
	c2, err := pgx.Connect(testCtx(t), strings.Replace(ts.connString(), "disable", "prefer", 1))
	if err != nil {
		t.Fatal(err)
	}
	selectOne(t, c2)
	c2.Close(context.Background())
}

func TestProtocolViolations(t *testing.T) {
	ts := startServer(t)
	good := ts.connect(t)
	for _, tc := range []struct {
		name string
		send func(nc net.Conn, fe *pgproto3.Frontend)
	}{
		{"length below 4", func(nc net.Conn, _ *pgproto3.Frontend) { nc.Write([]byte{'Q', 0, 0, 0, 3}) }},
		{"length above 1GiB", func(nc net.Conn, _ *pgproto3.Frontend) { nc.Write([]byte{'Q', 0x40, 0, 0, 5}) }},
		{"unknown type", func(nc net.Conn, _ *pgproto3.Frontend) { nc.Write([]byte{'Z', 0, 0, 0, 4}) }},
		{"truncated bind", func(nc net.Conn, _ *pgproto3.Frontend) { nc.Write([]byte{'B', 0, 0, 0, 6, 0, 0}) }},
		{"bind parameter count", func(_ net.Conn, fe *pgproto3.Frontend) {
			fe.SendParse(&pgproto3.Parse{Query: "params int4"})
			fe.SendBind(&pgproto3.Bind{})
			fe.SendSync(&pgproto3.Sync{})
			fe.Flush()
		}},
		{"bind format count", func(_ net.Conn, fe *pgproto3.Frontend) {
			fe.SendParse(&pgproto3.Parse{Query: "params int4 int4 int4"})
			fe.SendBind(&pgproto3.Bind{ParameterFormatCodes: []int16{0, 0}, Parameters: [][]byte{[]byte("1"), []byte("2"), []byte("3")}})
			fe.SendSync(&pgproto3.Sync{})
			fe.Flush()
		}},
		{"result format count", func(_ net.Conn, fe *pgproto3.Frontend) {
			fe.SendParse(&pgproto3.Parse{Query: "SELECT 1"})
			fe.SendBind(&pgproto3.Bind{ResultFormatCodes: []int16{0, 1}})
			fe.SendSync(&pgproto3.Sync{})
			fe.Flush()
		}},
		{"format code 2", func(_ net.Conn, fe *pgproto3.Frontend) {
			fe.SendParse(&pgproto3.Parse{Query: "SELECT 1"})
			fe.SendBind(&pgproto3.Bind{ResultFormatCodes: []int16{2}})
			fe.SendSync(&pgproto3.Sync{})
			fe.Flush()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, fe := rawStartup(t, ts.addr)
			tc.send(nc, fe)
			expectFatal(t, fe, "08P01")
			selectOne(t, good)
		})
	}
}

func TestCopyIn(t *testing.T) {
	ts := startServer(t)
	conn := ts.connect(t)
	ctx := testCtx(t)
	tag, err := conn.PgConn().CopyFrom(ctx, strings.NewReader("a\nb\nc\n"), "copy")
	if err != nil {
		t.Fatal(err)
	}
	if tag.String() != "COPY 3" {
		t.Errorf("tag %q", tag)
	}
	ts.env.mu.Lock()
	if got := strings.Join(ts.env.copied, ","); got != "a,b,c" {
		t.Errorf("copied %q", got)
	}
	ts.env.mu.Unlock()

	// The client aborts: CopyFail.
	_, err = conn.PgConn().CopyFrom(ctx, io.MultiReader(strings.NewReader("x\n"), errReader{}), "copy")
	pe := wantCode(t, err, "57014")
	if !strings.HasPrefix(pe.Message, "COPY from stdin failed: ") {
		t.Errorf("message %q", pe.Message)
	}
	// The handler rejects data.
	_, err = conn.PgConn().CopyFrom(ctx, strings.NewReader("bad\n"), "copy")
	wantCode(t, err, "22P02")
	selectOne(t, conn)

	// COPY inside a multi-statement simple query, then the rest runs.
	f := frontend{t, conn.PgConn().Frontend()}
	f.fe.SendQuery(&pgproto3.Query{String: "copy; SELECT 1"})
	f.flush()
	f.expect("CopyInResponse")
	f.fe.Send(&pgproto3.CopyData{Data: []byte("z\n")})
	f.fe.Send(&pgproto3.CopyDone{})
	f.flush()
	f.expect("C COPY 1", "RowDescription", `D["1"]`, "C SELECT 1", "ZI")

	// And in the extended protocol.
	f.fe.SendParse(&pgproto3.Parse{Query: "copy"})
	f.fe.SendBind(&pgproto3.Bind{})
	f.fe.SendExecute(&pgproto3.Execute{})
	f.fe.Send(&pgproto3.Flush{})
	f.flush()
	f.expect("ParseComplete", "BindComplete", "CopyInResponse")
	// As in PostgreSQL, a Sync during copy-in is ignored; the client sends
	// it after CopyDone or CopyFail.
	f.fe.SendSync(&pgproto3.Sync{})
	f.fe.Send(&pgproto3.CopyFail{Message: "nope"})
	f.fe.SendSync(&pgproto3.Sync{})
	f.flush()
	f.expect("E ERROR 57014", "ZI")
	selectOne(t, conn)
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("client-side failure") }

func TestNoticesAndParameterStatus(t *testing.T) {
	ts := startServer(t)
	cfg, err := pgx.ParseConfig(ts.connString() + "&application_name=app1")
	if err != nil {
		t.Fatal(err)
	}
	notices := make(chan string, 4)
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices <- n.Code + " " + n.Message }
	conn, err := pgx.ConnectConfig(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if got := conn.PgConn().ParameterStatus("application_name"); got != "app1" {
		t.Errorf("application_name at startup = %q", got)
	}
	if pid := conn.PgConn().PID(); pid == 0 {
		t.Error("no BackendKeyData")
	}
	if _, err := conn.Exec(testCtx(t), "notice"); err != nil {
		t.Fatal(err)
	}
	if got := <-notices; got != "00000 hello from fake" {
		t.Errorf("notice %q", got)
	}
	if got := conn.PgConn().ParameterStatus("application_name"); got != "changed" {
		t.Errorf("application_name after SET = %q", got)
	}
	// Transaction status is reported in ReadyForQuery.
	if _, err := conn.Exec(testCtx(t), "begin"); err != nil {
		t.Fatal(err)
	}
	if s := conn.PgConn().TxStatus(); s != 'T' {
		t.Errorf("tx status %c", s)
	}
}

// A 3.2 client (newer minor) is negotiated down to 3.0, as PostgreSQL 17
// does, and _pq_ options are reported as unrecognized.
func TestNegotiateProtocolVersion(t *testing.T) {
	ts := startServer(t)
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second)) // hang guard only
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion32, Parameters: map[string]string{"user": "u", "_pq_.x": "1"}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	msg, err := fe.Receive()
	if err != nil {
		t.Fatal(err)
	}
	npv, ok := msg.(*pgproto3.NegotiateProtocolVersion)
	if !ok || npv.NewestMinorProtocol != 0 || fmt.Sprint(npv.UnrecognizedOptions) != "[_pq_.x]" {
		t.Fatalf("got %#v, want NegotiateProtocolVersion 0 [_pq_.x]", msg)
	}
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if k, ok := msg.(*pgproto3.BackendKeyData); ok && len(k.SecretKey) != 4 {
			t.Errorf("3.0 secret key has %d bytes", len(k.SecretKey))
		}
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			break
		}
	}
}
