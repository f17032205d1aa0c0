package sql

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// binaryDecode decodes one value in PostgreSQL's binary format. The binary
// codec lives with the protocol (pgwire/codec.go), which imports this
// package, so pgwire installs it here at init (SetBinaryDecoder) rather
// than sql keeping a second copy. Without it binary COPY FROM fails with
// 0A000.
var binaryDecode func(types.Type, []byte) (types.Datum, error)

// SetBinaryDecoder installs the binary value decoder used by COPY FROM in
// binary format. It is called once, from an init function.
func SetBinaryDecoder(f func(types.Type, []byte) (types.Datum, error)) { binaryDecode = f }

// copyBinarySignature starts PostgreSQL's binary COPY format.
var copyBinarySignature = []byte("PGCOPY\n\xff\r\n\x00")

// copyDefault fills a table column the COPY does not list.
type copyDefault struct {
	col int
	e   expr.Expr // nil: NULL
	// late defaults (nextval of a serial or identity column) read the
	// engine's state: they are evaluated in Done, under the engine's write
	// lock, not as the data arrives.
	late bool
}

// isLateDefault reports whether a default calls a volatile function that
// needs the engine (a sequence's nextval).
func isLateDefault(e expr.Expr) bool {
	late := false
	expr.Walk(e, func(x expr.Expr) bool {
		if c, ok := x.(*expr.Call); ok && c.Fn.Volatile {
			late = true
		}
		return !late
	})
	return late
}

// copyIn is the CopyInHandler of COPY ... FROM STDIN. Data parses every
// complete record as it arrives into rows of the table; the engine is not
// locked until Done, which applies all of them as one write. Records are
// split by a resumable scanner (scan, inQuote), so a record that spans many
// chunks is scanned once.
type copyIn struct {
	s      *Session
	table  *Object
	target []int       // table column of each input column
	conv   []expr.Expr // per input column: typmod coercion over the parsed row, or nil
	name   []string    // per input column: its name, for errors
	opts   copyOptions
	ectx   *expr.Ctx

	forceNotNull, forceNull []bool // per input column
	defaults                []copyDefault

	buf     []byte // unconsumed input; the handler's own copy
	scan    int    // buf[:scan] is known not to end the current record
	inQuote bool   // CSV scanner state at scan
	line    int    // records consumed (the header counts), or binary tuples
	header  bool   // the header line or binary header was consumed
	ended   bool   // end marker (\. or the binary trailer) seen: ignore the rest
	rows    []types.Row
	in      types.Row // scratch: the parsed input columns of a record
	// fields and val are scratch for splitting a record: reused, so
	// that a record costs one allocation per field (its string), not a
	// growing slice per record and per field (BenchmarkDurableCopy).
	fields []copyField
	val    []byte
	ends   []int // splitCSV: where each field's bytes end in val
	// slab holds the datums of rows not yet handed out (addRow): rows
	// are carved from chunks instead of allocated one by one.
	slab   []types.Datum
	err    error // sticky: the first error
	closed bool
}

func (h *copyIn) Columns() int { return len(h.target) }
func (h *copyIn) Binary() bool { return h.opts.format == copyBinary }

// Data parses the complete records of chunk (plus what earlier chunks left).
func (h *copyIn) Data(chunk []byte) error {
	if h.err != nil {
		return h.err
	}
	if h.closed {
		return pgerror.New(pgerror.ObjectNotInPrerequisiteState, "COPY has already finished")
	}
	if h.ended {
		return nil
	}
	h.buf = append(h.buf, chunk...)
	if h.opts.format != copyBinary && h.parallelOK() && len(h.buf)-h.scan < parallelMinBytes {
		// Clients send about 8 KB at a time (psql does): gather a piece
		// worth parsing in two halves at once.
		return nil
	}
	if err := h.consume(false); err != nil {
		h.err = err
		return err
	}
	return nil
}

// Fail aborts the COPY: nothing is applied. Inside a transaction block the
// transaction fails, as in PostgreSQL.
func (h *copyIn) Fail(msg string) {
	if h.closed {
		return
	}
	h.closed = true
	h.rows, h.buf = nil, nil
	h.failTxn()
}

func (h *copyIn) failTxn() {
	if h.s.tx != nil && h.s.tx.explicit {
		h.s.failed = true
	}
}

