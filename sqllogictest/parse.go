package sqllogictest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Kind says what a Record does.
type Kind int

// Record kinds. Statement, Query and Simple are counted; the others are
// control records.
const (
	KindStatement Kind = iota
	KindQuery
	KindSimple
	KindHashThreshold
	KindHalt
	KindSubtest
	KindSleep
	KindControl
)

// SortMode says how result values are ordered before comparison.
type SortMode int

// Sort modes (FORMAT.md §1.2).
const (
	NoSort SortMode = iota
	RowSort
	ValueSort
)

func (m SortMode) String() string {
	switch m {
	case RowSort:
		return "rowsort"
	case ValueSort:
		return "valuesort"
	}
	return "nosort"
}

// Layout says how expected results are written.
type Layout int

// Result layouts: SQLite's one value per line, or sqllogictest-rs's one row
// per line.
const (
	ValueWise Layout = iota
	RowWise
)

// Condition is a skipif/onlyif prefix line.
type Condition struct {
	Only   bool   // onlyif (else skipif)
	Engine string // compared case-insensitively
}

// ExpectedError is what a "statement error" or "query error" record
// requires of the error. The zero value accepts any error.
type ExpectedError struct {
	Code    string         // SQLSTATE, "" for any
	Pattern *regexp.Regexp // matched against the message, nil for any
	Message string         // exact message (the "----" form), "" for any
}

// Retry is the sqllogictest-rs "retry N backoff D" suffix: a failing record
// is run again up to Attempts more times, Backoff apart.
type Retry struct {
	Attempts int
	Backoff  time.Duration
}

// Record is one parsed unit of a script.
type Record struct {
	Kind       Kind
	File       string // the file the record came from (differs under include)
	Line       int    // 1-based line of the record's header
	Conditions []Condition
	Connection string // "" is the default connection
	SQL        string

	// Statement: Err != nil means the statement must fail; Count >= 0
	// checks RowsAffected.
	Err   *ExpectedError
	Count int64

	// Query.
	Types    string
	Sort     SortMode
	Label    string
	ColNames bool
	Layout   Layout
	// Expected holds the result lines after "----" (also for simple).
	Expected []string
	// HasResults is set when the record had a "----" line.
	HasResults bool

	Retry *Retry

	// Control records.
	Threshold int           // hash-threshold
	Duration  time.Duration // sleep
	Name      string        // subtest name
	Control   []string      // control <args...>
}

// Counted reports whether the record counts as passed, failed or skipped.
func (r *Record) Counted() bool {
	return r.Kind == KindStatement || r.Kind == KindQuery || r.Kind == KindSimple
}

// LayoutForPath is the result layout a file uses by default: value-wise for
// SQLite's .test files, row-wise for everything else.
func LayoutForPath(path string) Layout {
	if strings.HasSuffix(path, ".test") {
		return ValueWise
	}
	return RowWise
}

// ParseFile reads and parses a script, expanding includes.
func ParseFile(path string) ([]Record, error) {
	return parseFile(path, LayoutForPath(path), 0)
}

