package sql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/planner"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// Sequences: CREATE/ALTER/DROP SEQUENCE, nextval/currval/setval/lastval,
// serial columns and identity columns (GENERATED ... AS IDENTITY), which
// own a sequence and default to its nextval.
//
// As in PostgreSQL a sequence is not transactional: a value handed out is
// never handed out again, rolled back or not, and there may be gaps.
//
// Durability: values are reserved in chunks of seqLogChunk. Before handing
// out a value beyond the reservation, nextval appends a catalog record
// "ALTER SEQUENCE s RESTART WITH <first value after the new chunk>" to the
// log; a restart replays it, so a restarted server never repeats a value
// (it skips the unused rest of the chunk, as PostgreSQL does after a
// crash). Appending needs the engine's write lock: a statement that finds
// it holds only the read lock (a SELECT nextval(...)) fails with
// needWriteLock and Session.Execute runs it again under the write lock
// (see execWithLockWaits). setval is logged the same way, at once.

// seqLogChunk is how many values one log record reserves.
const seqLogChunk = 32

// seqDef is a sequence's definition.
type seqDef struct {
	typ                 types.Type // AS type: smallint, integer or bigint
	increment, min, max int64
	start               int64
	cycle               bool
}

// sequence is a sequence's definition and state.
type sequence struct {
	seqDef
	ownedBy  string // "table.column" of a serial or identity column
	identity string // "a" (ALWAYS) or "d" (BY DEFAULT) for identity columns
	mu       sync.Mutex
	last     int64 // the last value handed out, or the next one when !called
	called   bool
	reserved int64 // values up to here (in the increment's direction) are logged
}

// needWriteLock makes Session.Execute run the statement again holding the
// engine's write lock.
type needWriteLock struct{}

func (needWriteLock) Error() string {
	return "nextval and setval cannot be used in this statement (they must log the sequence's new state)"
}

// SQLState: a needWriteLock that reaches a client (a statement that cannot
// be run again under the write lock) is a feature not supported there.
func (needWriteLock) SQLState() string { return string(pgerror.FeatureNotSupported) }

// beyond reports whether v lies past the reservation r.
func (q *sequence) beyond(v, r int64) bool {
	if q.increment > 0 {
		return v > r
	}
	return v < r
}

// restartLocked makes v the next value. During a restart's replay v may
// lie one increment past the bound: the sequence was used up.
// REQUIRES: q.mu held.
func (q *sequence) restartLocked(v int64) {
	q.last, q.called = v, false
	if v > q.max || v < q.min {
		q.last, q.called = v-q.increment, true
	}
	q.reserved = v - q.increment
}

// parseSeqOptions applies CREATE/ALTER SEQUENCE options (and an identity
// column's) to q. restart reports a RESTART [WITH n] option.
func parseSeqOptions(q *seqDef, opts []*pg.Node, creating bool) (restart *int64, err error) {
	var minSet, maxSet, startSet bool
	for _, n := range opts {
		d := n.GetDefElem()
		if d == nil {
			continue
		}
		num := func() (int64, error) {
			if d.Arg == nil {
				return 0, pgerror.New(pgerror.SyntaxError, "%s requires a value", d.Defname)
			}
			if c := d.Arg.GetInteger(); c != nil {
				return int64(c.Ival), nil
			}
			if f := d.Arg.GetFloat(); f != nil {
				v, err := strconv.ParseInt(f.Fval, 10, 64)
				if err != nil {
					return 0, pgerror.New(pgerror.InvalidParameterValue, "invalid %s value %s", d.Defname, f.Fval)
				}
				return v, nil
			}
			return 0, pgerror.New(pgerror.SyntaxError, "invalid value for %s", d.Defname)
		}
		switch d.Defname {
		case "as":
			tn := d.Arg.GetTypeName()
			t, err := bindTypeName(tn)
			if err != nil {
				return nil, err
			}
			if t != types.Int2 && t != types.Int4 && t != types.Int8 {
				return nil, pgerror.New(pgerror.InvalidParameterValue, "sequence type must be smallint, integer, or bigint")
			}
			q.typ = t
		case "increment":
			v, err := num()
			if err != nil {
				return nil, err
			}
			if v == 0 {
				return nil, pgerror.New(pgerror.InvalidParameterValue, "INCREMENT must not be zero")
			}
			q.increment = v
		case "minvalue":
			if d.Arg != nil {
				v, err := num()
				if err != nil {
					return nil, err
				}
				q.min, minSet = v, true
			}
		case "maxvalue":
			if d.Arg != nil {
				v, err := num()
				if err != nil {
					return nil, err
				}
				q.max, maxSet = v, true
			}
		case "start":
			v, err := num()
			if err != nil {
				return nil, err
			}
			q.start, startSet = v, true
		case "restart":
			v := q.start
			if d.Arg != nil {
				if v, err = num(); err != nil {
					return nil, err
				}
			}
			restart = &v
		case "cycle":
			q.cycle = d.Arg == nil || d.Arg.GetBoolean() == nil || d.Arg.GetBoolean().Boolval
			if i := d.Arg.GetInteger(); i != nil {
				q.cycle = i.Ival != 0
			}
		case "cache", "owned_by", "sequence_name":
			// One value at a time; ownership is set by serial and identity
			// columns.
		default:
			return nil, pgerror.New(pgerror.SyntaxError, "option %q not recognized", d.Defname)
		}
	}
	lo, hi := types.IntRange(q.typ)
	if creating || !minSet {
		if !minSet {
			q.min = 1
			if q.increment < 0 {
				q.min = lo
			}
		}
	}
	if creating || !maxSet {
		if !maxSet {
			q.max = hi
			if q.increment < 0 {
				q.max = -1
			}
		}
	}
	if creating && !startSet {
		q.start = q.min
		if q.increment < 0 {
			q.start = q.max
		}
	}
	if q.min < lo || q.max > hi {
		return nil, pgerror.New(pgerror.InvalidParameterValue, "MINVALUE (%d) and MAXVALUE (%d) must be within the range of type %s", q.min, q.max, q.typ)
	}
	if q.min >= q.max {
		return nil, pgerror.New(pgerror.InvalidParameterValue, "MINVALUE (%d) must be less than MAXVALUE (%d)", q.min, q.max)
	}
	if q.start < q.min || q.start > q.max {
		return nil, pgerror.New(pgerror.InvalidParameterValue, "START value (%d) cannot be outside MINVALUE (%d) and MAXVALUE (%d)", q.start, q.min, q.max)
	}
	if restart != nil && (*restart < q.min || *restart > q.max) {
		return nil, pgerror.New(pgerror.InvalidParameterValue, "RESTART value (%d) cannot be outside MINVALUE (%d) and MAXVALUE (%d)", *restart, q.min, q.max)
	}
	return restart, nil
}