// Done parses what is left and applies every row as one write at one
// timestamp: NOT NULL and primary key checks as INSERT makes them, then a
// commit, or buffering in the open transaction block.
func (h *copyIn) Done() (res *Result, err error) {
	res, err = h.done()
	h.s.e.waitDurable(&res, &err) // the write is acknowledged once durable
	if err != nil {
		h.failTxn()
	}
	h.closed = true
	h.rows, h.buf = nil, nil
	return res, err
}

func (h *copyIn) done() (*Result, error) {
	if h.err != nil {
		return nil, h.err
	}
	if h.closed {
		return nil, pgerror.New(pgerror.ObjectNotInPrerequisiteState, "COPY has already finished")
	}
	if !h.ended {
		if err := h.consume(true); err != nil {
			return nil, err
		}
	}
	s := h.s
	// The rows arrive after the statement returned: the write waits at
	// the DDL gate as a statement does (txddl.go). (No statement_timeout
	// applies here.)
	if err := s.enterGate(context.Background()); err != nil {
		return nil, err
	}
	defer s.leaveGate()
	s.e.mu.Lock()
	s.holdsWriteLock = true
	defer func() { s.holdsWriteLock = false; s.e.mu.Unlock() }()
	o, ok := s.e.mu.cat.lookup(h.table.Schema, h.table.Name)
	if !ok || o.ID != h.table.ID || len(o.Columns) != len(h.table.Columns) {
		return nil, pgerror.New(pgerror.UndefinedTable, "relation %q was dropped or altered during COPY", h.table.Name)
	}
	res := &Result{Tag: fmt.Sprintf("COPY %d", len(h.rows))}
	if len(h.rows) == 0 {
		return res, nil
	}
	for _, def := range h.defaults {
		if !def.late {
			continue
		}
		for _, r := range h.rows {
			d, err := def.e.Eval(h.ectx, nil)
			if err != nil {
				return nil, err
			}
			r[def.col] = d
		}
	}
	changes := make([]dataflow.Update, len(h.rows))
	for i, r := range h.rows {
		changes[i] = dataflow.Update{Row: r, Diff: 1}
	}
	if err := s.checkPrimaryKeyLocked(o, changes); err != nil {
		return nil, err
	}
	if s.tx != nil && s.tx.explicit {
		s.tx.writes[o.ID] = append(s.tx.writes[o.ID], changes...)
		return res, nil
	}
	var err error
	writes := map[dataflow.CollectionID][]dataflow.Update{o.ID: changes}
	if len(o.PrimaryKey) > 0 {
		// The check found every key once: the rows are distinct and
		// consolidated already, and sorting 100k of them again took 5%
		// of a COPY.
		err = s.e.commitConsolidatedLocked(writes)
	} else {
		err = s.e.commitLocked(writes)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// consume parses every complete record in buf and drops it; final means no
// more data will come, so a last record without a newline is complete.
func (h *copyIn) consume(final bool) error {
	var off int
	var err error
	if h.opts.format == copyBinary {
		off, err = h.consumeBinary(final)
	} else {
		off, err = h.consumeLines(final)
	}
	// Drop the consumed prefix; copy down so the buffer does not grow
	// without bound over a long COPY.
	rest := copy(h.buf, h.buf[off:])
	h.buf = h.buf[:rest]
	h.scan -= off
	return err
}

// consumeLines handles the text and CSV formats. It returns how many bytes
// of buf were consumed.
func (h *copyIn) consumeLines(final bool) (int, error) {
	off := 0
	if h.parallel() {
		var err error
		if off, err = h.consumeHalves(); err != nil || h.ended {
			if h.ended {
				off = len(h.buf)
			}
			return off, err
		}
	}
	for !h.ended {
		end, next, ok := h.recordEnd(off, final)
		if !ok {
			if final && off < len(h.buf) {
				if h.inQuote {
					h.line++
					return off, h.formatErr("unterminated CSV quoted field")
				}
				end, next = len(h.buf), len(h.buf)
			} else {
				break
			}
		}
		rec := h.buf[off:end]
		off, h.scan, h.inQuote = next, next, false
		if err := h.parseRecord(rec); err != nil {
			return off, err
		}
	}
	if h.ended {
		off = len(h.buf)
	}
	return off, nil
}

// parallelMinBytes is the size of input from which its complete records
// are parsed in two halves at once (consumeHalves; Data gathers that much
// first): parsing was a fifth of a COPY's CPU, on one core, while the
// other waited. A variable so that tests can take either path.
var parallelMinBytes = 64 << 10

// parallel reports whether buf holds enough to parse in two halves and
// its records may be (parallelOK).
func (h *copyIn) parallel() bool {
	return h.parallelOK() && len(h.buf)-h.scan >= parallelMinBytes
}

// parallelOK reports whether records may be parsed out of order: no column
// is converted or filled by an expression as the data arrives (those
// evaluate with h.ectx, which is not safe for concurrent use; late
// defaults are evaluated in Done, in order), and the header is behind.
func (h *copyIn) parallelOK() bool {
	if h.opts.header && !h.header {
		return false
	}
	for _, c := range h.conv {
		if c != nil {
			return false
		}
	}
	for _, d := range h.defaults {
		if d.e != nil && !d.late {
			return false
		}
	}
	return true
}

// consumeHalves parses the complete records in buf in two halves at once:
// the second on a goroutine of its own, with its own scratch, line count
// and rows, appended after the first half's. An error is the first in
// input order, as parsing in order would report it; after an end marker
// in the first half the second is ignored. It returns how many bytes of
// buf it consumed.
func (h *copyIn) consumeHalves() (int, error) {
	type span struct{ start, end int }
	var recs []span
	off := 0
	for {
		end, next, ok := h.recordEnd(off, false)
		if !ok {
			break
		}
		recs = append(recs, span{off, end})
		off, h.scan, h.inQuote = next, next, false
	}
	if len(recs) < 2 {
		for _, r := range recs {
			if err := h.parseRecord(h.buf[r.start:r.end]); err != nil {
				return off, err
			}
		}
		return off, nil
	}
	mid := len(recs) / 2
	// The second half's first line: the lines the first half counts
	// (parseRecord).
	line := h.line + mid
	if h.opts.format == copyCSV {
		for _, r := range recs[:mid] {
			line += bytes.Count(h.buf[r.start:r.end], []byte{'\n'})
		}
	}
	second := &copyIn{s: h.s, table: h.table, target: h.target, conv: h.conv, name: h.name, opts: h.opts, ectx: h.ectx,
		forceNotNull: h.forceNotNull, forceNull: h.forceNull, defaults: h.defaults, header: true, line: line}
	done := make(chan error, 1)
	go func() {
		for _, r := range recs[mid:] {
			if err := second.parseRecord(h.buf[r.start:r.end]); err != nil || second.ended {
				done <- err
				return
			}
		}
		done <- nil
	}()
	var err error
	for _, r := range recs[:mid] {
		if err = h.parseRecord(h.buf[r.start:r.end]); err != nil || h.ended {
			break
		}
	}
	secondErr := <-done
	if err != nil || h.ended {
		return off, err
	}
	h.rows = append(h.rows, second.rows...)
	h.line, h.ended = second.line, second.ended
	return off, secondErr
}

// parseRecord counts the record's lines and parses it (consumeLines).
func (h *copyIn) parseRecord(rec []byte) error {
	h.line++
	if h.opts.format == copyCSV {
		// Line numbers count physical lines, as PostgreSQL's do: a
		// quoted newline starts a new one.
		h.line += bytes.Count(rec, []byte{'\n'})
	}
	return h.record(rec)
}

// recordEnd finds the end of the record that starts at off: the record is
// buf[off:end] and the next one starts at next. ok is false when buf holds
// no complete record yet; the scan resumes at h.scan next time.
func (h *copyIn) recordEnd(off int, final bool) (end, next int, ok bool) {
	b := h.buf
	csv := h.opts.format == copyCSV
	i := max(h.scan, off)
	for i < len(b) {
		c := b[i]
		switch {
		case csv && h.inQuote:
			if c == h.opts.escape && h.opts.escape != h.opts.quote {
				if i+1 >= len(b) {
					h.scan = i
					return 0, 0, false
				}
				if b[i+1] == h.opts.quote || b[i+1] == h.opts.escape {
					i += 2
					continue
				}
			} else if c == h.opts.quote {
				h.inQuote = false
			}
			i++
			continue
		case csv && c == h.opts.quote:
			h.inQuote = true
		case !csv && c == '\\':
			// A backslash escapes the next byte, even a newline.
			if i+1 >= len(b) {
				h.scan = i
				return 0, 0, false
			}
			i += 2
			continue
		case c == '\n':
			return i, i + 1, true
		case c == '\r':
			if i+1 < len(b) {
				if b[i+1] == '\n' {
					return i, i + 2, true
				}
				return i, i + 1, true
			}
			if final {
				return i, i + 1, true
			}
			h.scan = i
			return 0, 0, false
		}
		i++
	}
	h.scan = i
	return 0, 0, false
}

// record parses one text or CSV line (without its terminator).
func (h *copyIn) record(rec []byte) error {
	header := h.opts.header && !h.header
	if header && !h.opts.headerMatch {
		h.header = true
		return nil
	}
	if string(rec) == `\.` && !header {
		h.ended = true
		return nil
	}
	if !utf8.Valid(rec) {
		return h.lineErr(pgerror.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\"")
	}
	var fields []copyField
	var err error
	if h.opts.format == copyCSV {
		fields, err = h.splitCSV(rec)
	} else {
		fields = h.splitText(rec)
	}
	if err != nil {
		return err
	}
	if header {
		h.header = true
		return h.matchHeader(fields)
	}
	if len(h.target) == 0 && len(rec) == 0 {
		fields = nil
	}
	if len(fields) > len(h.target) {
		return h.formatErr("extra data after last expected column")
	}
	if len(fields) < len(h.target) {
		return h.formatErr(fmt.Sprintf("missing data for column %q", h.name[len(fields)]))
	}
	if h.in == nil {
		h.in = make(types.Row, len(h.target))
	}
	for j, f := range fields {
		t := h.table.Columns[h.target[j]].Type
		if f.null {
			h.in[j] = types.Null(t)
			continue
		}
		if !utf8.ValidString(f.val) {
			return h.lineErr(pgerror.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\"")
		}
		d, err := types.ParseTextIn(t, f.val, h.ectx.Location)
		if err != nil {
			return h.valueErr(j, err)
		}
		h.in[j] = d
	}
	return h.addRow()
}

// matchHeader checks a header line against the column names (HEADER
// MATCH), as PostgreSQL does.
func (h *copyIn) matchHeader(fields []copyField) error {
	if len(fields) != len(h.target) {
		return h.formatErr(fmt.Sprintf("wrong number of fields in header line: got %d, expected %d", len(fields), len(h.target)))
	}
	for j, f := range fields {
		if f.null {
			return h.formatErr(fmt.Sprintf("column name mismatch in header line field %d: got null value (%q), expected %q", j+1, h.opts.null, h.name[j]))
		}
		if f.val != h.name[j] {
			return h.formatErr(fmt.Sprintf("column name mismatch in header line field %d: got %q, expected %q", j+1, f.val, h.name[j]))
		}
	}
	return nil
}

// lateCol reports whether column i is filled by a late default.
func (h *copyIn) lateCol(i int) bool {
	for _, d := range h.defaults {
		if d.col == i && d.late {
			return true
		}
	}
	return false
}

// copyRowChunk is the number of rows whose datums addRow allocates at once
// (a chunk lives as long as any of its rows in the table).
const copyRowChunk = 128

// addRow turns the parsed input columns into a table row: modifiers,
// defaults for the columns not listed, NOT NULL.
func (h *copyIn) addRow() error {
	n := len(h.table.Columns)
	if len(h.slab) < n {
		h.slab = make([]types.Datum, n*copyRowChunk)
	}
	row := types.Row(h.slab[:n:n])
	h.slab = h.slab[n:]
	for j, idx := range h.target {
		d := h.in[j]
		if h.conv[j] != nil && !d.IsNull() {
			v, err := h.conv[j].Eval(h.ectx, h.in)
			if err != nil {
				return h.valueErr(j, err)
			}
			d = v
		}
		row[idx] = d
	}
	for _, def := range h.defaults {
		if def.e == nil {
			row[def.col] = types.Null(h.table.Columns[def.col].Type)
			continue
		}
		if def.late {
			continue
		}
		d, err := def.e.Eval(h.ectx, nil)
		if err != nil {
			return h.lineErr(pgerror.CodeOf(err), err.Error())
		}
		row[def.col] = d
	}
	for i, c := range h.table.Columns {
		if c.NotNull && row[i].IsNull() && !h.lateCol(i) {
			return h.lineErr(pgerror.NotNullViolation, fmt.Sprintf("null value in column %q of relation %q violates not-null constraint", c.Name, h.table.Name))
		}
	}
	h.rows = append(h.rows, row)
	return nil
}

// copyField is one field of a record: its de-escaped text, or NULL.
type copyField struct {
	val  string
	null bool
}

// splitText splits a text-format line at unescaped delimiters. The null
// string is matched against a field's raw text, before de-escaping, as
// PostgreSQL does (so \N is NULL but \\N is the string \N).
func (h *copyIn) splitText(rec []byte) []copyField {
	fields := h.fields[:0]
	defer func() { h.fields = fields }()
	start := 0
	for i := 0; ; i++ {
		if i < len(rec) && rec[i] == '\\' {
			i++
			continue
		}
		if i < len(rec) && rec[i] != h.opts.delim {
			continue
		}
		raw := rec[start:min(i, len(rec))]
		if string(raw) == h.opts.null {
			fields = append(fields, copyField{null: true})
		} else {
			fields = append(fields, copyField{val: unescapeText(raw)})
		}
		if i >= len(rec) {
			return fields
		}
		start = i + 1
	}
}

// unescapeText decodes the text format's backslash sequences.
func unescapeText(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' || i+1 >= len(raw) {
			out = append(out, c)
			continue
		}
		i++
		c = raw[i]
		switch c {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, '\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(c - '0')
			for k := 0; k < 2 && i+1 < len(raw) && raw[i+1] >= '0' && raw[i+1] <= '7'; k++ {
				i++
				v = v*8 + int(raw[i]-'0')
			}
			out = append(out, byte(v))
		case 'x':
			v, n := 0, 0
			for n < 2 && i+1 < len(raw) && isHex(raw[i+1]) {
				i++
				v = v*16 + hexVal(raw[i])
				n++
			}
			if n == 0 {
				out = append(out, 'x')
			} else {
				out = append(out, byte(v))
			}
		default:
			out = append(out, c)
		}
	}
	return string(out)
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(c byte) int {
	switch {
	case c >= 'a':
		return int(c-'a') + 10
	case c >= 'A':
		return int(c-'A') + 10
	}
	return int(c - '0')
}

// splitCSV splits a CSV record (which may hold quoted newlines). An
// unquoted field equal to the null string is NULL; a quoted one is not,
// unless FORCE_NULL names its column.
func (h *copyIn) splitCSV(rec []byte) ([]copyField, error) {
	q, esc, delim := h.opts.quote, h.opts.escape, h.opts.delim
	fields := h.fields[:0]
	defer func() { h.fields = fields }()
	// Every field's de-quoted bytes go into val, one after the other; one
	// string of all of them is made at the end and each field is a slice
	// of it: one allocation per record, not one per field.
	val := h.val[:0]
	defer func() { h.val = val }()
	ends := h.ends[:0]
	defer func() { h.ends = ends }()
	i := 0
	for {
		quoted, inq := false, false
		start := i
		for i < len(rec) {
			c := rec[i]
			if !inq && c == delim {
				break
			}
			if inq {
				if c == esc && i+1 < len(rec) && (rec[i+1] == q || (esc != q && rec[i+1] == esc)) {
					val = append(val, rec[i+1])
					i += 2
					continue
				}
				if c == q {
					inq = false
					i++
					continue
				}
			} else if c == q {
				inq, quoted = true, true
				i++
				continue
			}
			val = append(val, c)
			i++
		}
		if inq {
			return nil, h.formatErr("unterminated CSV quoted field")
		}
		j := len(fields)
		f := copyField{}
		if j < len(h.target) {
			switch {
			case h.forceNotNull[j]:
			case !quoted && string(rec[start:i]) == h.opts.null:
				f = copyField{null: true}
			case quoted && h.forceNull[j] && string(val[fieldStart(ends, j):]) == h.opts.null:
				f = copyField{null: true}
			}
		}
		fields = append(fields, f)
		ends = append(ends, len(val))
		if i >= len(rec) {
			all := string(val)
			for j := range fields {
				if !fields[j].null {
					fields[j].val = all[fieldStart(ends, j):ends[j]]
				}
			}
			return fields, nil
		}
		i++ // the delimiter
	}
}

// fieldStart is where field j's bytes start in splitCSV's buffer.
func fieldStart(ends []int, j int) int {
	if j == 0 {
		return 0
	}
	return ends[j-1]
}

// consumeBinary handles the binary format: a header, then tuples of an
// int16 field count and per field an int32 length (-1 for NULL) and the
// value, then an int16 -1 trailer.
func (h *copyIn) consumeBinary(final bool) (int, error) {
	b := h.buf
	off := 0
	if !h.header {
		const fixed = 11 + 4 + 4
		if len(b) < fixed {
			if final {
				return 0, h.formatErr("COPY file signature not recognized")
			}
			return 0, nil
		}
		if !bytes.Equal(b[:11], copyBinarySignature) {
			return 0, h.formatErr("COPY file signature not recognized")
		}
		flags := binary.BigEndian.Uint32(b[11:])
		if flags&(1<<16) != 0 {
			return 0, h.formatErr("invalid COPY file header (WITH OIDS)")
		}
		if flags>>16 != 0 {
			return 0, h.formatErr("unrecognized critical flags in COPY file header")
		}
		ext := int64(int32(binary.BigEndian.Uint32(b[15:])))
		if ext < 0 {
			return 0, h.formatErr("invalid COPY file header (missing length)")
		}
		if int64(len(b)) < fixed+ext {
			if final {
				return 0, h.formatErr("invalid COPY file header (wrong length)")
			}
			return 0, nil
		}
		h.header = true
		off = fixed + int(ext)
	}
	if binaryDecode == nil {
		return off, pgerror.New(pgerror.FeatureNotSupported, "binary COPY FROM is not available")
	}
	for !h.ended {
		if len(b)-off < 2 {
			break
		}
		n := int(int16(binary.BigEndian.Uint16(b[off:])))
		if n == -1 {
			h.ended = true
			return len(b), nil
		}
		// Find the end of the tuple before decoding any of it.
		p := off + 2
		complete := true
		for k := 0; k < n; k++ {
			if len(b)-p < 4 {
				complete = false
				break
			}
			l := int(int32(binary.BigEndian.Uint32(b[p:])))
			p += 4
			if l > 0 {
				if len(b)-p < l {
					complete = false
					break
				}
				p += l
			}
		}
		h.line++
		if !complete {
			h.line--
			break
		}
		if n != len(h.target) {
			return off, h.formatErr(fmt.Sprintf("row field count is %d, expected %d", n, len(h.target)))
		}
		if h.in == nil {
			h.in = make(types.Row, len(h.target))
		}
		p = off + 2
		for j := 0; j < n; j++ {
			l := int(int32(binary.BigEndian.Uint32(b[p:])))
			p += 4
			t := h.table.Columns[h.target[j]].Type
			if l == -1 {
				h.in[j] = types.Null(t)
				continue
			}
			if l < 0 {
				return off, h.formatErr(fmt.Sprintf("invalid field size %d", l))
			}
			// The decoder copies what it keeps (buf is reused).
			d, err := binaryDecode(t, b[p:p+l])
			if err != nil {
				return off, h.valueErr(j, err)
			}
			h.in[j] = d
			p += l
		}
		off = p
		if err := h.addRow(); err != nil {
			return off, err
		}
	}
	if final && !h.ended && off < len(b) {
		return off, h.formatErr("unexpected EOF in COPY data")
	}
	if h.ended {
		off = len(b)
	}
	return off, nil
}

// lineErr is an error about the current record, naming it as PostgreSQL's
// error context does.
func (h *copyIn) lineErr(code pgerror.Code, msg string) error {
	return &pgerror.Error{Code: code, Message: fmt.Sprintf("COPY %s, line %d: %s", h.table.Name, h.line, msg)}
}

// formatErr is a malformed record (22P04).
func (h *copyIn) formatErr(msg string) error {
	return h.lineErr(pgerror.BadCopyFileFormat, msg)
}

// valueErr is a value that does not parse as its column's type (22P02, or
// the code the parser chose, such as 22003 for out of range).
func (h *copyIn) valueErr(j int, err error) error {
	code := pgerror.CodeOf(err)
	if code == "" || code == pgerror.InternalError {
		code = pgerror.InvalidTextRepresentation
	}
	var pe *pgerror.Error
	detail := ""
	if errors.As(err, &pe) {
		detail = pe.Detail
	}
	return &pgerror.Error{Code: code, Detail: detail,
		Message: fmt.Sprintf("COPY %s, line %d, column %s: %s", h.table.Name, h.line, h.name[j], err.Error())}
}