func parseFile(path string, layout Layout, depth int) ([]Record, error) {
	if depth > 16 {
		return nil, fmt.Errorf("%s: include nested too deeply", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p := &parser{file: path, lines: splitLines(string(b)), layout: layout, depth: depth}
	return p.parse()
}

// Parse parses a script held in memory; includes are resolved relative to
// the directory of file.
func Parse(file, text string) ([]Record, error) {
	p := &parser{file: file, lines: splitLines(text), layout: LayoutForPath(file)}
	return p.parse()
}

// splitLines splits on '\n' and strips one trailing '\r' from each line, as
// the reference harness does.
func splitLines(s string) []string {
	lines := strings.Split(s, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

type parser struct {
	file   string
	lines  []string
	i      int // index of the next unread line
	layout Layout
	// sort is the default sort mode ("control sortmode").
	sort  SortMode
	depth int
	out   []Record
}

func isBlank(l string) bool   { return strings.TrimSpace(l) == "" }
func isComment(l string) bool { return strings.HasPrefix(l, "#") }

func (p *parser) errorf(line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", p.file, line, fmt.Sprintf(format, args...))
}

// next returns the next line of the current record, skipping comment lines;
// ok is false at a blank line (which is not consumed) or at EOF.
func (p *parser) next() (line string, n int, ok bool) {
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if isComment(l) {
			p.i++
			continue
		}
		if isBlank(l) {
			return "", 0, false
		}
		p.i++
		return l, p.i, true
	}
	return "", 0, false
}

func (p *parser) parse() ([]Record, error) {
	for {
		// Skip blank and comment lines between records.
		for p.i < len(p.lines) && (isBlank(p.lines[p.i]) || isComment(p.lines[p.i])) {
			p.i++
		}
		if p.i >= len(p.lines) {
			return p.out, nil
		}
		if err := p.record(); err != nil {
			return nil, err
		}
	}
}

func (p *parser) record() error {
	line, n, _ := p.next()
	rec := Record{File: p.file, Count: -1}
	// Prefix lines: conditions and connection. Only the first two tokens
	// matter, so trailing comments ("skipif mysql # not compatible") pass.
	for {
		f := strings.Fields(line)
		switch f[0] {
		case "skipif", "onlyif":
			if len(f) < 2 {
				return p.errorf(n, "%s needs an engine name", f[0])
			}
			rec.Conditions = append(rec.Conditions, Condition{Only: f[0] == "onlyif", Engine: f[1]})
		case "connection":
			if len(f) < 2 {
				return p.errorf(n, "connection needs a name")
			}
			rec.Connection = f[1]
		default:
			return p.body(&rec, line, n)
		}
		prev := n
		var ok bool
		if line, n, ok = p.next(); !ok {
			return p.errorf(prev, "%s line without a record", f[0])
		}
	}
}

var retryRE = regexp.MustCompile(`\s+retry\s+(\d+)\s+backoff\s+(\S+)\s*$`)

// cutRetry removes a trailing "retry N backoff D" from a header line.
func cutRetry(header string) (string, *Retry, error) {
	m := retryRE.FindStringSubmatchIndex(header)
	if m == nil {
		return header, nil, nil
	}
	attempts, err := strconv.Atoi(header[m[2]:m[3]])
	if err != nil {
		return "", nil, err
	}
	d, err := time.ParseDuration(header[m[4]:m[5]])
	if err != nil {
		return "", nil, fmt.Errorf("bad backoff: %v", err)
	}
	return header[:m[0]], &Retry{Attempts: attempts, Backoff: d}, nil
}

func (p *parser) body(rec *Record, header string, n int) error {
	rec.Line = n
	rec.Layout = p.layout
	header, retry, err := cutRetry(header)
	if err != nil {
		return p.errorf(n, "%v", err)
	}
	rec.Retry = retry
	f := strings.Fields(header)
	switch f[0] {
	case "statement":
		rec.Kind = KindStatement
		if len(f) < 2 {
			return p.errorf(n, "statement needs ok, error or count")
		}
		switch f[1] {
		case "ok", "OK":
			if len(f) > 2 {
				return p.errorf(n, "unexpected %q after statement ok", f[2])
			}
		case "count":
			if len(f) != 3 {
				return p.errorf(n, "statement count needs one number")
			}
			c, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil || c < 0 {
				return p.errorf(n, "bad statement count %q", f[2])
			}
			rec.Count = c
		case "error":
			e, err := parseExpectedError(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(header), "statement")))
			if err != nil {
				return p.errorf(n, "%v", err)
			}
			rec.Err = e
		default:
			return p.errorf(n, "unknown statement kind %q", f[1])
		}
		sawSep, err := p.sql(rec, n)
		if err != nil {
			return err
		}
		if sawSep {
			if rec.Err == nil {
				return p.errorf(n, "---- after a statement that is not statement error")
			}
			rec.Err.Message = p.multiline()
		}
	case "query":
		rec.Kind = KindQuery
		if len(f) < 2 {
			return p.errorf(n, "query needs a type string")
		}
		if f[1] == "error" {
			e, err := parseExpectedError(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(header), "query")))
			if err != nil {
				return p.errorf(n, "%v", err)
			}
			rec.Err = e
			sawSep, err := p.sql(rec, n)
			if err != nil {
				return err
			}
			if sawSep {
				rec.Err.Message = p.multiline()
			}
			break
		}
		rec.Types = f[1]
		rec.Sort = p.sort
		rest := f[2:]
		if len(rest) > 0 {
			if err := p.queryOptions(rec, rest[0], n); err != nil {
				return err
			}
			rest = rest[1:]
		}
		if len(rest) > 0 {
			rec.Label = rest[0]
			rest = rest[1:]
		}
		// The reference harness ignores tokens past the fourth.
		_ = rest
		if err := p.sqlAndResults(rec, n); err != nil {
			return err
		}
	case "simple":
		rec.Kind = KindSimple
		for _, opt := range f[1:] {
			for _, o := range strings.Split(opt, ",") {
				switch {
				case strings.HasPrefix(o, "conn="):
					rec.Connection = strings.TrimPrefix(o, "conn=")
				case o == "":
				default:
					return p.errorf(n, "unknown simple option %q", o)
				}
			}
		}
		if err := p.sqlAndResults(rec, n); err != nil {
			return err
		}
	case "hash-threshold":
		rec.Kind = KindHashThreshold
		if len(f) < 2 {
			return p.errorf(n, "hash-threshold needs a number")
		}
		t, err := strconv.Atoi(f[1])
		if err != nil || t < 0 {
			return p.errorf(n, "bad hash-threshold %q", f[1])
		}
		rec.Threshold = t
	case "halt":
		rec.Kind = KindHalt
	case "subtest":
		rec.Kind = KindSubtest
		if len(f) > 1 {
			rec.Name = f[1]
		}
	case "sleep":
		rec.Kind = KindSleep
		if len(f) != 2 {
			return p.errorf(n, "sleep needs a duration")
		}
		d, err := time.ParseDuration(f[1])
		if err != nil {
			return p.errorf(n, "bad sleep duration: %v", err)
		}
		rec.Duration = d
	case "control":
		rec.Kind = KindControl
		if len(f) != 3 {
			return p.errorf(n, "control needs a name and a value")
		}
		switch f[1] + " " + f[2] {
		case "resultmode valuewise":
			p.layout = ValueWise
		case "resultmode rowwise":
			p.layout = RowWise
		case "sortmode nosort":
			p.sort = NoSort
		case "sortmode rowsort":
			p.sort = RowSort
		case "sortmode valuesort":
			p.sort = ValueSort
		default:
			return p.errorf(n, "unknown control %q", f[1]+" "+f[2])
		}
		rec.Control = f[1:]
	case "include":
		if len(rec.Conditions) > 0 || rec.Connection != "" {
			return p.errorf(n, "include cannot be conditional")
		}
		if len(f) != 2 {
			return p.errorf(n, "include needs one path")
		}
		return p.include(f[1], n)
	default:
		return p.errorf(n, "unknown record type %q", f[0])
	}
	if rec.Kind != KindStatement && rec.Kind != KindQuery && rec.Kind != KindSimple {
		// The rest of a control record's block, if any, is an error: the
		// reference harness would misread it as the next record.
		if l, ln, ok := p.next(); ok {
			return p.errorf(ln, "unexpected line %q after %s", l, f[0])
		}
		if rec.Kind != KindHalt && len(rec.Conditions) > 0 {
			return p.errorf(n, "%s cannot be conditional", f[0])
		}
	}
	p.out = append(p.out, *rec)
	return nil
}