func newSequence(opts []*pg.Node, typ types.Type) (*sequence, error) {
	q := &sequence{seqDef: seqDef{typ: typ, increment: 1}}
	if _, err := parseSeqOptions(&q.seqDef, opts, true); err != nil {
		return nil, err
	}
	q.restartLocked(q.start)
	return q, nil
}

// createSequence runs CREATE SEQUENCE.
func (e *Engine) createSequence(s *Session, cs *pg.CreateSeqStmt) (*Result, error) {
	name := cs.Sequence.Relname
	schema, err := s.creationSchema(cs.Sequence.Schemaname)
	if err != nil {
		return nil, err
	}
	if _, exists := e.mu.cat.lookup(schema, name); exists && cs.IfNotExists {
		return &Result{Tag: "CREATE SEQUENCE", Notices: []Notice{{Severity: "NOTICE", Code: "42P07", Message: "relation \"" + name + "\" already exists, skipping"}}}, nil
	}
	q, err := newSequence(cs.Options, types.Int8)
	if err != nil {
		return nil, err
	}
	if err := e.mu.cat.add(&Object{Kind: KindSequence, Schema: schema, Name: name, Seq: q}); err != nil {
		return nil, err
	}
	return &Result{Tag: "CREATE SEQUENCE"}, nil
}

// alterSequence runs ALTER SEQUENCE (and replays a reservation record).
func (e *Engine) alterSequence(s *Session, as *pg.AlterSeqStmt) (*Result, error) {
	o, ok := s.resolve(as.Sequence.Schemaname, as.Sequence.Relname)
	if !ok || o.Kind != KindSequence {
		if as.MissingOk {
			return &Result{Tag: "ALTER SEQUENCE", Notices: []Notice{{Severity: "NOTICE", Code: "00000", Message: "relation \"" + as.Sequence.Relname + "\" does not exist, skipping"}}}, nil
		}
		return nil, pgerror.New(pgerror.UndefinedTable, "relation %q does not exist", as.Sequence.Relname)
	}
	q := o.Seq
	q.mu.Lock()
	defer q.mu.Unlock()
	next := q.seqDef
	if s.replaying {
		// A reservation record may restart one increment past the bound.
		if v, ok := reservationRestart(as); ok {
			q.restartLocked(v)
			return &Result{Tag: "ALTER SEQUENCE"}, nil
		}
	}
	restart, err := parseSeqOptions(&next, as.Options, false)
	if err != nil {
		return nil, err
	}
	q.seqDef = next
	if restart != nil {
		q.restartLocked(*restart)
	}
	return &Result{Tag: "ALTER SEQUENCE"}, nil
}

