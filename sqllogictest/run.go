package sqllogictest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultEngine is the engine name skipif/onlyif conditions are evaluated
// against. A PostgreSQL-compatible system identifies as postgresql: the
// SQLite corpus marks its PostgreSQL incompatibilities that way.
const DefaultEngine = "postgresql"

// Options control a run. The zero value is ready to use.
type Options struct {
	// Engine is the name conditions compare with, case-insensitively;
	// "" means DefaultEngine.
	Engine string
	// Simple runs statement and query records over the simple query
	// protocol instead of the extended one.
	Simple bool
	// Verbose writes every failure to Out as it happens.
	Verbose bool
	// Out receives verbose output; nil discards it.
	Out io.Writer
}

// Failure describes one failed record.
type Failure struct {
	File     string // the file holding the record (differs from FileResult.Path under include)
	Line     int
	SQL      string
	Expected string
	Got      string
}

func (f Failure) String() string {
	return fmt.Sprintf("%s:%d: failed\n    %s\n  expected:\n%s\n  got:\n%s\n",
		f.File, f.Line, indent(f.SQL, "    "), indent(f.Expected, "    "), indent(f.Got, "    "))
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// FileResult counts the records of one file. A record is a statement,
// query or simple record; Skipped counts those excluded by skipif/onlyif.
// Records after an executed halt are not counted.
type FileResult struct {
	Path                    string
	Passed, Failed, Skipped int
	Failures                []Failure
}

// Summary is the file's line in the format of postgresql15-baseline.txt.
func (r FileResult) Summary(name string) string {
	return fmt.Sprintf("%s: %d passed, %d failed, %d skipped", name, r.Passed, r.Failed, r.Skipped)
}

// RunFile runs the script at path against the server at url (a postgres://
// URL or DSN pgconn accepts). The caller provides a fresh database per file.
// Failing records are counted, not returned as errors; the error is for a
// script that does not parse, a server that cannot be reached, or ctx
// ending (the result then counts the records run so far, the interrupted
// one as failed).
func RunFile(ctx context.Context, url string, path string, opts Options) (FileResult, error) {
	res := FileResult{Path: path}
	recs, err := ParseFile(path)
	if err != nil {
		return res, err
	}
	if opts.Engine == "" {
		opts.Engine = DefaultEngine
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	r := &runner{
		url:    url,
		opts:   opts,
		conns:  map[string]*pgconn.PgConn{},
		labels: map[string]string{},
		res:    &res,
	}
	if LayoutForPath(path) == ValueWise {
		r.threshold = 8 // DEFAULT_HASH_THRESHOLD of the reference harness
	}
	defer r.close()
	for i := range recs {
		halt, err := r.record(ctx, &recs[i])
		if err != nil {
			return res, err
		}
		if halt {
			break
		}
	}
	return res, nil
}

type runner struct {
	url       string
	opts      Options
	conns     map[string]*pgconn.PgConn
	threshold int
	labels    map[string]string // label -> result hash
	res       *FileResult
}

func (r *runner) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, c := range r.conns {
		c.Close(ctx)
	}
}

// conn returns the named connection, opening it on first use or after the
// server closed it.
func (r *runner) conn(ctx context.Context, name string) (*pgconn.PgConn, error) {
	if c := r.conns[name]; c != nil {
		if !c.IsClosed() {
			return c, nil
		}
		delete(r.conns, name)
	}
	c, err := pgconn.Connect(ctx, r.url)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	r.conns[name] = c
	return c, nil
}

func (r *runner) skipped(rec *Record) bool {
	for _, c := range rec.Conditions {
		eq := strings.EqualFold(c.Engine, r.opts.Engine)
		if c.Only != eq {
			return true
		}
	}
	return false
}

// noteSkipped records the expected hash of a skipped labeled query, so
// that the variant that runs is checked against it.
func (r *runner) noteSkipped(rec *Record) {
	if rec.Kind == KindQuery && rec.Label != "" && rec.Err == nil {
		if _, ok := r.labels[rec.Label]; !ok {
			r.labels[rec.Label] = expectedHash(rec)
		}
	}
}

// record runs one record and reports whether the file halts there.
func (r *runner) record(ctx context.Context, rec *Record) (halt bool, err error) {
	if r.skipped(rec) {
		if rec.Counted() {
			r.res.Skipped++
		}
		r.noteSkipped(rec)
		return false, nil
	}
	switch rec.Kind {
	case KindHalt:
		return true, nil
	case KindHashThreshold:
		r.threshold = rec.Threshold
		return false, nil
	case KindSleep:
		select {
		case <-time.After(rec.Duration):
		case <-ctx.Done():
			return false, ctx.Err()
		}
		return false, nil
	case KindSubtest, KindControl:
		return false, nil
	}

	attempts := 1
	if rec.Retry != nil {
		attempts += rec.Retry.Attempts
	}
	var f *Failure
	for a := 0; a < attempts; a++ {
		if a > 0 {
			select {
			case <-time.After(rec.Retry.Backoff):
			case <-ctx.Done():
			}
		}
		f, err = r.try(ctx, rec)
		if ctxErr := ctx.Err(); ctxErr != nil {
			r.fail(rec, "", "interrupted: "+ctxErr.Error())
			return false, ctxErr
		}
		if err != nil {
			return false, err
		}
		if f == nil {
			break
		}
	}
	if f != nil {
		r.fail(rec, f.Expected, f.Got)
		return false, nil
	}
	r.res.Passed++
	return false, nil
}

func (r *runner) fail(rec *Record, expected, got string) {
	f := Failure{File: rec.File, Line: rec.Line, SQL: rec.SQL, Expected: expected, Got: got}
	r.res.Failed++
	r.res.Failures = append(r.res.Failures, f)
	if r.opts.Verbose {
		fmt.Fprint(r.opts.Out, f.String())
	}
}

// try executes a record once. A nil Failure means it passed; err is
// reserved for not being able to talk to the server at all.
func (r *runner) try(ctx context.Context, rec *Record) (*Failure, error) {
	conn, err := r.conn(ctx, rec.Connection)
	if err != nil {
		return nil, err
	}
	simple := r.opts.Simple || rec.Kind == KindSimple
	results, execErr := execute(ctx, conn, rec.SQL, simple)

	if rec.Kind == KindSimple {
		got := simpleOutput(results, execErr)
		if !equalLines(got, rec.Expected) {
			return &Failure{Expected: strings.Join(rec.Expected, "\n"), Got: strings.Join(got, "\n")}, nil
		}
		return nil, nil
	}

	if rec.Err != nil {
		if execErr == nil {
			return &Failure{Expected: describeExpectedError(rec.Err), Got: "no error"}, nil
		}
		if !matchError(rec.Err, execErr) {
			return &Failure{Expected: describeExpectedError(rec.Err), Got: describeError(execErr)}, nil
		}
		return nil, nil
	}
	if execErr != nil {
		return &Failure{Expected: "success", Got: describeError(execErr)}, nil
	}
	var last stmtResult
	if len(results) > 0 {
		last = results[len(results)-1]
	}

	if rec.Kind == KindStatement {
		if rec.Count >= 0 && last.tag.RowsAffected() != rec.Count {
			return &Failure{
				Expected: fmt.Sprintf("%d rows affected", rec.Count),
				Got:      fmt.Sprintf("%d rows affected (%s)", last.tag.RowsAffected(), last.tag.String()),
			}, nil
		}
		return nil, nil
	}

	return r.checkQuery(rec, last), nil
}

// checkQuery compares a query's result with the record's expectation and
// the label table, and records the result's hash under the label.
func (r *runner) checkQuery(rec *Record, res stmtResult) *Failure {
	if len(res.names) != len(rec.Types) {
		return &Failure{
			Expected: fmt.Sprintf("%d result columns (%s)", len(rec.Types), rec.Types),
			Got:      fmt.Sprintf("%d result columns", len(res.names)),
		}
	}
	out := render(rec, res.names, res.rows)
	n := len(out.values)
	hash := hashValues(out.values)
	got := out.lines
	if r.threshold > 0 && n > r.threshold {
		got = []string{hashLine(n, hash)}
	}
	var fail *Failure
	if en, eh, ok := parseHashLine(rec.Expected); ok {
		if en != n || eh != hash {
			fail = &Failure{Expected: rec.Expected[0], Got: hashLine(n, hash)}
		}
	} else if exp := expectedLines(rec); !equalLines(out.lines, exp) {
		fail = &Failure{Expected: joinLines(exp), Got: joinLines(got)}
	}
	if rec.Label != "" {
		if want, ok := r.labels[rec.Label]; !ok {
			r.labels[rec.Label] = hash
		} else if want != hash && fail == nil {
			fail = &Failure{
				Expected: fmt.Sprintf("result hash %s of label %s", want, rec.Label),
				Got:      hashLine(n, hash),
			}
		}
	}
	return fail
}

// joinLines shows result lines in a failure; an empty result is spelled
// out so that it is not mistaken for a missing one.
func joinLines(lines []string) string {
	if len(lines) == 0 {
		return "(no rows)"
	}
	return strings.Join(lines, "\n")
}

func equalLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// stmtResult is the outcome of one SQL statement.
type stmtResult struct {
	names []string // nil when the statement returns no rows
	rows  [][]Value
	tag   pgconn.CommandTag
}

// execute runs sql with all results in text format. Over the extended
// protocol this is Parse/Bind/Describe/Execute/Sync of the unnamed
// statement (what pgx's QueryExecModeExec sends); over the simple protocol
// sql may hold several statements, and the results of those that
// completed before an error are returned with it.
func execute(ctx context.Context, conn *pgconn.PgConn, sql string, simple bool) ([]stmtResult, error) {
	if !simple {
		res, err := readResult(conn.ExecParams(ctx, sql, nil, nil, nil, nil))
		if err != nil {
			return nil, err
		}
		return []stmtResult{res}, nil
	}
	mrr := conn.Exec(ctx, sql)
	var out []stmtResult
	for mrr.NextResult() {
		res, err := readResult(mrr.ResultReader())
		if err != nil {
			mrr.Close()
			return out, err
		}
		out = append(out, res)
	}
	return out, mrr.Close()
}

func readResult(rr *pgconn.ResultReader) (stmtResult, error) {
	var res stmtResult
	for rr.NextRow() {
		vals := rr.Values()
		row := make([]Value, len(vals))
		for i, v := range vals {
			if v == nil {
				row[i] = Value{Null: true}
			} else {
				row[i] = Value{Text: string(v)}
			}
		}
		res.rows = append(res.rows, row)
	}
	if fds := rr.FieldDescriptions(); fds != nil {
		res.names = make([]string, len(fds))
		for i, fd := range fds {
			res.names[i] = fd.Name
		}
	}
	tag, err := rr.Close()
	res.tag = tag
	return res, err
}

// simpleOutput renders a simple record's results as Materialize does: each
// row as comma-separated values, "COMPLETE n" after each statement, and
// the error, if any, last.
func simpleOutput(results []stmtResult, err error) []string {
	var out []string
	for _, res := range results {
		for _, row := range res.rows {
			vals := make([]string, len(row))
			for i, v := range row {
				if v.Null {
					vals[i] = "NULL"
				} else {
					vals[i] = v.Text
				}
			}
			out = append(out, strings.Join(vals, ","))
		}
		out = append(out, fmt.Sprintf("COMPLETE %d", res.tag.RowsAffected()))
	}
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			out = append(out, "db error: "+pe.Severity+": "+pe.Message)
		} else {
			out = append(out, "error: "+err.Error())
		}
	}
	return out
}