// queryOptions parses the sort-mode field of a query header; like
// CockroachDB it may hold comma-separated options.
func (p *parser) queryOptions(rec *Record, field string, n int) error {
	for _, o := range strings.Split(field, ",") {
		switch {
		case o == "nosort":
			rec.Sort = NoSort
		case o == "rowsort", strings.HasPrefix(o, "partialsort("):
			rec.Sort = RowSort
		case o == "valuesort":
			rec.Sort = ValueSort
		case o == "colnames":
			rec.ColNames = true
		default:
			return p.errorf(n, "unknown sort method %q", o)
		}
	}
	return nil
}

// sql reads the SQL text of a record up to a blank line, EOF or "----",
// and reports whether it stopped at "----".
func (p *parser) sql(rec *Record, n int) (sawSep bool, err error) {
	var b strings.Builder
	for {
		l, _, ok := p.next()
		if !ok {
			break
		}
		if l == "----" {
			sawSep = true
			break
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l)
	}
	if b.Len() == 0 {
		return false, p.errorf(n, "record without SQL")
	}
	rec.SQL = b.String()
	return sawSep, nil
}

// multiline reads a sqllogictest-rs multi-line error message: everything up
// to two consecutive blank lines or EOF.
func (p *parser) multiline() string {
	var lines []string
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if isBlank(l) && (p.i+1 >= len(p.lines) || isBlank(p.lines[p.i+1])) {
			break
		}
		p.i++
		lines = append(lines, l)
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

var sqlstateRE = regexp.MustCompile(`^\(([0-9A-Z]{5})\)$`)

// parseExpectedError parses what follows "statement"/"query" on an error
// header: "error", "error <regex>", "error (XXXXX)" or
// "error pgcode XXXXX [regex]".
func parseExpectedError(s string) (*ExpectedError, error) {
	s = strings.TrimSpace(strings.TrimPrefix(s, "error"))
	e := &ExpectedError{}
	if s == "" {
		return e, nil
	}
	if m := sqlstateRE.FindStringSubmatch(s); m != nil {
		e.Code = m[1]
		return e, nil
	}
	if rest, ok := strings.CutPrefix(s, "pgcode "); ok {
		rest = strings.TrimSpace(rest)
		code, pat, _ := strings.Cut(rest, " ")
		if len(code) != 5 {
			return nil, fmt.Errorf("bad pgcode %q", code)
		}
		e.Code = code
		s = strings.TrimSpace(pat)
		if s == "" {
			return e, nil
		}
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("bad error pattern: %v", err)
	}
	e.Pattern = re
	return e, nil
}

// include expands a glob relative to the including file's directory and
// splices the records of every match, in sorted order.
func (p *parser) include(pattern string, n int) error {
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(p.file), pattern)
	}
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return p.errorf(n, "include: %v", err)
	}
	if len(matches) == 0 {
		return p.errorf(n, "include %q matches no file", pattern)
	}
	sort.Strings(matches)
	for _, m := range matches {
		recs, err := parseFile(m, p.layout, p.depth+1)
		if err != nil {
			return err
		}
		p.out = append(p.out, recs...)
	}
	return nil
}

// sqlAndResults reads a record's SQL and, after a ---- line, its expected
// result lines up to the next blank line.
func (p *parser) sqlAndResults(rec *Record, n int) error {
	sawSep, err := p.sql(rec, n)
	if err != nil || !sawSep {
		return err
	}
	rec.HasResults = true
	for {
		l, _, ok := p.next()
		if !ok {
			return nil
		}
		rec.Expected = append(rec.Expected, l)
	}
}