// reservationRestart reads the RESTART WITH value of a record that has no
// other option.
func reservationRestart(as *pg.AlterSeqStmt) (int64, bool) {
	if len(as.Options) != 1 {
		return 0, false
	}
	d := as.Options[0].GetDefElem()
	if d == nil || d.Defname != "restart" || d.Arg == nil {
		return 0, false
	}
	if c := d.Arg.GetInteger(); c != nil {
		return int64(c.Ival), true
	}
	if f := d.Arg.GetFloat(); f != nil {
		v, err := strconv.ParseInt(f.Fval, 10, 64)
		return v, err == nil
	}
	return 0, false
}

// restartRecord is the catalog record that makes v the next value.
func restartRecord(o *Object, v int64) string {
	return fmt.Sprintf("ALTER SEQUENCE %s.%s RESTART WITH %d", quoteIdent(o.Schema), quoteIdent(o.Name), v)
}

// nextValLocked hands out the next value. REQUIRES: q.mu held, and the
// engine's write lock when s.holdsWriteLock.
func (s *Session) nextValLocked(o *Object) (int64, error) {
	q := o.Seq
	next, wrapped := q.last, false
	if q.called {
		next = q.last + q.increment
		overflow := (q.increment > 0 && q.last > math.MaxInt64-q.increment) || (q.increment < 0 && q.last < math.MinInt64-q.increment)
		if overflow || next > q.max || next < q.min {
			if !q.cycle {
				bound, word := q.max, "maximum"
				if q.increment < 0 {
					bound, word = q.min, "minimum"
				}
				return 0, pgerror.New(pgerror.SequenceGeneratorLimitExceeded, "nextval: reached %s value of sequence %q (%d)", word, o.Name, bound)
			}
			next, wrapped = q.min, true
			if q.increment < 0 {
				next = q.max
			}
		}
	}
	// After a wrap the old reservation says nothing about the values ahead.
	if q.beyond(next, q.reserved) || wrapped {
		if !s.holdsWriteLock {
			return 0, needWriteLock{}
		}
		// Reserve a chunk: after a restart the sequence continues past it.
		end := next
		for i := 1; i < seqLogChunk; i++ {
			n := end + q.increment
			if n > q.max || n < q.min || (q.increment > 0) != (n > end) {
				break
			}
			end = n
		}
		if err := s.appendSequenceRecordLocked(o, restartRecord(o, end+q.increment)); err != nil {
			return 0, err
		}
		q.reserved = end
	}
	q.last, q.called = next, true
	if s.seqLast == nil {
		s.seqLast = map[*Object]int64{} // on first use: most sessions never call nextval
	}
	s.seqLast[o] = next
	s.lastSeq = o
	return next, nil
}

// dataflowID is the catalog id of a user object's OID (see userOID).
func dataflowID(oid uint32) dataflow.CollectionID { return dataflow.CollectionID(oid - userOIDBase) }

// sessionSequences is a session's expr.SequenceSource.
type sessionSequences struct{ s *Session }

func (q sessionSequences) lookup(ref expr.SeqRef) (*Object, error) {
	var o *Object
	if ref.Name != "" {
		parts := splitQualified(ref.Name)
		schema := ""
		if len(parts) > 1 {
			schema = parts[len(parts)-2]
		}
		o, _ = q.s.resolve(schema, parts[len(parts)-1])
		if o == nil {
			return nil, pgerror.New(pgerror.UndefinedTable, "relation %q does not exist", ref.Name)
		}
	} else if ref.OID >= userOIDBase {
		o = q.s.e.mu.cat.byID(dataflowID(ref.OID))
	}
	if o == nil || o.Kind != KindSequence {
		name := ref.Name
		if o != nil {
			name = o.Name
		}
		if o == nil && name == "" {
			return nil, pgerror.New(pgerror.UndefinedTable, "could not open relation with OID %d", ref.OID)
		}
		return nil, pgerror.New(pgerror.WrongObjectType, "%q is not a sequence", name)
	}
	return o, nil
}

func (q sessionSequences) NextVal(ref expr.SeqRef) (int64, error) {
	o, err := q.lookup(ref)
	if err != nil {
		return 0, err
	}
	o.Seq.mu.Lock()
	defer o.Seq.mu.Unlock()
	return q.s.nextValLocked(o)
}

func (q sessionSequences) CurrVal(ref expr.SeqRef) (int64, error) {
	o, err := q.lookup(ref)
	if err != nil {
		return 0, err
	}
	v, ok := q.s.seqLast[o]
	if !ok {
		return 0, pgerror.New(pgerror.ObjectNotInPrerequisiteState, "currval of sequence %q is not yet defined in this session", o.Name)
	}
	return v, nil
}

