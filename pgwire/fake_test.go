package pgwire

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/tributary-db/tributary/sql"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// fakeEnv is shared by every fake session of one test server: it records
// what the sessions saw and lets tests wait for a statement to start.
type fakeEnv struct {
	started  chan string // receives "block" when a blocking statement runs
	executes atomic.Int64
	closed   atomic.Int64

	mu     sync.Mutex
	copied []string
	failed []string
}

func newFakeEnv() *fakeEnv { return &fakeEnv{started: make(chan string, 16)} }

func (e *fakeEnv) newSession(opts sql.SessionOptions) Session {
	return &fakeSession{env: e, opts: opts, texts: make(map[*sql.Statement]string), tx: sql.TxIdle}
}

// fakeSession answers a tiny command language, one statement per
// ';'-separated piece:
//
//	SELECT 1             one int4 row
//	gen N                N int8 rows 0..N-1 (N ≤ 1000)
//	params T1 T2 ...     parameters of the named types, echoed back as one row
//	types                one row with a value of every binary-capable type
//	error                22012 with detail, hint and position
//	block                waits for ctx cancellation, then 57014
//	panic                panics in Execute
//	copy                 COPY FROM STDIN into env.copied, tag "COPY n" (lines)
//	notice               a notice and a parameter change
//	empty                an empty result
//	begin / commit       transaction status T / I
//
// Anything else is a 42601 syntax error at Prepare.
type fakeSession struct {
	env   *fakeEnv
	opts  sql.SessionOptions
	texts map[*sql.Statement]string
	tx    sql.TxStatus
}

func (s *fakeSession) ParameterStatuses() [][2]string {
	return [][2]string{{"server_version", "15.0"}, {"client_encoding", "UTF8"}, {"standard_conforming_strings", "on"}, {"application_name", s.opts.ApplicationName}}
}

func (s *fakeSession) ParseStatements(q string) ([]*sql.Statement, error) {
	if strings.TrimSpace(q) == "parse error" {
		return nil, &pgerror.Error{Code: pgerror.SyntaxError, Message: `syntax error at or near "error"`, Position: 7}
	}
	var out []*sql.Statement
	for _, piece := range strings.Split(q, ";") {
		piece = strings.TrimSpace(piece)
		if piece == "" {
			continue
		}
		st := &sql.Statement{}
		s.texts[st] = piece
		out = append(out, st)
	}
	return out, nil
}

var fakeTypes = []types.Type{
	types.Bool, types.Int2, types.Int4, types.Int8, types.Float4, types.Float8, types.Numeric,
	types.Text, types.Varchar, types.Bytea, types.Date, types.Time, types.Timestamp,
	types.TimestampTZ, types.Interval, types.JSONB, types.UUID, types.Oid,
}

func fakeTypesRow() types.Row {
	num, _, _ := apd.NewFromString("-12345.6789")
	return types.Row{
		types.NewBool(true), types.NewInt(types.Int2, -7), types.NewInt(types.Int4, 123456),
		types.NewInt8(-9007199254740993), types.NewFloat(types.Float4, 1.5), types.NewFloat8(-2.25),
		types.NewNumeric(num), types.NewText("héllo"), types.NewString(types.Varchar, "v"),
		types.NewString(types.Bytea, "\x00\x01\xff"), types.NewDate(-1), types.NewTime(3600e6 + 1),
		types.NewTimestamp(types.Timestamp, 86400e6+5), types.NewTimestamp(types.TimestampTZ, -1),
		types.NewInterval(types.IntervalValue{Months: 14, Days: 3, Micros: 4e6}),
		types.NewString(types.JSONB, `{"a": 1}`),
		types.NewString(types.UUID, "\x12\x34\x56\x78\x9a\xbc\xde\xf0\x12\x34\x56\x78\x9a\xbc\xde\xf0"),
		types.NewInt(types.Oid, 4000000000),
	}
}

