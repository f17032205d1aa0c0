package pgwire

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/tributary-db/tributary/sql"
)

// startEngineServer serves a real engine (not the fake session) on
// 127.0.0.1:0, as `tributary slt` does, and returns its address.
func startEngineServer(t testing.TB) string {
	t.Helper()
	eng, err := sql.NewEngine(sql.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Options{
		NewSession: func(o sql.SessionOptions) Session { return eng.NewSession(o) },
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		<-served
		eng.Close()
	})
	return ln.Addr().String()
}

func connectEngine(t *testing.T, addr string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(testCtx(t), fmt.Sprintf("postgres://tributary@%s/tributary?sslmode=disable", addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(t *testing.T, conn *pgx.Conn, q string) {
	t.Helper()
	if _, err := conn.Exec(testCtx(t), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// queryText runs q in the simple protocol and returns each row as its
// text values joined by "|" (NULL as "NULL").
func queryText(t *testing.T, conn *pgx.Conn, q string) []string {
	t.Helper()
	results, err := conn.PgConn().Exec(testCtx(t), q).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	var out []string
	for _, r := range results {
		for _, row := range r.Rows {
			parts := make([]string, len(row))
			for i, v := range row {
				if v == nil {
					parts[i] = "NULL"
				} else {
					parts[i] = string(v)
				}
			}
			out = append(out, strings.Join(parts, "|"))
		}
	}
	return out
}

func TestCopyTextAndCSVWithPgx(t *testing.T) {
	addr := startEngineServer(t)
	conn := connectEngine(t, addr)
	ctx := testCtx(t)
	mustExec(t, conn, "CREATE TABLE t (id int PRIMARY KEY, name text, score numeric DEFAULT 0)")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS n, sum(score) AS s FROM t")

	tag, err := conn.PgConn().CopyFrom(ctx, strings.NewReader("id,name,score\n1,\"Ann, A.\",1.5\n2,\"multi\nline\",\n3,\"\",2\n"),
		"COPY t FROM STDIN WITH (FORMAT csv, HEADER)")
	if err != nil {
		t.Fatal(err)
	}
	if tag.String() != "COPY 3" {
		t.Fatalf("tag %q", tag)
	}
	tag, err = conn.PgConn().CopyFrom(ctx, strings.NewReader("4\ttab\\there\n5\t\\N\n"), "COPY t (id, name) FROM STDIN")
	if err != nil || tag.String() != "COPY 2" {
		t.Fatalf("text COPY: %v %q", err, tag)
	}
	if got := queryText(t, conn, "SELECT n, s FROM totals"); !slices.Equal(got, []string{"5|3.5"}) {
		t.Fatalf("materialized view after COPY: %q", got)
	}

	var out bytes.Buffer
	tag, err = conn.PgConn().CopyTo(ctx, &out, "COPY t TO STDOUT")
	if err != nil || tag.String() != "COPY 5" {
		t.Fatalf("COPY TO: %v %q", err, tag)
	}
	lines := strings.SplitAfter(out.String(), "\n")
	slices.Sort(lines)
	want := []string{"", "1\tAnn, A.\t1.5\n", "2\tmulti\\nline\t\\N\n", "3\t\t2\n", "4\ttab\\there\t0\n", "5\t\\N\t0\n"}
	if !slices.Equal(lines, want) {
		t.Fatalf("COPY TO text:\ngot  %q\nwant %q", lines, want)
	}
	out.Reset()
	if _, err := conn.PgConn().CopyTo(ctx, &out, "COPY (SELECT id, name FROM t WHERE id <= 3 ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)"); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "id,name\n1,\"Ann, A.\"\n2,\"multi\nline\"\n3,\"\"\n"; got != want {
		t.Fatalf("COPY (query) TO csv:\ngot  %q\nwant %q", got, want)
	}

	// A bad row in the middle: 22P02 naming the line, nothing applied, and
	// the connection goes on.
	_, err = conn.PgConn().CopyFrom(ctx, strings.NewReader("10\ta\t1\n11\tb\t2\n12\tc\tnope\n13\td\t4\n"), "COPY t FROM STDIN")
	pe := wantCode(t, err, "22P02")
	if !strings.Contains(pe.Message, "line 3") {
		t.Fatalf("message %q does not name line 3", pe.Message)
	}
	_, err = conn.PgConn().CopyFrom(ctx, strings.NewReader("20,a,1\n21,b\n"), "COPY t FROM STDIN CSV")
	pe = wantCode(t, err, "22P04")
	if !strings.Contains(pe.Message, "line 2") {
		t.Fatalf("message %q does not name line 2", pe.Message)
	}
	if got := queryText(t, conn, "SELECT n FROM totals"); !slices.Equal(got, []string{"5"}) {
		t.Fatalf("a failed COPY changed the view: %q", got)
	}
}

// TestCopyBinaryWithPgx loads rows with pgx.CopyFrom (binary COPY, encoded
// by pgx's own codecs), then copies them out in binary and back into a second
// table, and compares.
func TestCopyBinaryWithPgx(t *testing.T) {
	addr := startEngineServer(t)
	conn := connectEngine(t, addr)
	ctx := testCtx(t)
	mustExec(t, conn, "CREATE TABLE b (i int8, s text, f float8, n numeric, d date, ts timestamptz, ok bool, j jsonb)")
	mustExec(t, conn, "CREATE TABLE b2 (i int8, s text, f float8, n numeric, d date, ts timestamptz, ok bool, j jsonb)")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW bsum AS SELECT count(*) AS c, sum(i) AS si FROM b")
	when := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	day := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	rows := [][]any{
		{int64(1), "one", 1.5, 12.345, day, when, true, map[string]any{"a": 1.0}},
		{int64(-2), "two\nlines\t\\", -0.25, -0.001, time.Date(1994, 2, 28, 0, 0, 0, 0, time.UTC), time.Date(1984, 5, 13, 7, 8, 9, 123456000, time.UTC), false, []any{"x"}},
		{nil, nil, nil, nil, nil, nil, nil, nil},
	}
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"b"}, []string{"i", "s", "f", "n", "d", "ts", "ok", "j"}, pgx.CopyFromRows(rows))
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("CopyFrom copied %d rows, want 3", n)
	}
	got := queryText(t, conn, "SELECT i, s, f, n, d, ts, ok, j FROM b ORDER BY i")
	want := []string{
		"-2|two\nlines\t\\|-0.25|-0.001|1994-02-28|1984-05-13 07:08:09.123456+00|f|[\"x\"]",
		"1|one|1.5|12.345|2024-02-29|2024-05-06 07:08:09.123456+00|t|{\"a\": 1}",
		"NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("rows after binary COPY:\ngot  %q\nwant %q", got, want)
	}
	if got := queryText(t, conn, "SELECT c, si FROM bsum"); !slices.Equal(got, []string{"3|-1"}) {
		t.Fatalf("materialized view: %q", got)
	}

	var out bytes.Buffer
	if _, err := conn.PgConn().CopyTo(ctx, &out, "COPY b TO STDOUT (FORMAT binary)"); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out.Bytes(), []byte("PGCOPY\n\xff\r\n\x00")) || !bytes.HasSuffix(out.Bytes(), []byte{0xff, 0xff}) {
		t.Fatalf("binary COPY TO framing: % x", out.Bytes())
	}
	// Feed it back in small chunks, so that tuples straddle CopyData messages.
	tag, err := conn.PgConn().CopyFrom(ctx, iotestHalfReader{bytes.NewReader(out.Bytes())}, "COPY b2 FROM STDIN WITH (FORMAT binary)")
	if err != nil || tag.String() != "COPY 3" {
		t.Fatalf("binary COPY FROM: %v %q", err, tag)
	}
	if got2 := queryText(t, conn, "SELECT i, s, f, n, d, ts, ok, j FROM b2 ORDER BY i"); !slices.Equal(got2, got) {
		t.Fatalf("binary round trip:\ngot  %q\nwant %q", got2, got)
	}

	// A truncated binary stream applies nothing.
	_, err = conn.PgConn().CopyFrom(ctx, bytes.NewReader(out.Bytes()[:len(out.Bytes())-7]), "COPY b2 FROM STDIN WITH (FORMAT binary)")
	wantCode(t, err, "22P04")
	if got := queryText(t, conn, "SELECT count(*) FROM b2"); !slices.Equal(got, []string{"3"}) {
		t.Fatalf("truncated binary COPY applied rows: %q", got)
	}

	// Malformed binary streams: 22P04 naming the tuple, nothing applied.
	hdr := "PGCOPY\n\xff\r\n\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x00"
	oneInt := "\x00\x01" + "\x00\x00\x00\x04" + "\x00\x00\x00\x07"
	mustExec(t, conn, "CREATE TABLE bi (a int4)")
	for _, c := range []struct{ data, code, msg string }{
		{"NOTPGCOPY\n\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", "22P04", "signature"},
		{hdr + oneInt + "\x00\x02\x00\x00\x00\x04\x00\x00\x00\x01\xff\xff\xff\xff\xff\xff", "22P04", "line 2: row field count is 2, expected 1"},
		{hdr + oneInt + "\x00\x01\x00\x00\x00\x02\x00\x01\xff\xff", "22P03", "line 2, column a"},
	} {
		_, err := conn.PgConn().CopyFrom(ctx, strings.NewReader(c.data), "COPY bi FROM STDIN (FORMAT binary)")
		pe := wantCode(t, err, c.code)
		if !strings.Contains(pe.Message, c.msg) {
			t.Errorf("message %q does not contain %q", pe.Message, c.msg)
		}
	}
	tag, err = conn.PgConn().CopyFrom(ctx, strings.NewReader(hdr+oneInt+oneInt+"\xff\xff"), "COPY bi FROM STDIN (FORMAT binary)")
	if err != nil || tag.String() != "COPY 2" {
		t.Fatalf("hand-made binary COPY: %v %q", err, tag)
	}
	if got := queryText(t, conn, "SELECT a FROM bi"); !slices.Equal(got, []string{"7", "7"}) {
		t.Fatalf("binary COPY rows: %q", got)
	}
}

// iotestHalfReader returns at most 7 bytes per Read (pgconn sends one
// CopyData per Read).
type iotestHalfReader struct{ r *bytes.Reader }

func (h iotestHalfReader) Read(p []byte) (int, error) { return h.r.Read(p[:min(len(p), 7)]) }

// TestCopyOutProtocol checks the copy-out message flow in both protocols.
func TestCopyOutProtocol(t *testing.T) {
	addr := startEngineServer(t)
	conn := connectEngine(t, addr)
	mustExec(t, conn, "CREATE TABLE t (a int, b text)")
	mustExec(t, conn, "INSERT INTO t VALUES (1, 'x'), (2, NULL)")
	f := frontend{t, conn.PgConn().Frontend()}

	f.fe.SendQuery(&pgproto3.Query{String: "COPY (SELECT * FROM t ORDER BY a) TO STDOUT WITH (FORMAT csv, HEADER); SELECT 1"})
	f.flush()
	f.expectCopyOut("a,b\n", "1,x\n", "2,\n")
	f.expect("C COPY 2", "RowDescription", `D["1"]`, "C SELECT 1", "ZI")

	f.fe.SendParse(&pgproto3.Parse{Query: "COPY t TO STDOUT"})
	f.fe.SendBind(&pgproto3.Bind{})
	f.fe.SendDescribe(&pgproto3.Describe{ObjectType: 'P'})
	f.fe.SendExecute(&pgproto3.Execute{MaxRows: 1})
	f.fe.SendExecute(&pgproto3.Execute{})
	f.fe.SendSync(&pgproto3.Sync{})
	f.flush()
	f.expect("ParseComplete", "BindComplete", "NoData")
	f.expectCopyOut("1\tx\n", "2\t\\N\n")
	f.expect("C COPY 2", "EmptyQueryResponse", "ZI")

	f.fe.SendQuery(&pgproto3.Query{String: "COPY t TO STDOUT (FORMAT binary)"})
	f.flush()
	msg, err := f.fe.Receive()
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := msg.(*pgproto3.CopyOutResponse); !ok || r.OverallFormat != 1 || !slices.Equal(r.ColumnFormatCodes, []uint16{1, 1}) {
		t.Fatalf("got %#v, want a binary CopyOutResponse for 2 columns", msg)
	}
	for {
		msg, err := f.fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := msg.(*pgproto3.CopyDone); ok {
			break
		}
		if _, ok := msg.(*pgproto3.CopyData); !ok {
			t.Fatalf("got %T during copy-out", msg)
		}
	}
	f.expect("C COPY 2", "ZI")
}

// expectCopyOut receives a text CopyOutResponse, then CopyData messages with
// exactly the payloads want, then CopyDone.
func (f frontend) expectCopyOut(want ...string) {
	f.t.Helper()
	f.expect("CopyOutResponse")
	for _, w := range want {
		msg, err := f.fe.Receive()
		if err != nil {
			f.t.Fatal(err)
		}
		d, ok := msg.(*pgproto3.CopyData)
		if !ok || string(d.Data) != w {
			f.t.Fatalf("got %#v, want CopyData %q", msg, w)
		}
	}
	f.expect("CopyDone")
}

// TestPsqlCopy runs psql's \copy (client-side files over COPY FROM STDIN
// and TO STDOUT) against the server.
func TestPsqlCopy(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql is not on PATH; skipping the \\copy test")
	}
	addr := startEngineServer(t)
	host, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	run := func(cmd string) string {
		t.Helper()
		c := exec.CommandContext(testCtx(t), psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", port, "-U", "tributary", "-d", "tributary", "-c", cmd)
		c.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10", "PGSSLMODE=disable")
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("psql -c %q: %v\n%s", cmd, err, out)
		}
		return string(out)
	}
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte("id,name\n1,alpha\n2,\"be,ta\"\n3,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("CREATE TABLE t (id int PRIMARY KEY, name text)")
	run("CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n FROM t")
	run(`\copy t from '` + in + `' csv header`)
	out := filepath.Join(dir, "out.txt")
	run(`\copy t to '` + out + `'`)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	slices.Sort(lines)
	if want := []string{"1\talpha", "2\tbe,ta", "3\t\\N"}; !slices.Equal(lines, want) {
		t.Fatalf("\\copy to: got %q, want %q", lines, want)
	}
	if got := strings.TrimSpace(run("SELECT n FROM mv")); !strings.Contains(got, "3") {
		t.Fatalf("materialized view after \\copy: %q", got)
	}
	// A bad file: psql reports the error, nothing is applied.
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("4,x\nfive,y\n"), 0o644)
	c := exec.CommandContext(testCtx(t), psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", port, "-U", "tributary", "-d", "tributary", "-c", `\copy t from '`+bad+`' csv`)
	c.Env = append(os.Environ(), "PGSSLMODE=disable")
	msg, err := c.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "line 2") {
		t.Fatalf("bad \\copy: err %v, output %s", err, msg)
	}
	if got := run("SELECT count(*) FROM t"); !strings.Contains(got, "3") {
		t.Fatalf("bad \\copy applied rows: %s", got)
	}
}