func (q sessionSequences) LastVal() (int64, error) {
	if q.s.lastSeq == nil || q.s.e.mu.cat.byID(q.s.lastSeq.ID) != q.s.lastSeq {
		return 0, pgerror.New(pgerror.ObjectNotInPrerequisiteState, "lastval is not yet defined in this session")
	}
	return q.s.seqLast[q.s.lastSeq], nil
}

func (q sessionSequences) SetVal(ref expr.SeqRef, v int64, called bool) (int64, error) {
	o, err := q.lookup(ref)
	if err != nil {
		return 0, err
	}
	seq := o.Seq
	seq.mu.Lock()
	defer seq.mu.Unlock()
	if v < seq.min || v > seq.max {
		return 0, pgerror.New(pgerror.NumericValueOutOfRange, "setval: value %d is out of bounds for sequence %q (%d..%d)", v, o.Name, seq.min, seq.max)
	}
	if !q.s.holdsWriteLock {
		return 0, needWriteLock{}
	}
	next := v
	if called {
		next = v + seq.increment
	}
	if err := q.s.appendSequenceRecordLocked(o, restartRecord(o, next)); err != nil {
		return 0, err
	}
	seq.last, seq.called = v, called
	seq.reserved = next - seq.increment
	if called {
		if q.s.seqLast == nil {
			q.s.seqLast = map[*Object]int64{}
		}
		q.s.seqLast[o] = v
		q.s.lastSeq = o
	}
	return v, nil
}

// unquoteName strips the quotes of a quoted identifier and folds an
// unquoted one, as 'name'::regclass reads a name.
func unquoteName(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return strings.ToLower(s)
}

// ownedSequence creates the sequence of a serial or identity column of
// table and returns the column's default, nextval('<seq>'::regclass).
func (e *Engine) ownedSequence(s *Session, schema, table string, col *ColumnDef, opts []*pg.Node, identity string) error {
	name := table + "_" + col.Name + "_seq"
	for i := 1; ; i++ {
		if _, taken := e.mu.cat.lookup(schema, name); !taken {
			break
		}
		name = fmt.Sprintf("%s_%s_seq%d", table, col.Name, i)
	}
	q, err := newSequence(opts, col.Type)
	if err != nil {
		return err
	}
	q.ownedBy, q.identity = objKey(schema, table)+"."+col.Name, identity
	if err := e.mu.cat.add(&Object{Kind: KindSequence, Schema: schema, Name: name, Seq: q}); err != nil {
		return err
	}
	// PostgreSQL qualifies the name only outside the search path; the
	// record of the CREATE TABLE replays with its search path, and the
	// qualified name resolves the same anywhere.
	seqName := name
	if schema != "public" {
		seqName = quoteIdentIfNeeded(schema) + "." + quoteIdentIfNeeded(name)
	}
	def := fmt.Sprintf("nextval(%s::regclass)", quoteLiteral(seqName))
	st, err := s.ParseStatements("SELECT " + def)
	if err != nil {
		return err
	}
	b := s.newBinder(nil, nil)
	d, err := b.bindExpr(st[0].ast.GetSelectStmt().TargetList[0].GetResTarget().Val, &scope{})
	if err != nil {
		return err
	}
	if d, err = assignCast(b, d, *col); err != nil {
		return err
	}
	col.Default, col.DefaultSQL, col.Identity, col.NotNull = d, def, identity, true
	return nil
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// serialType maps serial pseudo-types to their integer type.
func serialType(tn *pg.TypeName) (types.Type, bool) {
	if tn == nil || len(tn.Names) == 0 || len(tn.ArrayBounds) > 0 {
		return 0, false
	}
	switch strings.ToLower(tn.Names[len(tn.Names)-1].GetString_().Sval) {
	case "serial", "serial4":
		return types.Int4, true
	case "bigserial", "serial8":
		return types.Int8, true
	case "smallserial", "serial2":
		return types.Int2, true
	}
	return 0, false
}

// sequenceRelation is SELECT ... FROM a sequence: its one row (last_value,
// log_cnt, is_called) as of the statement.
func sequenceRelation(o *Object, alias string, colAliases []*pg.Node) (planner.Rel, []scopeCol, error) {
	q := o.Seq
	q.mu.Lock()
	row := types.Row{types.NewInt8(q.last), types.NewInt8(0), types.NewBool(q.called)}
	q.mu.Unlock()
	cols := make([]scopeCol, len(sequenceColumns))
	typs := make([]types.Type, len(sequenceColumns))
	for i, c := range sequenceColumns {
		cols[i] = scopeCol{table: alias, name: c.Name, typ: c.Type}
		typs[i] = c.Type
	}
	return &planner.Values{Rows: []types.Row{row}, Typs: typs}, renameCols(cols, colAliases, alias), nil
}