// matchError reports whether err satisfies the expectation. The pattern is
// matched against the server's message and, failing that, against the
// full error text ("ERROR: msg (SQLSTATE x)"), so patterns written for
// either spelling work.
func matchError(e *ExpectedError, err error) bool {
	msg, code := err.Error(), ""
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		msg, code = pe.Message, pe.Code
	}
	if e.Code != "" && e.Code != code {
		return false
	}
	if e.Pattern != nil && !e.Pattern.MatchString(msg) && !e.Pattern.MatchString(err.Error()) {
		return false
	}
	if e.Message != "" && e.Message != strings.TrimSpace(msg) && e.Message != strings.TrimSpace(err.Error()) {
		return false
	}
	return true
}

func describeExpectedError(e *ExpectedError) string {
	var parts []string
	if e.Code != "" {
		parts = append(parts, "SQLSTATE "+e.Code)
	}
	if e.Pattern != nil {
		parts = append(parts, "matching /"+e.Pattern.String()+"/")
	}
	if e.Message != "" {
		parts = append(parts, "message "+e.Message)
	}
	if len(parts) == 0 {
		return "an error"
	}
	return "an error with " + strings.Join(parts, ", ")
}

func describeError(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s: %s (SQLSTATE %s)", pe.Severity, pe.Message, pe.Code)
	}
	return err.Error()
}

// FreshDatabase creates an empty database named name on the server at
// admin (a postgres:// URL) and returns a URL for it and a function that
// drops it. It gives each file its own database when running against a
// long-lived server such as PostgreSQL.
func FreshDatabase(ctx context.Context, admin, name string) (string, func(), error) {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, fmt.Errorf("fresh database needs a postgres:// URL, got %q", admin)
	}
	conn, err := pgconn.Connect(ctx, admin)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(ctx)
	ident := `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)").ReadAll(); err != nil {
		return "", nil, err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident).ReadAll(); err != nil {
		return "", nil, err
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgconn.Connect(ctx, admin); err == nil {
			c.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)").ReadAll()
			c.Close(ctx)
		}
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}
