package sql

import (
	"strconv"
	"strings"
	"time"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// The session's TimeZone setting (PostgreSQL 15 semantics). The setting's
// text is in s.settings["timezone"] like every other setting; s.loc caches
// the resolved zone so evaluation and output never look it up per row.
//
// Accepted values, as check_timezone accepts them:
//   - a zone name of the tz database in any case ('Europe/Berlin'), shown
//     in its canonical spelling;
//   - a number of hours, ISO sign (east positive): SET TIME ZONE 5 or
//     '+5' or -3.5, shown as PostgreSQL shows it, '<+05>-05';
//   - INTERVAL '+02:00' HOUR TO MINUTE, also east positive, without days
//     or months;
//   - a POSIX specification without DST rules ('XYZ-3', '-03:30'), whose
//     sign counts west of Greenwich (POSIX), shown as written;
//   - LOCAL or DEFAULT, and RESET: the server's default, UTC.

// location is the session's TimeZone.
func (s *Session) location() *time.Location {
	if s.loc == nil {
		return time.UTC
	}
	return s.loc
}

// Location is the session's TimeZone, for the protocol layer's text
// output and input of timestamptz values.
func (s *Session) Location() *time.Location { return s.location() }

// StartupError is the error of an invalid startup parameter (a TimeZone
// the client sent that names no zone): the protocol layer ends the
// connection with it, as PostgreSQL refuses such a connection.
func (s *Session) StartupError() error { return s.startupErr }

// applyStartupTimeZone resolves the TimeZone startup parameter.
func (s *Session) applyStartupTimeZone() {
	v, ok := s.settings["timezone"]
	if !ok || v == defaultSettings["timezone"] {
		return
	}
	loc, shown, err := parseTimeZoneValue(v)
	if err != nil {
		s.startupErr = err
		s.settings["timezone"] = defaultSettings["timezone"]
		return
	}
	s.loc, s.settings["timezone"] = loc, shown
}

// execSetTimeZone is SET / RESET of TimeZone.
func (s *Session) execSetTimeZone(vs *pg.VariableSetStmt) (*Result, error) {
	tag := "SET"
	// RESET and SET ... TO DEFAULT return to the value at connection start.
	loc, shown := s.resetLoc, s.resetSettings["timezone"]
	if shown == "" {
		shown = defaultSettings["timezone"]
	}
	switch vs.Kind {
	case pg.VariableSetKind_VAR_RESET:
		tag = "RESET"
	case pg.VariableSetKind_VAR_SET_DEFAULT: // also SET TIME ZONE LOCAL
	case pg.VariableSetKind_VAR_SET_VALUE:
		var err error
		if loc, shown, err = timeZoneArg(vs.Args); err != nil {
			return nil, err
		}
	default:
		return &Result{Tag: tag}, nil
	}
	if loc == time.UTC && shown == defaultSettings["timezone"] {
		loc = nil
	}
	inTx := s.tx != nil && s.tx.explicit
	if vs.IsLocal && !inTx {
		return &Result{Tag: tag, Notices: []Notice{{Severity: "WARNING", Code: "25P01", Message: "SET LOCAL can only be used in transaction blocks"}}}, nil
	}
	if inTx {
		if s.tzTx == nil {
			cur := tzValue{s.loc, s.settings["timezone"]}
			s.tzTx = &tzTxState{atBegin: cur, atCommit: cur}
		}
		if !vs.IsLocal {
			s.tzTx.atCommit = tzValue{loc, shown}
		}
	}
	s.loc, s.settings["timezone"] = loc, shown
	return &Result{Tag: tag, ParameterStatus: [][2]string{{"TimeZone", shown}}}, nil
}

// tzTxState is what the end of a transaction block sets TimeZone back to,
// as PostgreSQL's GUC stack does: ROLLBACK undoes every SET in the block,
// COMMIT keeps the last plain SET and drops SET LOCAL.
type tzTxState struct{ atBegin, atCommit tzValue }

type tzValue struct {
	loc   *time.Location
	shown string
}

// endTxTimeZone restores TimeZone at COMMIT (commit) or ROLLBACK and
// returns the ParameterStatus to send when that changes it.
func (s *Session) endTxTimeZone(commit bool) [][2]string {
	st := s.tzTx
	if st == nil {
		return nil
	}
	s.tzTx = nil
	v := st.atBegin
	if commit {
		v = st.atCommit
	}
	if v.shown == s.settings["timezone"] && v.loc == s.loc {
		return nil
	}
	s.loc, s.settings["timezone"] = v.loc, v.shown
	return [][2]string{{"TimeZone", v.shown}}
}

func invalidTimeZone(value, detail string) error {
	return &pgerror.Error{Code: pgerror.InvalidParameterValue,
		Message: "invalid value for parameter \"TimeZone\": \"" + value + "\"", Detail: detail}
}

// timeZoneArg resolves SET TIME ZONE's argument: a string, a number, or an
// INTERVAL literal.
func timeZoneArg(args []*pg.Node) (*time.Location, string, error) {
	if len(args) != 1 {
		return nil, "", pgerror.New(pgerror.InvalidParameterValue, "SET TimeZone takes only one argument")
	}
	a := args[0]
	if tc := a.GetTypeCast(); tc != nil {
		c := tc.Arg.GetAConst()
		if c == nil || c.GetSval() == nil {
			return nil, "", pgerror.New(pgerror.InvalidParameterValue, "invalid value for parameter \"TimeZone\"")
		}
		lit := c.GetSval().Sval
		return intervalTimeZone(lit, typmodMask(tc.TypeName))
	}
	c := a.GetAConst()
	switch {
	case c == nil:
		return nil, "", pgerror.New(pgerror.InvalidParameterValue, "invalid value for parameter \"TimeZone\"")
	case c.GetIval() != nil:
		return hoursTimeZone(float64(c.GetIval().Ival))
	case c.GetFval() != nil:
		h, err := strconv.ParseFloat(c.GetFval().Fval, 64)
		if err != nil {
			return nil, "", invalidTimeZone(c.GetFval().Fval, "")
		}
		return hoursTimeZone(h)
	case c.GetSval() != nil:
		return parseTimeZoneValue(c.GetSval().Sval)
	}
	return nil, "", invalidTimeZone(a.String(), "")
}

// parseTimeZoneValue resolves a TimeZone given as a string (SET with a
// string, the startup parameter): a number is hours east of UTC, anything
// else a zone name or POSIX specification.
func parseTimeZoneValue(v string) (*time.Location, string, error) {
	if h, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && strings.TrimSpace(v) != "" {
		return hoursTimeZone(h)
	}
	if strings.HasPrefix(strings.ToLower(v), "interval") {
		lit := strings.Trim(strings.TrimSpace(v[len("interval"):]), "'")
		return intervalTimeZone(lit, 0)
	}
	loc, canonical, ok := types.LoadZone(v)
	if !ok {
		return nil, "", invalidTimeZone(v, "")
	}
	return loc, canonical, nil
}

// hoursTimeZone is the fixed zone h hours east of UTC.
func hoursTimeZone(h float64) (*time.Location, string, error) {
	if h < -15 || h > 15 {
		return nil, "", pgerror.New(pgerror.InvalidParameterValue, "invalid value for parameter \"TimeZone\": \"%s\"", strconv.FormatFloat(h, 'f', -1, 64))
	}
	return fixedTimeZone(int(h * 3600))
}

func fixedTimeZone(east int) (*time.Location, string, error) {
	if east == 0 {
		return time.UTC, types.FixedZoneName(0), nil
	}
	return time.FixedZone(string(types.AppendOffset(nil, east)), east), types.FixedZoneName(east), nil
}

// intervalTimeZone is SET TIME ZONE INTERVAL 'lit' [fields]: the zone
// east of UTC by the interval. mask is the interval typmod's field mask
// (0 for none); a bare number counts in its smallest field.
func intervalTimeZone(lit string, mask int32) (*time.Location, string, error) {
	value := "INTERVAL '" + lit + "'"
	var iv types.IntervalValue
	if n, err := strconv.ParseFloat(strings.TrimSpace(lit), 64); err == nil && mask != 0 {
		unit := 1e6
		switch {
		case mask&(1<<12) != 0:
		case mask&(1<<11) != 0:
			unit = 60e6
		case mask&(1<<10) != 0:
			unit = 3600e6
		default:
			return nil, "", invalidTimeZone(value, "Cannot specify days in time zone interval.")
		}
		iv.Micros = int64(n * unit)
	} else {
		var perr error
		if iv, perr = types.ParseInterval(lit); perr != nil {
			return nil, "", perr
		}
	}
	switch {
	case iv.Months != 0:
		return nil, "", invalidTimeZone(value, "Cannot specify months in time zone interval.")
	case iv.Days != 0:
		return nil, "", invalidTimeZone(value, "Cannot specify days in time zone interval.")
	}
	return fixedTimeZone(int(iv.Micros / 1e6))
}

// typmodMask is the field mask of an INTERVAL type name's typmod, 0 when
// it has none.
func typmodMask(tn *pg.TypeName) int32 {
	if tn == nil || len(tn.Typmods) == 0 {
		return 0
	}
	if c := tn.Typmods[0].GetAConst(); c != nil && c.GetIval() != nil {
		return c.GetIval().Ival
	}
	return 0
}

// matViewZoneCheck refuses a materialized view whose definition depends on
// the session's TimeZone when that zone is not UTC: views are evaluated in
// UTC (their contents must not depend on who reads them, nor change at a
// restart, which replays the definition in UTC), so such a view would
// silently compute something other than what its creator's session shows.
// zoneFolded reports constants folded with the session's zone.
func (s *Session) matViewZoneCheck(zoneFolded bool, exprs []expr.Expr) error {
	if s.loc == nil || s.loc == time.UTC {
		return nil
	}
	dep := zoneFolded
	for _, e := range exprs {
		if dep {
			break
		}
		dep = expr.DependsOnZone(e)
	}
	if !dep {
		return nil
	}
	return &pgerror.Error{Code: pgerror.FeatureNotSupported,
		Message: "materialized view definition depends on the session's TimeZone (\"" + s.settings["timezone"] + "\")",
		Detail:  "Materialized views are evaluated in UTC, so that their contents do not depend on the session that reads them.",
		Hint:    "Name the zone explicitly (ts AT TIME ZONE 'Europe/Berlin', date_trunc('day', ts, 'Europe/Berlin'), '2024-01-01 00:00+01'), or SET TimeZone = 'UTC'.",
	}
}