func (s *fakeSession) Prepare(ctx context.Context, st *sql.Statement, ptypes []types.Type) (*sql.Prepared, error) {
	text := s.texts[st]
	p := &sql.Prepared{Stmt: st}
	word, rest, _ := strings.Cut(text, " ")
	switch strings.ToLower(word) {
	case "select":
		p.Columns = []sql.Column{{Name: "?column?", Type: types.Int4}}
	case "gen":
		p.Columns = []sql.Column{{Name: "n", Type: types.Int8}}
	case "params":
		for i, name := range strings.Fields(rest) {
			t, ok := types.FromName(name)
			if !ok {
				return nil, pgerror.New(pgerror.UndefinedObject, "type %q does not exist", name)
			}
			if i < len(ptypes) && ptypes[i] != types.Unknown {
				t = ptypes[i]
			}
			p.ParamTypes = append(p.ParamTypes, t)
			p.Columns = append(p.Columns, sql.Column{Name: "p" + strconv.Itoa(i+1), Type: t})
		}
	case "types":
		for _, t := range fakeTypes {
			p.Columns = append(p.Columns, sql.Column{Name: strings.ReplaceAll(t.String(), " ", "_"), Type: t})
		}
	case "error", "block", "panic", "copy", "notice", "empty", "begin", "commit":
	default:
		return nil, &pgerror.Error{Code: pgerror.SyntaxError, Message: "syntax error at or near \"" + word + "\"", Position: 1}
	}
	return p, nil
}

func (s *fakeSession) Execute(ctx context.Context, p *sql.Prepared, params []types.Datum) (*sql.Result, error) {
	s.env.executes.Add(1)
	text := s.texts[p.Stmt]
	word, rest, _ := strings.Cut(text, " ")
	res := &sql.Result{Columns: p.Columns}
	switch strings.ToLower(word) {
	case "select":
		res.Rows = []types.Row{{types.NewInt4(1)}}
		res.Tag = "SELECT 1"
	case "gen":
		n, _ := strconv.Atoi(rest)
		n = max(0, min(n, 1000))
		for i := 0; i < n; i++ {
			res.Rows = append(res.Rows, types.Row{types.NewInt8(int64(i))})
		}
		res.Tag = "SELECT " + strconv.Itoa(n)
	case "params":
		res.Rows = []types.Row{types.Row(params).Copy()}
		res.Tag = "SELECT 1"
	case "types":
		res.Rows = []types.Row{fakeTypesRow()}
		res.Tag = "SELECT 1"
	case "error":
		return nil, &pgerror.Error{Code: pgerror.DivisionByZero, Message: "division by zero", Detail: "the detail", Hint: "the hint", Position: 3}
	case "block":
		s.env.started <- "block"
		<-ctx.Done()
		return nil, pgerror.New(pgerror.QueryCanceled, "canceling statement due to user request")
	case "panic":
		panic("fake session panic")
	case "copy":
		res = &sql.Result{CopyIn: &fakeCopy{env: s.env}}
	case "notice":
		res.Notices = []sql.Notice{{Severity: "NOTICE", Code: "00000", Message: "hello from fake"}}
		res.ParameterStatus = [][2]string{{"application_name", "changed"}}
		res.Tag = "SET"
	case "empty":
		res.Empty = true
	case "begin":
		s.tx = sql.TxActive
		res.Tag = "BEGIN"
	case "commit":
		s.tx = sql.TxIdle
		res.Tag = "COMMIT"
	}
	return res, nil
}

func (s *fakeSession) TxStatus() sql.TxStatus { return s.tx }

func (s *fakeSession) IdleInTransactionTimeout() time.Duration { return 0 }
func (s *fakeSession) Close()                                  { s.env.closed.Add(1) }

type fakeCopy struct {
	env *fakeEnv
	buf strings.Builder
}

func (c *fakeCopy) Columns() int { return 1 }
func (c *fakeCopy) Binary() bool { return false }
func (c *fakeCopy) Data(chunk []byte) error {
	c.buf.Write(chunk)
	if strings.Contains(c.buf.String(), "bad") {
		return pgerror.New(pgerror.InvalidTextRepresentation, "bad row")
	}
	return nil
}
func (c *fakeCopy) Done() (*sql.Result, error) {
	lines := strings.Split(strings.TrimSuffix(c.buf.String(), "\n"), "\n")
	c.env.mu.Lock()
	c.env.copied = append(c.env.copied, lines...)
	c.env.mu.Unlock()
	return &sql.Result{Tag: "COPY " + strconv.Itoa(len(lines))}, nil
}
func (c *fakeCopy) Fail(msg string) {
	c.env.mu.Lock()
	c.env.failed = append(c.env.failed, msg)
	c.env.mu.Unlock()
}
